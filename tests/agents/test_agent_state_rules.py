"""The agent-state rules and the state-time report, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from crm.agent_states import (
    AgentState,
    InvalidAgentState,
    queue_membership,
    requested_state,
)
from reports.agent_time import state_time

REASONS = ("break", "meeting", "training", "other")


@pytest.mark.parametrize("spelling", ["not_ready", " NOT_READY ", "Not-Ready", "not ready", "ｎｏｔ_ｒｅａｄｙ"])
def test_odd_spellings_of_not_ready_with_a_reason_are_understood(spelling: str) -> None:
    assert requested_state(spelling, " Break ", REASONS) == (
        requested_state("not_ready", "break", REASONS))


def test_not_ready_without_a_reason_is_recorded_as_other() -> None:
    assert requested_state("not_ready", None, REASONS).reason == "other"


@pytest.mark.parametrize(("state", "reason"), [
    ("busy", None), ("on_call", None), ("wrap_up", None), ("hold", None), ("ringing", None),
    ("not_ready", "nap"), ("ready", "break"), (7, None), ("not_ready", 3), ("", None),
])
def test_an_unknown_state_or_reason_or_a_carrier_state_is_refused(state: object, reason: object) -> None:
    with pytest.raises(InvalidAgentState):
        requested_state(state, reason, REASONS)


def test_queue_membership_follows_the_state() -> None:
    assert queue_membership(AgentState.LOGGED_OUT, None).member is False
    assert queue_membership(AgentState.READY, None) == queue_membership(AgentState.ON_CALL, None)
    paused = queue_membership(AgentState.NOT_READY, "training")
    assert paused.member and paused.paused and paused.reason == "training"
    assert queue_membership(AgentState.WRAP_UP, None).reason == "wrap_up"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def spans(*rows: tuple[str, str | None, str | None, str, str]) -> pd.DataFrame:
    return pd.DataFrame([
        (7, "王坐席", 1, state, reason, call, utc(start), utc(end))
        for state, reason, call, start, end in rows
    ], columns=["staff_id", "staff_name", "department_id", "state", "reason", "carrier_call_id",
                "started_at", "ended_at"])


def test_a_day_of_one_agent_adds_up_by_state_and_reason_with_aht() -> None:
    # Shanghai is UTC+8: 01:00 UTC = 09:00 local
    day = spans(
        ("ready", None, None, "2026-05-18T01:00:00", "2026-05-18T01:10:00"),
        ("ringing", None, "c1", "2026-05-18T01:10:00", "2026-05-18T01:10:10"),
        ("on_call", None, "c1", "2026-05-18T01:10:10", "2026-05-18T01:13:10"),
        ("hold", None, "c1", "2026-05-18T01:13:10", "2026-05-18T01:14:10"),
        ("on_call", None, "c1", "2026-05-18T01:14:10", "2026-05-18T01:15:10"),
        ("wrap_up", None, "c1", "2026-05-18T01:15:10", "2026-05-18T01:15:40"),
        ("not_ready", "break", None, "2026-05-18T01:15:40", "2026-05-18T01:30:40"),
        ("not_ready", "meeting", None, "2026-05-18T01:30:40", "2026-05-18T02:00:40"),
        ("logged_out", None, None, "2026-05-18T02:00:40", "2026-05-18T09:00:00"),
    )
    (row,) = state_time(day, date(2026, 5, 18), date(2026, 5, 18), "Asia/Shanghai")
    assert (row.ready_s, row.ringing_s, row.talk_s, row.hold_s, row.wrap_up_s) == (600, 10, 240, 60, 30)
    assert row.not_ready_by_reason == {"break": 900, "meeting": 1800} and row.not_ready_s == 2700
    assert row.logged_in_s == 600 + 10 + 240 + 60 + 30 + 2700
    assert row.handled == 1 and row.aht_s == 240 + 60 + 30


def test_a_span_across_local_midnight_counts_on_each_day_once() -> None:
    night = spans(("ready", None, None, "2026-05-18T15:30:00", "2026-05-18T16:30:00"))  # 23:30-00:30
    first, second = state_time(night, date(2026, 5, 18), date(2026, 5, 19), "Asia/Shanghai")
    assert (first.day, first.ready_s, second.day, second.ready_s) == (
        date(2026, 5, 18), 1800, date(2026, 5, 19), 1800)
