"""Build the complaint policy (`crm.services.complaints.ComplaintPolicy`) from `Settings`.

Every entrypoint that opens or progresses complaints (IVR, agent page, web
form, callbacks, spool import, job loop) calls `complaint_policy(settings)`,
so they all apply the same time limits, thresholds, keywords and routing.
A malformed routing setting is refused with a message naming the setting.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from callcenter.settings import Settings
from crm.complaint_rules import ComplaintTimePolicy, TimeLimits
from crm.enums import ComplaintCategory, Severity
from crm.major import DEFAULT_DISRESPECT_KEYWORDS, DEFAULT_MEDIA_KEYWORDS, MajorPolicy
from crm.services.callback_problems import CallbackProblemPolicy
from crm.services.complaints import ComplaintPolicy


def parse_category_departments(text: str) -> dict[ComplaintCategory, str]:
    """'billing=FIN, attitude=SVC' -> {BILLING: 'FIN', ATTITUDE: 'SVC'}."""
    mapping: dict[ComplaintCategory, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        category, sep, code = (part.strip() for part in pair.partition("="))
        if not sep or not code or category not in ComplaintCategory._value2member_map_:
            raise ValueError(
                f"COMPLAINT_CATEGORY_DEPARTMENTS: {pair!r} must be <category>=<department code>, "
                f"category one of {', '.join(ComplaintCategory)}"
            )
        mapping[ComplaintCategory(category)] = code
    return mapping


def complaint_policy(settings: Settings) -> ComplaintPolicy:
    s = settings
    keywords = tuple(k.strip() for k in s.complaint_media_keywords.split(",") if k.strip())
    rude = tuple(k.strip() for k in s.complaint_disrespect_keywords.split(",") if k.strip())
    return ComplaintPolicy(
        major=MajorPolicy(
            compensation_threshold=Decimal(str(s.complaint_compensation_threshold)),
            repeat_window=timedelta(days=s.complaint_repeat_window_days),
            media_keywords=keywords or DEFAULT_MEDIA_KEYWORDS,
            max_handovers=s.complaint_max_handovers,
            disrespect_keywords=rude or DEFAULT_DISRESPECT_KEYWORDS,
            group_min_customers=s.complaint_group_min_customers,
            group_window=timedelta(hours=s.complaint_group_window_hours),
        ),
        time=ComplaintTimePolicy(
            {
                Severity.MAJOR: TimeLimits(
                    respond=timedelta(hours=s.complaint_major_respond_hours),
                    resolve=timedelta(hours=s.complaint_major_resolve_hours),
                    escalation_step=timedelta(hours=s.complaint_major_step_hours),
                ),
                Severity.ORDINARY: TimeLimits(
                    respond=timedelta(hours=s.complaint_ordinary_respond_hours),
                    resolve=timedelta(hours=s.complaint_ordinary_resolve_hours),
                    escalation_step=timedelta(hours=s.complaint_ordinary_step_hours),
                ),
            }
        ),
        category_departments=parse_category_departments(s.complaint_category_departments),
        default_department=s.complaint_default_department.strip() or None,
        zone=s.timezone,
        job_window=timedelta(days=s.complaint_job_window_days),
    )


def callback_problem_policy(settings: Settings) -> CallbackProblemPolicy:
    """Where complaints found on post-repair callbacks go (seed 000 §3.2: to after-sales)."""
    return CallbackProblemPolicy(
        complaint=complaint_policy(settings),
        department_code=settings.callback_problem_department.strip() or None,
    )
