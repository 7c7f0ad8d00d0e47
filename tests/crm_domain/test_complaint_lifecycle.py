"""Complaint state machine and its append-only history."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from crm.complaints import (
    COMPLAINT_TRANSITIONS,
    ComplaintAction,
    HistoryEntry,
    allowed_actions,
    append_entry,
    current_state,
    record_action,
    times_reopened,
    transition,
)
from crm.enums import ComplaintState
from crm.errors import InvalidTransition, NaiveDatetime

A = ComplaintAction
S = ComplaintState
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def test_complaint_goes_round_the_loop_from_new_to_closed() -> None:
    state = S.NEW
    for action in (A.ASSIGN, A.START, A.RESOLVE, A.CLOSE):
        state = transition(state, action)
    assert state is S.CLOSED


def test_resolved_complaint_reopened_goes_back_to_work() -> None:
    reopened = transition(S.RESOLVED, A.REOPEN)
    assert reopened is S.REOPENED
    assert transition(reopened, A.START) is S.IN_PROGRESS


def test_closed_complaint_can_be_reopened() -> None:
    assert transition(S.CLOSED, A.REOPEN) is S.REOPENED


def test_new_complaint_cannot_be_resolved_and_the_error_says_what_is_allowed() -> None:
    with pytest.raises(InvalidTransition, match="allowed now: assign"):
        transition(S.NEW, A.RESOLVE)


def test_closed_complaint_cannot_be_closed_again() -> None:
    with pytest.raises(InvalidTransition, match="cannot close a complaint that is closed"):
        transition(S.CLOSED, A.CLOSE)


def test_unknown_action_is_an_invalid_transition() -> None:
    with pytest.raises(InvalidTransition, match="cannot escalate"):
        transition(S.NEW, "escalate")  # type: ignore[arg-type]


def test_handing_a_complaint_to_another_owner_keeps_its_state() -> None:
    assert transition(S.IN_PROGRESS, A.ASSIGN) is S.IN_PROGRESS


def test_in_progress_complaint_cannot_skip_resolution_and_close() -> None:
    assert A.CLOSE not in allowed_actions(S.IN_PROGRESS)


def test_every_state_has_a_row_in_the_table() -> None:
    assert set(COMPLAINT_TRANSITIONS) == set(ComplaintState)


def test_recorded_action_says_who_when_from_and_to() -> None:
    entry = record_action(S.NEW, A.ASSIGN, who="agent:7", when=T0, note="to Li")
    assert (entry.who, entry.when, entry.from_state, entry.to_state, entry.note) == (
        "agent:7",
        T0,
        S.NEW,
        S.ASSIGNED,
        "to Li",
    )


def test_history_entry_cannot_be_changed() -> None:
    entry = record_action(S.NEW, A.ASSIGN, who="agent:7", when=T0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.note = "edited"  # type: ignore[misc]


def test_appending_returns_a_longer_history_and_leaves_the_old_one_alone() -> None:
    first = append_entry((), record_action(S.NEW, A.ASSIGN, "agent:7", T0))
    second = append_entry(
        first, record_action(S.ASSIGNED, A.START, "tech:3", T0 + timedelta(hours=1))
    )
    assert len(first) == 1 and len(second) == 2
    assert current_state(second) is S.IN_PROGRESS


def test_entry_from_a_stale_state_is_refused() -> None:
    history = append_entry((), record_action(S.NEW, A.ASSIGN, "agent:7", T0))
    stale = record_action(S.NEW, A.ASSIGN, "agent:8", T0 + timedelta(minutes=1))
    with pytest.raises(InvalidTransition, match="reload"):
        append_entry(history, stale)


def test_entry_earlier_than_the_last_one_is_refused() -> None:
    history = append_entry((), record_action(S.NEW, A.ASSIGN, "agent:7", T0))
    with pytest.raises(ValueError, match="earlier"):
        append_entry(
            history, record_action(S.ASSIGNED, A.START, "tech:3", T0 - timedelta(seconds=1))
        )


def test_history_must_start_from_new() -> None:
    with pytest.raises(InvalidTransition):
        append_entry((), record_action(S.ASSIGNED, A.START, "tech:3", T0))


def test_history_entry_with_naive_time_is_refused() -> None:
    with pytest.raises(NaiveDatetime):
        HistoryEntry("agent:7", datetime(2024, 5, 1, 8), S.NEW, S.ASSIGNED, A.ASSIGN)


def test_history_entry_time_is_stored_in_utc() -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2024, 5, 1, 16, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    entry = record_action(S.NEW, A.ASSIGN, "agent:7", local)
    assert entry.when == T0 and entry.when.tzinfo is UTC


def test_reopen_count_comes_from_history() -> None:
    history: tuple[HistoryEntry, ...] = ()
    state = S.NEW
    steps = [A.ASSIGN, A.START, A.RESOLVE, A.REOPEN, A.START, A.RESOLVE, A.CLOSE, A.REOPEN]
    for minute, action in enumerate(steps):
        entry = record_action(state, action, "agent:7", T0 + timedelta(minutes=minute))
        history = append_entry(history, entry)
        state = entry.to_state
    assert times_reopened(history) == 2
