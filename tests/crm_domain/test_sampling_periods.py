"""Sampling periods: weeks cut at month ends, drawn only once over (000: 定期(如每周))."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from crm.sampling import Cadence, awaits_verification, ended_periods, period_of

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_week_spanning_two_months_is_cut_at_the_month_end() -> None:
    april = period_of(date(2026, 4, 30), Cadence.WEEK, SHANGHAI)
    may = period_of(date(2026, 5, 1), Cadence.WEEK, SHANGHAI)
    assert (april.first, april.last) == (date(2026, 4, 27), date(2026, 4, 30))
    assert (may.first, may.last) == (date(2026, 5, 1), date(2026, 5, 3))
    assert april.end == may.start == datetime(2026, 4, 30, 16, 0, tzinfo=UTC)


def test_the_last_period_of_a_month_has_ended_when_the_month_has() -> None:
    first_of_june = datetime(2026, 5, 31, 16, 0, tzinfo=UTC)  # 00:00 local
    periods = ended_periods(first_of_june, Cadence.WEEK, SHANGHAI, timedelta(days=10))
    assert periods[-1].label == "week:2026-05-25..2026-05-31"


def test_periods_follow_one_another_without_gaps() -> None:
    now = datetime(2026, 7, 1, tzinfo=UTC)
    for cadence in Cadence:
        periods = ended_periods(now, cadence, SHANGHAI, timedelta(days=70))
        assert all(a.end == b.start for a, b in zip(periods, periods[1:], strict=False))
        assert all(p.end <= now for p in periods)


def test_only_complete_surveys_not_keyed_by_the_customer_await_verification() -> None:
    assert awaits_verification("paper", "pending", True)
    assert awaits_verification("agent", "first_hand", True)  # a staff-keyed first-hand mark
    assert not awaits_verification("ivr", "first_hand", True)
    assert not awaits_verification("paper", "pending", False)
    assert not awaits_verification("paper", "verified", True)
