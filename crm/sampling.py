"""When the supervision department draws its verification sample (000: 定期(如每周); 001: 抽查).

Rule 1 (periods): surveys are grouped by when they reached us (the survey
row's creation), in periods of the cadence -- a day, an ISO week (Monday to
Sunday) or a month -- in the centre's time zone, cut at month ends, so a
month always ends with the end of one of its periods and its last period is
drawn as soon as the month is over.

Rule 2 (once): a period is drawn once, after it has ended. The draw takes,
per department, max(ceil(pct % of n), min(minimum, n)) of the period's
surveys awaiting verification (`crm.callbacks.verification_sample`, seeded
by the period). A drawn survey stays drawn; drawing a period again returns
the stored draw and never grows it. A survey that arrives after its period
was drawn belongs to the period it arrived in, so holding forms back never
escapes the draw.

Rule 3 (month close): a survey still awaiting verification that was never
drawn is counted or excluded by `UnsampledRule`. Default: excluded, since
001 scores the forms "在监察部门将反馈表核实的基础上" (on the basis of the
forms supervision has checked); ``count`` treats the draw as a spot check
and counts the forms it did not reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from crm.call_windows import local_to_utc
from crm.enums import SurveySource, SurveyVerification

__all__ = ["Cadence", "SamplePeriod", "UnsampledRule", "awaits_verification", "period_of",
           "ended_periods"]

#: sources where the customer keyed the grades in themselves
_CUSTOMER_KEYED = frozenset({SurveySource.IVR, SurveySource.CALLBACK})


class Cadence(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class UnsampledRule(StrEnum):
    COUNT = "count"
    EXCLUDE = "exclude"


@dataclass(frozen=True, slots=True)
class SamplePeriod:
    """Local dates ``first..last`` (inclusive) and their UTC instants ``[start, end)``."""

    cadence: Cadence
    first: date
    last: date
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        return f"{self.cadence}:{self.first.isoformat()}..{self.last.isoformat()}"


def _month_end(day: date) -> date:
    following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def period_of(day: date, cadence: Cadence | str, tz: ZoneInfo) -> SamplePeriod:
    """The period holding the local date ``day``."""
    cadence = Cadence(cadence)
    if cadence is Cadence.DAY:
        first, last = day, day
    elif cadence is Cadence.WEEK:
        monday = day - timedelta(days=day.weekday())
        first = max(monday, day.replace(day=1))
        last = min(monday + timedelta(days=6), _month_end(day))
    else:
        first, last = day.replace(day=1), _month_end(day)
    return SamplePeriod(cadence, first, last, local_to_utc(first, time(0), tz),
                        local_to_utc(last + timedelta(days=1), time(0), tz))


def ended_periods(now: datetime, cadence: Cadence | str, tz: ZoneInfo,
                  lookback: timedelta) -> list[SamplePeriod]:
    """Every period that has ended by ``now`` and reaches into ``[now - lookback, now)``,
    oldest first."""
    today = now.astimezone(tz).date()
    day = (now - lookback).astimezone(tz).date()
    periods: list[SamplePeriod] = []
    while day <= today:
        period = period_of(day, cadence, tz)
        if period.end <= now:
            periods.append(period)
        day = period.last + timedelta(days=1)
    return periods


def awaits_verification(source: SurveySource | str, verification: SurveyVerification | str,
                        complete: bool) -> bool:
    """A complete survey that counts only once supervision has checked it."""
    if not complete:
        return False
    state = SurveyVerification(verification)
    if state is SurveyVerification.PENDING:
        return True
    # a first-hand mark on a form keyed in by staff is not credible (reports.survey_tally)
    return state is SurveyVerification.FIRST_HAND and SurveySource(source) not in _CUSTOMER_KEYED
