"""When a customer may be phoned, in the customer's own time zone.

Rule 1: a call window is a half-open local interval [start, end) on the
allowed weekdays; 09:00-20:00 every day by default, configurable per campaign.

Rule 2: quiet hours (21:00-08:00 by default) can never be overridden: a window
that overlaps them is refused with `InvalidCallWindow` when it is built
against the quiet hours (`CallWindow.checked`, and every function here).

Rule 3: `next_allowed_time` returns `now` when callable, else the first
instant the window opens again; the answer is always callable. Local times
are turned into UTC with `zoneinfo`, so DST days are right: a window start in
a spring-forward gap opens when the clock jumps, a start in a fall-back
overlap opens at its first occurrence.

Rule 5: a customer's time zone is an IANA name (`is_iana_zone`), never a file
path, "localtime" or a POSIX rule string.

Rule 4 (IVR-chosen windows, configurable hours): "today" runs from now (not
before the day start) to 20:00 and is refused once that is past; "tomorrow
morning" is 09:00-12:00 and "tomorrow afternoon" 14:00-18:00 the next day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from zoneinfo import available_timezones

from crm.enums import CallbackWindow
from crm.errors import InvalidCallWindow, WindowUnavailable, aware_utc

ALL_WEEKDAYS: frozenset[int] = frozenset(range(7))  # Monday = 0


@cache
def _iana_zones() -> frozenset[str]:
    # a system zoneinfo folder also holds "localtime" / "posixrules" (links, not zone names)
    return frozenset(available_timezones()) - {"localtime", "posixrules", "Factory"}


def is_iana_zone(name: str) -> bool:
    return name in _iana_zones()


_DAY = 24 * 3600 * 1_000_000


def _micros(t: time) -> int:
    """Microseconds since local midnight."""
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local hours in which nobody is phoned; may wrap midnight (21:00-08:00)."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise InvalidCallWindow("quiet hours cannot start and end at the same time")

    def covers(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True, slots=True)
class CallWindow:
    """Local hours [start, end) on `weekdays` (0 = Monday) in which calls may be made."""

    start: time = time(9, 0)
    end: time = time(20, 0)
    weekdays: frozenset[int] = ALL_WEEKDAYS

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise InvalidCallWindow("call window times are local wall-clock times: no tzinfo")
        if not self.start < self.end:
            raise InvalidCallWindow(
                f"call window {self.start:%H:%M}-{self.end:%H:%M} is empty: "
                "start must be before end (windows do not wrap midnight)"
            )
        if not self.weekdays or not self.weekdays <= ALL_WEEKDAYS:
            raise InvalidCallWindow("weekdays must be a non-empty set of 0 (Monday) .. 6")

    def checked(self, quiet: QuietHours | None = None) -> CallWindow:
        """Return self, or raise `InvalidCallWindow` if it overlaps the quiet hours."""
        quiet = quiet or QuietHours()
        if _overlaps_quiet(self.start, self.end, quiet):
            raise InvalidCallWindow(
                f"call window {self.start:%H:%M}-{self.end:%H:%M} overlaps the quiet hours "
                f"{quiet.start:%H:%M}-{quiet.end:%H:%M}, which no campaign can override: "
                "shorten the window"
            )
        return self

    def contains(self, local: datetime) -> bool:
        return local.weekday() in self.weekdays and self.start <= local.time() < self.end


def _overlaps_quiet(start: time, end: time, quiet: QuietHours) -> bool:
    """True when [start, end) shares any instant with the quiet hours."""
    lo, hi = _micros(start), _micros(end)
    q_lo, q_hi = _micros(quiet.start), _micros(quiet.end)
    quiet_spans = [(q_lo, q_hi)] if q_lo < q_hi else [(q_lo, _DAY), (0, q_hi)]
    return any(lo < span_hi and span_lo < hi for span_lo, span_hi in quiet_spans)


DEFAULT_WINDOW = CallWindow()
DEFAULT_QUIET = QuietHours()


def is_callable(
    now_utc: datetime,
    tz: tzinfo,
    window: CallWindow = DEFAULT_WINDOW,
    quiet: QuietHours = DEFAULT_QUIET,
) -> bool:
    """True when `now_utc` falls inside the window in the customer's zone `tz`."""
    window.checked(quiet)
    local = aware_utc(now_utc, "now").astimezone(tz)
    return window.contains(local) and not quiet.covers(local.time())


