"""Report windows in the centre's time zone: days, ISO weeks, months, intervals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.periods import (
    Granularity,
    Interval,
    Month,
    report_window,
    window_containing,
    window_for_key,
    window_key_column,
)

SHANGHAI = "Asia/Shanghai"
NEW_YORK = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_shanghai_day_starts_at_local_midnight() -> None:
    window = report_window(Granularity.DAY, date(2024, 5, 1), SHANGHAI)
    assert (window.start_utc, window.end_utc) == (utc(2024, 4, 30, 16), utc(2024, 5, 1, 16))
    assert window.label == "2024-05-01"


def test_a_call_started_just_before_midnight_belongs_to_its_start_day() -> None:
    started = utc(2024, 5, 1, 15, 59, 50)  # 23:59:50 in Shanghai
    assert window_containing(started, Granularity.DAY, SHANGHAI).label == "2024-05-01"
    assert window_containing(started + timedelta(seconds=10), Granularity.DAY,
                             SHANGHAI).label == "2024-05-02"


def test_the_new_york_week_of_the_spring_dst_change_lasts_167_hours() -> None:
    window = report_window(Granularity.WEEK, date(2024, 3, 10), NEW_YORK)
    assert window.label == "2024-W10"
    assert window.start_utc == utc(2024, 3, 4, 5)  # Monday 00:00 EST
    assert window.end_utc == utc(2024, 3, 11, 4)  # Monday 00:00 EDT
    assert window.end_utc - window.start_utc == timedelta(hours=167)


@pytest.mark.parametrize(("day", "hours"), [(date(2024, 3, 10), 23), (date(2024, 11, 3), 25),
                                            (date(2024, 7, 4), 24)])
def test_new_york_days_follow_the_clock_across_dst(day: date, hours: int) -> None:
    window = report_window(Granularity.DAY, day, NEW_YORK)
    assert window.end_utc - window.start_utc == timedelta(hours=hours)


def test_a_month_runs_from_the_first_to_the_first_local_time() -> None:
    window = report_window(Granularity.MONTH, date(2024, 3, 17), NEW_YORK)
    assert (window.label, window.start_utc, window.end_utc) == (
        "2024-03", utc(2024, 3, 1, 5), utc(2024, 4, 1, 4))


def test_weeks_start_on_monday_and_carry_the_iso_week_label() -> None:
    window = report_window(Granularity.WEEK, date(2025, 1, 1), SHANGHAI)  # a Wednesday
    assert window.label == "2025-W01"
    assert window.start_utc == utc(2024, 12, 29, 16)  # Monday 30 Dec 00:00 in Shanghai


def test_the_repeated_autumn_hour_gives_two_distinct_intervals() -> None:
    first = window_containing(utc(2024, 11, 3, 5, 20), Interval(15), NEW_YORK)  # 01:20 EDT
    second = window_containing(utc(2024, 11, 3, 6, 20), Interval(15), NEW_YORK)  # 01:20 EST
    assert first.start_utc == utc(2024, 11, 3, 5, 15)
    assert second.start_utc == utc(2024, 11, 3, 6, 15)
    assert first.label == "2024-11-03T01:15:00-04:00"
    assert second.label == "2024-11-03T01:15:00-05:00"


def test_intervals_other_than_15_30_60_minutes_are_refused() -> None:
    with pytest.raises(ValueError):
        Interval(45)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        window_containing(datetime(2024, 5, 1, 12), Granularity.DAY, SHANGHAI)


def test_months_know_their_neighbours() -> None:
    assert Month(2024, 1).previous() == Month(2023, 12)
    assert Month(2024, 12).next() == Month(2025, 1)
    assert Month.parse("2024-05") == Month(2024, 5) and str(Month(2024, 5)) == "2024-05"
    with pytest.raises(ValueError):
        Month.parse("May 2024")


bucketings = st.sampled_from([Granularity.DAY, Granularity.WEEK, Granularity.MONTH,
                              Interval(15), Interval(30), Interval(60)])
instants = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2026, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC))


@settings(max_examples=60, deadline=None)
@given(starts=st.lists(instants, min_size=1, max_size=20), bucketing=bucketings,
       tz=st.sampled_from([NEW_YORK, SHANGHAI, "Europe/London", "Australia/Lord_Howe"]))
def test_the_vectorised_window_of_a_call_contains_its_start(
    starts: list[datetime], bucketing: Granularity | Interval, tz: str
) -> None:
    keys = window_key_column(pd.Series(pd.to_datetime(starts, utc=True)), bucketing, tz)
    for start, key in zip(starts, keys, strict=True):
        window = window_for_key(key, bucketing, tz)
        assert window.contains(start)
        assert window == window_containing(start, bucketing, tz)
