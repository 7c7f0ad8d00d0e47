"""Call windows in the customer's zone, quiet hours, DST, IVR-chosen windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.call_windows import (
    CallWindow,
    QuietHours,
    RequestedWindowHours,
    is_callable,
    local_to_utc,
    next_allowed_time,
    offered_windows,
    requested_window,
)
from crm.enums import CallbackWindow
from crm.errors import InvalidCallWindow, NaiveDatetime, WindowUnavailable

NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
UNTIL_21 = CallWindow(time(9, 0), time(21, 0))


def ny(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A New York wall-clock time, as the UTC instant the rules take."""
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


def sh(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A Shanghai wall-clock time, as the UTC instant the rules take."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def test_callback_at_2059_new_york_is_allowed_but_2101_is_not() -> None:
    assert is_callable(ny(2024, 7, 1, 20, 59), NEW_YORK, UNTIL_21)
    assert not is_callable(ny(2024, 7, 1, 21, 1), NEW_YORK, UNTIL_21)


def test_window_end_itself_is_outside_the_window() -> None:
    assert not is_callable(ny(2024, 7, 1, 21, 0), NEW_YORK, UNTIL_21)


def test_default_window_in_shanghai_closes_at_2000() -> None:
    assert is_callable(sh(2024, 5, 1, 19, 59), SHANGHAI)
    assert not is_callable(sh(2024, 5, 1, 20, 0), SHANGHAI)


def test_same_utc_instant_is_callable_in_one_zone_and_not_another() -> None:
    instant = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)  # 10:00 Shanghai, 22:00 New York
    assert is_callable(instant, SHANGHAI)
    assert not is_callable(instant, NEW_YORK)


def test_campaign_window_reaching_into_quiet_hours_is_refused() -> None:
    with pytest.raises(InvalidCallWindow, match="quiet hours"):
        is_callable(ny(2024, 7, 1, 12, 0), NEW_YORK, CallWindow(time(9), time(22)))


def test_early_morning_window_is_refused_too() -> None:
    with pytest.raises(InvalidCallWindow, match="no campaign can override"):
        CallWindow(time(7, 30), time(12)).checked()


def test_window_ending_exactly_when_quiet_hours_start_is_accepted() -> None:
    assert UNTIL_21.checked() is UNTIL_21


def test_empty_window_is_refused() -> None:
    with pytest.raises(InvalidCallWindow, match="empty"):
        CallWindow(time(18), time(10))


def test_naive_time_is_refused() -> None:
    with pytest.raises(NaiveDatetime):
        is_callable(datetime(2024, 5, 1, 12, 0), SHANGHAI)


def test_callable_now_means_call_now() -> None:
    now = sh(2024, 5, 1, 10, 0)
    assert next_allowed_time(now, SHANGHAI) == now


def test_late_evening_in_shanghai_waits_for_0900_next_morning() -> None:
    assert next_allowed_time(sh(2024, 5, 1, 22, 30), SHANGHAI) == sh(2024, 5, 2, 9, 0)


def test_early_morning_waits_for_0900_same_day() -> None:
    assert next_allowed_time(sh(2024, 5, 1, 6, 0), SHANGHAI) == sh(2024, 5, 1, 9, 0)


def test_after_spring_forward_the_window_opens_at_0900_daylight_time() -> None:
    # 2024-03-10: New York clocks jump from 02:00 EST to 03:00 EDT.
    opens = next_allowed_time(ny(2024, 3, 9, 21, 0), NEW_YORK)
    assert opens == datetime(2024, 3, 10, 13, 0, tzinfo=UTC)


def test_after_fall_back_the_window_opens_at_0900_standard_time() -> None:
    # 2024-11-03: New York clocks fall back from 02:00 EDT to 01:00 EST.
    opens = next_allowed_time(ny(2024, 11, 2, 21, 0), NEW_YORK)
    assert opens == datetime(2024, 11, 3, 14, 0, tzinfo=UTC)


def test_same_utc_hour_is_inside_the_window_only_after_spring_forward() -> None:
    assert not is_callable(datetime(2024, 3, 9, 13, 30, tzinfo=UTC), NEW_YORK)  # 08:30 EST
    assert is_callable(datetime(2024, 3, 10, 13, 30, tzinfo=UTC), NEW_YORK)  # 09:30 EDT


