"""Published supervision figures are frozen: versions, publishing and corrections.

Guarantees:
- `make_version(month)` computes the month's supervision figures; when they,
  or the surveys behind them, differ from the month's latest version it
  stores the next version as a draft, with its diff against the published
  version (`reports.versions`: each moved figure, each survey with its
  reason: late survey, verification, correction); otherwise it returns the
  latest version unchanged. Rerunning never changes a stored version.
- `publish(month, actor)` needs a supervisor from outside the scored
  departments (`crm.access.publish_refusal`) -- checked here, in the use
  case, before anything is written; a refusal is stored in
  ``access_refusals`` and raised -- or the schedule (the run on
  ``REPORT_MONTHLY_DAY``). Only the month's latest version can be published;
  publishing without a version number publishes the current figures. A
  published version is never changed (database triggers refuse it).
- Publishing the current figures first draws every sampling period that has
  ended, so the month's last week is drawn before its figures are frozen.
- The previous month's average of a supervision report is read from that
  month's published version (`builders.supervision`), never recomputed.
- `correct_published_months()` puts a survey that changed after its month
  was published (arrived late, verified, disputed, corrected) into a
  correction: a new draft version of *that* month, never another month's
  figures; a supervisor publishes it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from callcenter.callbacks import config as callback_config
from callcenter.reporting import builders, loaders, versions
from callcenter.reporting.samples import scored_in
from callcenter.reporting.versions import StoredVersion
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Survey, SurveyAudit
from callcenter.storage.uow import SqlUnitOfWork
from crm.access import publish_refusal
from crm.identity import Identity
from crm.services.refusals import refuse
from crm.services.verification_samples import draw_verification_samples
from reports.periods import Granularity, Month, report_window
from reports.versions import version_diff

__all__ = ["SCHEDULE", "Schedule", "VersionConflict", "make_version", "publish",
           "publish_scheduled", "correct_published_months", "survey_changes"]

log = logging.getLogger(__name__)
SHOWN = 500  # surveys listed in one diff (the reasons count them all)


class VersionConflict(RuntimeError):
    http_status = 409


@dataclass(frozen=True)
class Schedule:
    """The scheduled run on the monthly report day, publishing as the system."""

    holder: str = "job-loop"

    @property
    def label(self) -> str:
        return f"schedule:{self.holder}"


SCHEDULE = Schedule()


async def _publisher(db: Database, actor: Identity | Schedule, period: str, now: datetime) -> str:
    """Who publishes; a refused supervisor's attempt is stored, then `PermissionDenied`."""
    if isinstance(actor, Schedule):
        return actor.label
    async with SqlUnitOfWork(db) as uow:
        scope = await uow.complaints.department_scope(await loaders.service_departments(db))
    reason = publish_refusal(actor, scope)
    if reason is not None:
        async with SqlUnitOfWork(db) as uow:
            await refuse(uow, actor, "report.publish", f"supervision:{period}", reason, now)
    return actor.label


def _plain(data: Any) -> Any:
    """The JSON form of ``data``, as a stored version reads back."""
    return json.loads(json.dumps(data, ensure_ascii=False, default=str))


def _window(settings: Settings, month: Month) -> tuple[datetime, datetime]:
    window = report_window(Granularity.MONTH, month.first_day, settings.timezone)
    return window.start_utc, window.end_utc


async def _marks(db: Database) -> dict[str, int]:
    """The newest survey and survey-audit ids now: what a version has seen."""
    async with db.sessions() as session:
        survey = await session.scalar(select(func.max(Survey.id)))
        audit = await session.scalar(select(func.max(SurveyAudit.id)))
    return {"max_survey_id": int(survey or 0), "max_audit_id": int(audit or 0)}


def _audit_reason(action: str) -> str:
    if action == "corrected":
        return "correction"
    if "verif" in action or "disput" in action:
        return "verification"
    return action


def _grades(t: str | None, q: str | None, a: str | None) -> str:
    return f"{t or '-'}{q or '-'}{a or '-'}"


