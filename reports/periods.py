"""Report windows: which day, ISO week, month or intraday interval a moment belongs to.

Guarantees (kpi.md, "Report windows"):

* A window is a half-open UTC range ``[start_utc, end_utc)`` computed from the
  centre's local calendar: days start at 00:00 local time, weeks on Monday,
  months on the 1st. Across a DST change a day is 23 or 25 hours long and the
  UTC bounds say so; they are never a fixed 24 h apart.
* A call belongs to the window in which it *started*. `window_key_column`
  (vectorised, pandas) and `window_containing` (one instant) agree for every
  instant: the instant lies in ``[start_utc, end_utc)`` of its window.
* Intraday intervals (15 / 30 / 60 min) are cut on local wall-clock time but
  keyed by their UTC start, so the repeated hour of an autumn DST change
  gives two distinct intervals instead of merging them.

Only aware datetimes are accepted; a naive one raises ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:  # pandas loads with the first frame, not with the calendar
    import pandas as pd

__all__ = [
    "Granularity",
    "Interval",
    "Month",
    "ReportWindow",
    "Bucketing",
    "report_window",
    "interval_window",
    "window_containing",
    "window_key_column",
    "window_for_key",
]


class Granularity(StrEnum):
    """Calendar report periods."""

    DAY = "day"
    WEEK = "week"  # ISO week, Monday 00:00 local
    MONTH = "month"


@dataclass(frozen=True)
class Interval:
    """An intraday interval length for the wallboard / intraday view."""

    minutes: int

    def __post_init__(self) -> None:
        if self.minutes not in (15, 30, 60):
            raise ValueError(f"interval must be 15, 30 or 60 minutes, not {self.minutes}")


Bucketing = Granularity | Interval


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, e.g. ``Month(2024, 5)``; ``str()`` gives ``"2024-05"``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, not {self.month}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """Read ``"YYYY-MM"``."""
        try:
            year_text, month_text = text.strip().split("-")
            return cls(int(year_text), int(month_text))
        except ValueError as exc:
            raise ValueError(f"month must look like '2024-05', got {text!r}") from exc

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class ReportWindow:
    """One report window.

    JSON fields (`to_dict`): ``kind`` ("day" / "week" / "month" / "interval"),
    ``label`` ("2024-05-01", "2024-W18", "2024-05", or the local ISO start
    "2024-05-01T09:15:00+08:00" for an interval), ``time_zone``,
    ``start_utc`` and ``end_utc`` (ISO 8601, UTC, end exclusive).
    """

    kind: str
    label: str
    time_zone: str
    start_utc: datetime
    end_utc: datetime

    def contains(self, instant: datetime) -> bool:
        return self.start_utc <= _aware(instant) < self.end_utc

    def to_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "label": self.label,
            "time_zone": self.time_zone,
            "start_utc": self.start_utc.isoformat(),
            "end_utc": self.end_utc.isoformat(),
        }


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.tzinfo.utcoffset(instant) is None:
        raise ValueError(f"naive datetime {instant.isoformat()} refused: pass an aware UTC instant")
    return instant


def _local_midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    # A non-existent local midnight (clocks jump at 00:00) resolves, with fold=0,
    # to the instant the local day actually begins.
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _period_first_day(granularity: Granularity, day: date) -> date:
    if granularity is Granularity.DAY:
        return day
    if granularity is Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _label(granularity: Granularity, first: date) -> str:
    if granularity is Granularity.DAY:
        return first.isoformat()
    if granularity is Granularity.WEEK:
        iso = first.isocalendar()
        return f"{iso.year:04d}-W{iso.week:02d}"
    return str(Month.of(first))


def report_window(granularity: Granularity, day: date, tz: str | ZoneInfo) -> ReportWindow:
    """The day / ISO week / month containing the local calendar date ``day``."""
    zone = _zone(tz)
    first = _period_first_day(granularity, day)
    if granularity is Granularity.DAY:
        after = first + timedelta(days=1)
    elif granularity is Granularity.WEEK:
        after = first + timedelta(days=7)
    else:
        after = Month.of(first).next().first_day
    return ReportWindow(
        kind=str(granularity),
        label=_label(granularity, first),
        time_zone=zone.key,
        start_utc=_local_midnight_utc(first, zone),
        end_utc=_local_midnight_utc(after, zone),
    )


def interval_window(interval: Interval, start_utc: datetime, tz: str | ZoneInfo) -> ReportWindow:
    """The interval starting at ``start_utc`` (as produced by `window_key_column`)."""
    zone = _zone(tz)
    start = _aware(start_utc).astimezone(UTC)
    return ReportWindow(
        kind="interval",
        label=start.astimezone(zone).isoformat(),
        time_zone=zone.key,
        start_utc=start,
        end_utc=start + timedelta(minutes=interval.minutes),
    )


def window_containing(instant: datetime, bucketing: Bucketing, tz: str | ZoneInfo) -> ReportWindow:
    """The window a call that started at ``instant`` is reported in."""
    zone = _zone(tz)
    local = _aware(instant).astimezone(zone)
    if isinstance(bucketing, Interval):
        offset = local.utcoffset() or timedelta(0)
        wall = local.replace(tzinfo=None)
        floored = wall - timedelta(
            minutes=wall.minute % bucketing.minutes, seconds=wall.second, microseconds=wall.microsecond
        )
        start = (floored - offset).replace(tzinfo=UTC)
        return interval_window(bucketing, start, zone)
    return report_window(bucketing, local.date(), zone)


def _utc_series(started_at: pd.Series) -> pd.Series:
    import pandas as pd

    if not isinstance(started_at.dtype, pd.DatetimeTZDtype):
        raise ValueError("started_at must be a timezone-aware (UTC) datetime column")
    return started_at.dt.tz_convert("UTC")


def window_key_column(started_at: pd.Series, bucketing: Bucketing, tz: str | ZoneInfo) -> pd.Series:
    """Vectorised window key for each start instant.

    Calendar periods: the naive local date-time (00:00) of the period's first
    day. Intervals: the aware UTC start of the interval. Turn a key into a
    window with `window_for_key`.
    """
    zone = _zone(tz)
    utc = _utc_series(started_at)
    local = utc.dt.tz_convert(zone.key).dt.tz_localize(None)
    if isinstance(bucketing, Interval):
        offset = local - utc.dt.tz_localize(None)
        floored = local.dt.floor(f"{bucketing.minutes}min")
        return (floored - offset).dt.tz_localize("UTC")
    day = local.dt.normalize()
    import pandas as pd

    if bucketing is Granularity.DAY:
        return day
    if bucketing is Granularity.WEEK:
        return day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    return day - pd.to_timedelta(day.dt.day - 1, unit="D")


def window_for_key(key: pd.Timestamp, bucketing: Bucketing, tz: str | ZoneInfo) -> ReportWindow:
    """The window for one key produced by `window_key_column`."""
    if isinstance(bucketing, Interval):
        return interval_window(bucketing, key.to_pydatetime(), tz)
    return report_window(bucketing, key.date(), tz)