def test_window_starting_in_the_spring_forward_gap_opens_when_the_clock_jumps() -> None:
    night_quiet = QuietHours(time(23, 0), time(1, 0))
    night = CallWindow(time(2, 30), time(5, 0))
    opens = next_allowed_time(ny(2024, 3, 10, 1, 30), NEW_YORK, night, night_quiet)
    assert opens == datetime(2024, 3, 10, 7, 0, tzinfo=UTC)  # 03:00 EDT


def test_ambiguous_local_time_maps_to_its_first_occurrence() -> None:
    first = local_to_utc(date(2024, 11, 3), time(1, 30), NEW_YORK)
    assert first == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)  # 01:30 EDT


def test_weekday_only_window_skips_the_weekend() -> None:
    weekdays = CallWindow(time(9), time(18), frozenset(range(5)))
    saturday = sh(2024, 5, 4, 10, 0)
    assert not is_callable(saturday, SHANGHAI, weekdays)
    assert next_allowed_time(saturday, SHANGHAI, weekdays) == sh(2024, 5, 6, 9, 0)


def test_caller_choosing_today_in_the_afternoon_is_called_from_now_until_2000() -> None:
    now = sh(2024, 5, 1, 15, 0)
    assert requested_window(CallbackWindow.TODAY, now, SHANGHAI) == (now, sh(2024, 5, 1, 20, 0))


def test_caller_choosing_today_at_0700_is_not_called_before_0900() -> None:
    earliest, _ = requested_window(CallbackWindow.TODAY, sh(2024, 5, 1, 7, 0), SHANGHAI)
    assert earliest == sh(2024, 5, 1, 9, 0)


def test_today_is_refused_after_2000_with_the_alternatives() -> None:
    with pytest.raises(WindowUnavailable, match="tomorrow morning"):
        requested_window(CallbackWindow.TODAY, sh(2024, 5, 1, 20, 30), SHANGHAI)


def test_tomorrow_morning_is_0900_to_1200_next_day() -> None:
    window = requested_window(CallbackWindow.TOMORROW_MORNING, sh(2024, 5, 1, 23, 50), SHANGHAI)
    assert window == (sh(2024, 5, 2, 9, 0), sh(2024, 5, 2, 12, 0))


def test_tomorrow_afternoon_is_1400_to_1800_next_day() -> None:
    window = requested_window(CallbackWindow.TOMORROW_AFTERNOON, sh(2024, 5, 1, 10, 0), SHANGHAI)
    assert window == (sh(2024, 5, 2, 14, 0), sh(2024, 5, 2, 18, 0))


def test_requested_window_hours_are_configurable() -> None:
    hours = RequestedWindowHours(afternoon=(time(13, 0), time(17, 30)))
    window = requested_window(
        CallbackWindow.TOMORROW_AFTERNOON, sh(2024, 5, 1, 10, 0), SHANGHAI, hours
    )
    assert window == (sh(2024, 5, 2, 13, 0), sh(2024, 5, 2, 17, 30))


def test_requested_hours_in_the_quiet_hours_are_refused() -> None:
    with pytest.raises(InvalidCallWindow):
        RequestedWindowHours(morning=(time(7, 0), time(10, 0)))


def test_ivr_stops_offering_today_at_2000() -> None:
    assert CallbackWindow.TODAY in offered_windows(sh(2024, 5, 1, 19, 59), SHANGHAI)
    assert CallbackWindow.TODAY not in offered_windows(sh(2024, 5, 1, 20, 0), SHANGHAI)


ZONES = st.sampled_from(
    [
        "America/New_York",
        "Asia/Shanghai",
        "Europe/London",
        "Australia/Sydney",
        "America/Santiago",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
    ]
).map(ZoneInfo)
WINDOWS = st.sampled_from(
    [
        CallWindow(),
        UNTIL_21,
        CallWindow(time(8), time(21)),
        CallWindow(time(10, 30), time(11, 15)),
        CallWindow(time(9), time(18), frozenset({0, 2, 4})),
    ]
)
INSTANTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300)
@given(INSTANTS, ZONES, WINDOWS)
def test_next_allowed_time_is_always_inside_the_window(
    now: datetime, tz: ZoneInfo, window: CallWindow
) -> None:
    allowed = next_allowed_time(now, tz, window)
    assert allowed >= now
    assert is_callable(allowed, tz, window)
    local = allowed.astimezone(tz)
    assert window.start <= local.time() < window.end
    if allowed != now:  # it is the opening instant: a moment earlier was not callable
        assert not is_callable(allowed - timedelta(seconds=1), tz, window)
        assert allowed - now <= timedelta(days=8)