async def survey_changes(db: Database, settings: Settings, month: Month,
                         seen: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The month's surveys that arrived or changed after a version saw ``seen`` (its
    marks): at most `SHOWN` entries, and the count per reason (all of them)."""
    start, end = _window(settings, month)
    after_survey, after_audit = int(seen.get("max_survey_id", 0)), int(seen.get("max_audit_id", 0))
    late = Survey.id > after_survey
    async with db.sessions() as session:
        late_count = await session.scalar(scored_in(
            select(func.count(Survey.id)).where(late), start, end))
        late_rows = (await session.execute(scored_in(
            select(Survey.id, Survey.department_id, Survey.verification, Survey.timeliness,
                   Survey.quality, Survey.attitude).where(late), start, end)
            .order_by(Survey.id).limit(SHOWN))).all()
        audits = (await session.execute(scored_in(
            select(SurveyAudit.survey_id, SurveyAudit.action, SurveyAudit.before,
                   SurveyAudit.after)
            .join(Survey, Survey.id == SurveyAudit.survey_id)
            .where(SurveyAudit.id > after_audit, ~late, SurveyAudit.action != "created"),
            start, end).order_by(SurveyAudit.id))).all()
    changes = [{"survey_id": i, "reason": "late survey", "before": None,
                "after": {"department_id": d, "verification": v, "grades": _grades(t, q, a)}}
               for i, d, v, t, q, a in late_rows]
    reasons = Counter({"late survey": int(late_count or 0)} if late_count else {})
    merged: dict[int, dict[str, Any]] = {}
    for survey_id, action, before, after in audits:
        entry = merged.setdefault(survey_id, {"survey_id": survey_id, "reasons": [],
                                              "before": before, "after": after})
        entry["after"] = after
        if _audit_reason(action) not in entry["reasons"]:
            entry["reasons"].append(_audit_reason(action))
    for entry in merged.values():
        reason = ", ".join(entry.pop("reasons"))
        reasons[reason] += 1
        if len(changes) < SHOWN:
            changes.append({**entry, "reason": reason})
    return changes, dict(sorted(reasons.items()))


def _reason(diff: dict[str, Any], by: str, first: bool) -> str:
    if first:
        return f"first version ({by})"
    reasons = ", ".join(f"{n} {r}" for r, n in diff["reasons"].items())
    what = "correction" if by.startswith("schedule:") else f"rerun by {by}"
    return f"{what}: " + (reasons or "figures changed (rules or previous month)")


async def make_version(db: Database, settings: Settings, month: Month, now: datetime, by: str,
                       reason: str | None = None, payload: dict[str, Any] | None = None,
                       ) -> tuple[StoredVersion, bool]:
    """The month's current figures as a version: (version, True when stored now).

    ``payload``: the month's supervision report (scope all) when the caller just built it."""
    period = str(month)
    for _ in range(3):  # another process may store the same number first: compare again
        marks = await _marks(db)  # before the figures: nothing they include is later "late"
        if payload is None or payload.get("scope") != "all":
            payload = await builders.supervision(db, settings, month)
        payload = _plain(payload)
        latest = await versions.latest_version(db, period)
        if latest is not None and latest.figures.get("supervision") == payload["supervision"]:
            return latest, False
        published = await versions.published_version(db, period)
        changes, counts = ([], {}) if published is None else await survey_changes(
            db, settings, month, published.surveys)
        diff = version_diff(None if published is None else published.version,
                            None if published is None else published.figures.get("supervision"),
                            payload["supervision"], changes, counts)
        stored = await versions.add_version(db, period, {
            "made_at": now, "made_by": by, "figures": payload, "surveys": marks,
            "diff": None if published is None else diff,
            "reason": reason or _reason(diff, by, latest is None)})
        if stored is not None:
            log.info("supervision %s: version %d made (%s)", period, stored.version, stored.reason)
            return stored, True
        payload = None
    raise VersionConflict(f"could not store a new version of {period}; try again")


async def publish(db: Database, settings: Settings, month: Month, actor: Identity | Schedule,
                  now: datetime, version: int | None = None) -> StoredVersion:
    """Publish version ``version`` of the month (default: its current figures)."""
    period = str(month)
    by = await _publisher(db, actor, period, now)
    if version is None:
        await _close_sampling(db, settings, now)
        made, _ = await make_version(db, settings, month, now, by)
        version = made.version
    latest = await versions.latest_version(db, period)
    if latest is None or latest.version != version:
        have = "no version" if latest is None else f"latest is version {latest.version}"
        raise VersionConflict(f"only the latest version of {period} can be published ({have}); "
                              "rerun to see the current figures")
    if latest.published_at is None and await versions.mark_published(db, period, version, now, by):
        log.info("supervision %s: version %d published by %s", period, version, by)
    published = await versions.published_version(db, period)
    assert published is not None
    return published


async def _close_sampling(db: Database, settings: Settings, now: datetime) -> None:
    """Draw every sampling period that has ended (the month's last one included) before its
    figures are frozen, so "never drawn" means the draw passed it by (`crm.sampling`)."""
    await draw_verification_samples(SqlUnitOfWork(db), lambda: now, settings.timezone,
                                    **callback_config.verification_sample(settings))


async def publish_scheduled(db: Database, settings: Settings, month: Month, now: datetime,
                            holder: str) -> StoredVersion | None:
    """The monthly run publishes the month once; a month already published is left alone."""
    if await versions.published_version(db, str(month)) is not None:
        return None
    return await publish(db, settings, month, Schedule(holder), now)


#: per database and month, the marks of the last corrections check whose changes left the
#: figures as they were (a verification of a superseded survey): not rebuilt again for them
_CHECKED: dict[tuple[int, str], dict[str, Any]] = {}


async def correct_published_months(db: Database, settings: Settings, now: datetime,
                                   holder: str) -> list[StoredVersion]:
    """A correction draft for each published month whose surveys changed since its latest version."""
    made = []
    for period in await versions.published_periods(db):
        month = Month.parse(period)
        latest = await versions.latest_version(db, period)
        assert latest is not None
        seen = _CHECKED.get((id(db), period))
        if seen is None or seen.get("made_at") != latest.made_at.isoformat():
            seen = latest.surveys
        marks = await _marks(db)
        changes, _ = await survey_changes(db, settings, month, seen)
        if not changes:
            continue
        version, new = await make_version(db, settings, month, now, f"schedule:{holder}")
        if new:
            made.append(version)
        else:  # nothing the figures show: remember, so the next pass skips these changes
            _CHECKED[(id(db), period)] = {**marks, "made_at": version.made_at.isoformat()}
    return made
