"""The scheduled reports: which periods are due at a moment, and the job-loop job making them.

Rules (centre's local time, ``report_daily_at`` = T, ``report_monthly_day`` = D):
- daily: once T has passed today, yesterday's report is due (before T, the
  day before yesterday's);
- weekly: once Monday T has passed, the previous ISO week's report is due;
- monthly: once day D at T has passed, the previous month's 月客户满意度回访表
  (``monthly``) and supervision score (``supervision``) are due, and the
  supervision figures are published as that month's first version
  (`publication.publish_scheduled`; a month already published stays as it is).
Only the latest due period of each kind is made, and only when no
``report_runs`` row exists for it (`runs.run_report(scheduled=True)` claims
the row, so two processes never both make it). A service that was down
catches up with the latest period when it comes back; older periods can be
made by hand (`callcenter report ...`).
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from callcenter.reporting import runs
from callcenter.reporting.config import formats
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from reports.periods import Month

__all__ = ["due_reports", "make_due_reports", "JOB_NAME"]

log = logging.getLogger(__name__)
JOB_NAME = "scheduled-reports"


def _at(settings: Settings) -> time:
    try:
        return time.fromisoformat(settings.report_daily_at.strip())
    except ValueError as exc:
        raise ValueError(f"REPORT_DAILY_AT must look like 07:30, got {settings.report_daily_at!r}") from exc


def due_reports(now: datetime, settings: Settings) -> list[tuple[str, str]]:
    """(kind, period) of the latest due period of every scheduled kind at ``now``."""
    local = now.astimezone(settings.zone)
    at = _at(settings)
    today = local.date()
    passed_today = local.time() >= at
    day = today - timedelta(days=1 if passed_today else 2)
    monday = today - timedelta(days=today.weekday())
    if monday == today and not passed_today:
        monday -= timedelta(days=7)
    week = (monday - timedelta(days=7)).isocalendar()
    this_month = Month.of(today)
    reached = (today.day, local.time()) >= (settings.report_monthly_day, at)
    month = this_month.previous() if reached else this_month.previous().previous()
    return [("daily", day.isoformat()), ("weekly", f"{week.year:04d}-W{week.week:02d}"),
            ("monthly", str(month)), ("supervision", str(month))]


async def make_due_reports(db: Database, settings: Settings, now: datetime,
                           holder: str = "job-loop") -> list[tuple[str, str]]:
    """Make every due report no process has made yet; returns those this call made."""
    made: list[tuple[str, str]] = []
    failed: list[str] = []
    kinds = formats(settings.report_formats)
    for kind, period in due_reports(now, settings):
        try:
            run = await runs.run_report(db, settings, kind, period, now=now, generated_by=holder,
                                        formats=kinds, scheduled=True)
        except Exception:  # recorded as failed and logged by run_report; try the other kinds
            failed.append(f"{kind} {period}")
            continue
        if run is not None:
            log.info("scheduled %s report for %s written: %s", kind, period, ", ".join(run.files))
            made.append((kind, period))
        if kind == "supervision":  # the monthly run publishes the month (once; frozen after)
            try:
                from callcenter.reporting import publication  # pandas: loaded when due

                await publication.publish_scheduled(db, settings, Month.parse(period), now, holder)
            except Exception:
                log.exception("publishing the supervision figures of %s failed; retried", period)
                failed.append(f"publish {period}")
    if failed:
        raise RuntimeError(f"scheduled reports failed (retried next pass): {', '.join(failed)}")
    return made
