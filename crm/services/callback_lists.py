"""Callbacks made in bulk: survey verification samples (001) and campaign lists.

Guarantees:
- `schedule_survey_verifications(month)` picks, per department and month, the
  sample of `crm.callbacks.verification_sample` among the month's surveys
  still pending verification (never the first-hand IVR ones), seeded by the
  month so a re-run picks the same surveys; one callback per survey (unique
  key), deadline 7 days after sampling.
- `parse_campaign_csv` checks every row before anything is written and
  reports every bad line; `upload_campaign` writes the campaign and one
  callback per distinct number (re-uploading the same list adds nothing).
  Numbers on the do-not-call list are stored and cancelled, never dialled.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from crm.call_windows import CallWindow, local_to_utc, next_allowed_time
from crm.callbacks import (
    CallbackDeadlines,
    SurveyForSampling,
    deadline_for,
    priority_for,
    verification_sample,
)
from crm.enums import CallbackKind, SurveySource
from crm.errors import InvalidCallWindow, InvalidPhoneNumber
from crm.phones import normalize_phone
from crm.records import BadRow
from crm.services.callback_ports import NewCallback
from crm.services.callbacks import CallbackDefaults, CannotSchedule, _create

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

Clock = Callable[[], datetime]


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """'2026-05' -> [first instant, first instant of next month) in UTC, in zone `tz`."""
    year, mon = (int(p) for p in month.split("-"))
    start = date(year, mon, 1)
    end = date(year + (mon == 12), mon % 12 + 1, 1)
    return local_to_utc(start, time(0), tz), local_to_utc(end, time(0), tz)


async def schedule_survey_verifications(
    month: str, uow: UnitOfWork, clock: Clock, centre_tz: str = "Asia/Shanghai",
    percentage: float = 10, minimum: int = 3, deadlines: CallbackDeadlines | None = None,
    defaults: CallbackDefaults | None = None,
) -> list[int]:
    """Verification callbacks for `month`'s sample; returns the sampled survey ids."""
    now = clock()
    defaults = defaults or CallbackDefaults()
    start, end = month_bounds(month, ZoneInfo(centre_tz))
    async with uow:
        repo = uow.callbacks
        surveys = await repo.surveys_to_sample(start, end)
        candidates = [SurveyForSampling(s.survey_id, s.department_id or 0, month,
                                        SurveySource(s.source)) for s in surveys]
        picked = verification_sample(candidates, percentage, minimum, seed=month)
        by_id = {s.survey_id: s for s in surveys}
        kind = CallbackKind.SURVEY_VERIFICATION
        for choice in picked:
            survey = by_id[choice.survey_id]
            if survey.customer_id is None:
                continue  # nobody to call: stays pending, listed by the reports
            contact = await repo.customer_contact(survey.customer_id)
            if contact is None or contact.phone is None:
                continue
            await _create(repo, NewCallback(
                source_key=f"survey-verification:{survey.survey_id}", kind=kind,
                phone=contact.phone, timezone=contact.timezone, priority=priority_for(kind),
                due_at=now, deadline_at=deadline_for(kind, now, deadlines),
                next_attempt_at=next_allowed_time(now, ZoneInfo(contact.timezone),
                                                  defaults.window),
                customer_id=contact.customer_id, survey_id=survey.survey_id,
                **defaults.as_new(),
            ), contact.do_not_call, now)
        await uow.commit()
    return [c.survey_id for c in picked]


# --- campaigns ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignRow:
    line: int
    phone: str
    customer_reference: str | None
    name: str


@dataclass
class ParsedCampaign:
    rows: list[CampaignRow] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)


def parse_window(text: str) -> CallWindow:
    """'09:00-20:00' -> a call window, refused if it overlaps the quiet hours."""
    try:
        start, end = (time.fromisoformat(p.strip()) for p in text.split("-"))
    except ValueError as exc:
        raise InvalidCallWindow(f"window must look like 09:00-20:00, got {text!r}") from exc
    return CallWindow(start, end).checked()


def parse_campaign_csv(text: str, default_region: str = "CN") -> ParsedCampaign:
    """Columns: phone (required), customer_reference (optional), name (optional)."""
    parsed = ParsedCampaign()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None or "phone" not in [f.strip() for f in reader.fieldnames]:
        parsed.bad.append(BadRow(1, ["header must name a 'phone' column"]))
        return parsed
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        try:
            phone = normalize_phone(row.get("phone", ""), default_region)
        except InvalidPhoneNumber as exc:
            parsed.bad.append(BadRow(line, [f"phone: {exc}"]))
            continue
        if phone in seen:
            continue
        seen.add(phone)
        parsed.rows.append(CampaignRow(line, phone, row.get("customer_reference") or None,
                                       row.get("name", "")))
    return parsed


async def upload_campaign(
    name: str, flow: str, window: CallWindow, rows: list[CampaignRow], uow: UnitOfWork,
    clock: Clock, default_tz: str = "Asia/Shanghai", max_concurrent: int = 5,
    deadline: datetime | None = None,
) -> tuple[int, int]:
    """The campaign and its callbacks; returns (campaign id, callbacks created or found)."""
    if not name.strip() or not flow.strip():
        raise CannotSchedule("a campaign needs a name and a flow")
    if max_concurrent < 1:
        raise CannotSchedule("max_concurrent must be at least 1")
    now = clock()
    kind = CallbackKind.CAMPAIGN
    async with uow:
        repo = uow.callbacks
        campaign = await repo.add_campaign(name.strip(), flow.strip(), f"{window.start:%H:%M}",
                                           f"{window.end:%H:%M}", max_concurrent)
        for row in rows:
            contact = (await repo.customer_by_reference(row.customer_reference)
                       if row.customer_reference else None)
            tz = contact.timezone if contact else default_tz
            await _create(repo, NewCallback(
                source_key=f"campaign:{campaign.id}:{row.phone}", kind=kind, phone=row.phone,
                timezone=tz, priority=priority_for(kind), due_at=now, deadline_at=deadline,
                next_attempt_at=next_allowed_time(now, ZoneInfo(tz), window),
                window_start=campaign.window_start, window_end=campaign.window_end,
                customer_id=contact.customer_id if contact else None, campaign_id=campaign.id,
                data={"flow": campaign.flow, "name": row.name},
            ), bool(contact and contact.do_not_call), now)
        await uow.commit()
    return campaign.id, len(rows)