def next_allowed_time(
    now_utc: datetime,
    tz: tzinfo,
    window: CallWindow = DEFAULT_WINDOW,
    quiet: QuietHours = DEFAULT_QUIET,
) -> datetime:
    """`now_utc` if callable, else the UTC instant the window next opens."""
    window.checked(quiet)
    now = aware_utc(now_utc, "now")
    if is_callable(now, tz, window, quiet):
        return now
    today = now.astimezone(tz).date()
    for offset in range(0, 9):
        day = today + timedelta(days=offset)
        if day.weekday() not in window.weekdays:
            continue
        opens = local_to_utc(day, window.start, tz)
        closes = local_to_utc(day, window.end, tz)
        if opens >= closes:  # the whole window fell into a DST gap
            continue
        if now < opens:
            return opens
    raise AssertionError("unreachable: a valid window opens within a week")  # pragma: no cover


def local_to_utc(day: date, wall: time, tz: tzinfo) -> datetime:
    """The first UTC instant at which the local clock in `tz` shows `day` `wall` or later.

    Ambiguous times (fall back) give the first occurrence; times skipped by a
    spring-forward gap give the instant the clock jumps.
    """
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
        return min(first, second)
    # Nonexistent local time: the clock jumps over it. Offset changes happen on
    # whole seconds, so bisect over whole seconds for the first instant showing
    # `naive` or later.
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo = math.floor(min(first, second).timestamp())  # shows a time before `naive`
    hi = math.ceil(max(first, second).timestamp())  # shows a time after it
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(tz).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


@dataclass(frozen=True, slots=True)
class RequestedWindowHours:
    """Local hours behind each IVR callback choice."""

    day_start: time = time(9, 0)
    today_end: time = time(20, 0)
    morning: tuple[time, time] = (time(9, 0), time(12, 0))
    afternoon: tuple[time, time] = (time(14, 0), time(18, 0))
    quiet: QuietHours = field(default_factory=QuietHours)

    def __post_init__(self) -> None:
        for start, end in ((self.day_start, self.today_end), self.morning, self.afternoon):
            CallWindow(start, end).checked(self.quiet)


def offered_windows(
    now_utc: datetime, tz: tzinfo, hours: RequestedWindowHours | None = None
) -> list[CallbackWindow]:
    """The choices the IVR may offer now ("today" only while it can still be kept)."""
    hours = hours or RequestedWindowHours()
    choices = [CallbackWindow.TOMORROW_MORNING, CallbackWindow.TOMORROW_AFTERNOON]
    now = aware_utc(now_utc, "now")
    if now < local_to_utc(now.astimezone(tz).date(), hours.today_end, tz):
        choices.insert(0, CallbackWindow.TODAY)
    return choices


def requested_window(
    choice: CallbackWindow,
    local_now: datetime,
    tz: tzinfo,
    hours: RequestedWindowHours | None = None,
) -> tuple[datetime, datetime]:
    """(earliest, deadline) in UTC for what the caller chose on the IVR.

    `local_now` may carry any zone; the calendar day is read in `tz`.
    """
    hours = hours or RequestedWindowHours()
    now = aware_utc(local_now, "local_now")
    today = now.astimezone(tz).date()
    tomorrow = today + timedelta(days=1)
    choice = CallbackWindow(choice)
    if choice is CallbackWindow.TODAY:
        deadline = local_to_utc(today, hours.today_end, tz)
        if now >= deadline:
            raise WindowUnavailable(
                f"it is past {hours.today_end:%H:%M} here: offer tomorrow morning "
                "or tomorrow afternoon instead"
            )
        return max(now, local_to_utc(today, hours.day_start, tz)), deadline
    start, end = hours.morning if choice is CallbackWindow.TOMORROW_MORNING else hours.afternoon
    return local_to_utc(tomorrow, start, tz), local_to_utc(tomorrow, end, tz)
