"""Callback lifecycle, retries, deadlines, priority and do-not-call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm.callbacks import (
    CALLBACK_TRANSITIONS,
    FINAL_STATES,
    CallbackAction,
    CallbackAttempt,
    CallbackDeadlines,
    RetryPolicy,
    after_attempt,
    callback_transition,
    deadline_for,
    dispatch_key,
    is_expired,
    may_call,
    priority_for,
)
from crm.enums import CallbackKind, CallbackState, DialOutcome, Severity
from crm.errors import InvalidTransition

S = CallbackState
A = CallbackAction
K = CallbackKind
NOW = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
FAR = NOW + timedelta(days=3)
MIN = timedelta(minutes=1)


def dialing(attempts_before: int = 0, deadline: datetime = FAR) -> CallbackAttempt:
    return CallbackAttempt(S.DIALING, attempts_before, deadline)


def test_callback_goes_scheduled_claimed_dialing_in_call_completed() -> None:
    state = S.SCHEDULED
    for action in (A.CLAIM, A.DIAL, A.ANSWER, A.COMPLETE):
        state = callback_transition(state, action)
    assert state is S.COMPLETED


def test_unanswered_dial_waits_then_is_scheduled_again() -> None:
    waiting = callback_transition(S.DIALING, A.NOT_CONNECTED)
    assert waiting is S.RETRY_WAIT
    assert callback_transition(waiting, A.RETRY_DUE) is S.SCHEDULED


def test_claim_lapsing_before_the_dial_returns_the_callback_to_the_queue() -> None:
    assert callback_transition(S.CLAIMED, A.RELEASE) is S.SCHEDULED


def test_claim_lapsing_mid_dial_makes_it_unknown_until_reconciled() -> None:
    unknown = callback_transition(S.DIALING, A.CLAIM_LAPSED)
    assert unknown is S.UNKNOWN
    assert callback_transition(unknown, A.COMPLETE) is S.COMPLETED


def test_unknown_callback_cannot_be_claimed_again_before_reconciling() -> None:
    with pytest.raises(InvalidTransition, match="allowed now"):
        callback_transition(S.UNKNOWN, A.CLAIM)


def test_completed_callback_cannot_be_dialled_again() -> None:
    with pytest.raises(InvalidTransition, match="completed is final"):
        callback_transition(S.COMPLETED, A.DIAL)


def test_final_states_are_completed_failed_cancelled_expired() -> None:
    assert FINAL_STATES == {S.COMPLETED, S.FAILED, S.CANCELLED, S.EXPIRED}
    assert set(CALLBACK_TRANSITIONS) == set(CallbackState)


def test_answered_attempt_puts_the_callback_in_call() -> None:
    assert after_attempt(dialing(), DialOutcome.ANSWERED, NOW) == (S.IN_CALL, None)


def test_busy_first_attempt_retries_after_15_minutes() -> None:
    assert after_attempt(dialing(0), DialOutcome.BUSY, NOW) == (S.RETRY_WAIT, NOW + 15 * MIN)


def test_retry_backoff_sequence_is_15_minutes_then_2_hours_then_failed() -> None:
    first = after_attempt(dialing(0), DialOutcome.NO_ANSWER, NOW)
    second = after_attempt(dialing(1), DialOutcome.NO_ANSWER, NOW)
    third = after_attempt(dialing(2), DialOutcome.NO_ANSWER, NOW)
    assert [first, second, third] == [
        (S.RETRY_WAIT, NOW + 15 * MIN),
        (S.RETRY_WAIT, NOW + timedelta(hours=2)),
        (S.FAILED, None),
    ]


def test_more_attempts_use_the_last_backoff_step_again() -> None:
    policy = RetryPolicy(max_attempts=6)
    assert after_attempt(dialing(2), DialOutcome.BUSY, NOW, policy)[1] == NOW + timedelta(days=1)
    assert after_attempt(dialing(4), DialOutcome.BUSY, NOW, policy)[1] == NOW + timedelta(days=1)


def test_congestion_retries_soon() -> None:
    assert after_attempt(dialing(0), DialOutcome.CONGESTION, NOW) == (S.RETRY_WAIT, NOW + 2 * MIN)


def test_failed_dial_is_not_retried_by_default() -> None:
    assert after_attempt(dialing(0), DialOutcome.FAILED, NOW) == (S.FAILED, None)


def test_failed_dial_can_be_made_retryable() -> None:
    policy = RetryPolicy(retry_on=frozenset({DialOutcome.BUSY, DialOutcome.FAILED}))
    assert after_attempt(dialing(0), DialOutcome.FAILED, NOW, policy) == (
        S.RETRY_WAIT,
        NOW + 15 * MIN,
    )


def test_retry_that_would_land_past_deadline_and_grace_expires_the_callback() -> None:
    soon_deadline = NOW + 30 * MIN
    assert after_attempt(dialing(1, soon_deadline), DialOutcome.BUSY, NOW) == (S.EXPIRED, None)


def test_retry_within_the_grace_period_is_still_made() -> None:
    deadline = NOW + 10 * MIN  # retry at +15 min is inside the 1 h grace
    assert after_attempt(dialing(0, deadline), DialOutcome.BUSY, NOW)[0] is S.RETRY_WAIT


def test_retry_is_moved_into_the_call_window() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    evening = datetime(2024, 5, 1, 19, 55, tzinfo=shanghai).astimezone(UTC)
    state, due = after_attempt(dialing(1), DialOutcome.BUSY, evening, tz=shanghai)
    assert state is S.RETRY_WAIT
    assert due == datetime(2024, 5, 2, 9, 0, tzinfo=shanghai)


def test_reconciling_an_unknown_attempt_applies_the_same_retry_rule() -> None:
    unknown = CallbackAttempt(S.UNKNOWN, 0, FAR)
    assert after_attempt(unknown, DialOutcome.BUSY, NOW) == (S.RETRY_WAIT, NOW + 15 * MIN)


def test_outcome_for_a_callback_that_is_not_dialling_is_refused() -> None:
    with pytest.raises(InvalidTransition):
        after_attempt(CallbackAttempt(S.SCHEDULED, 0, FAR), DialOutcome.BUSY, NOW)


def test_backoff_must_not_be_empty() -> None:
    with pytest.raises(ValueError, match="backoff"):
        RetryPolicy(backoff=())


def test_callback_expires_only_after_deadline_plus_grace() -> None:
    assert not is_expired(NOW, NOW + timedelta(hours=1))
    assert is_expired(NOW, NOW + timedelta(hours=1, seconds=1))


def test_post_repair_callback_is_due_within_3_days_of_completion() -> None:
    completed = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert deadline_for(K.POST_REPAIR, completed) == datetime(2024, 5, 4, 9, 30, tzinfo=UTC)


def test_complaint_follow_up_is_due_2_days_after_resolution() -> None:
    assert deadline_for(K.COMPLAINT_FOLLOWUP, NOW) == NOW + timedelta(days=2)


def test_survey_verification_is_due_within_7_days() -> None:
    assert deadline_for(K.SURVEY_VERIFICATION, NOW) == NOW + timedelta(days=7)


def test_callback_deadlines_are_configurable() -> None:
    deadlines = CallbackDeadlines(post_repair=timedelta(days=1))
    assert deadline_for(K.POST_REPAIR, NOW, deadlines) == NOW + timedelta(days=1)


def test_requested_callback_deadline_comes_from_the_ivr_choice() -> None:
    with pytest.raises(ValueError, match="requested_window"):
        deadline_for(K.REQUESTED, NOW)


def test_major_complaint_follow_ups_go_first() -> None:
    assert priority_for(K.COMPLAINT_FOLLOWUP, Severity.MAJOR) < min(
        priority_for(kind, Severity.ORDINARY) for kind in CallbackKind
    )


def test_dial_queue_orders_by_priority_then_deadline() -> None:
    queue = [
        ("campaign", dispatch_key(K.CAMPAIGN, None, NOW)),
        ("repair-late", dispatch_key(K.POST_REPAIR, None, NOW + timedelta(days=2))),
        ("repair-soon", dispatch_key(K.POST_REPAIR, None, NOW + timedelta(hours=1))),
        ("major", dispatch_key(K.COMPLAINT_FOLLOWUP, Severity.MAJOR, NOW + timedelta(days=2))),
        (
            "ordinary",
            dispatch_key(K.COMPLAINT_FOLLOWUP, Severity.ORDINARY, NOW + timedelta(hours=5)),
        ),
        ("asked", dispatch_key(K.REQUESTED, None, NOW + timedelta(days=1))),
    ]
    assert [name for name, _ in sorted(queue, key=lambda item: item[1])] == [
        "major",
        "asked",
        "repair-soon",
        "ordinary",
        "repair-late",
        "campaign",
    ]


def test_do_not_call_customer_is_not_called_even_for_a_major_complaint_follow_up() -> None:
    assert not may_call(customer_dnc=True, number_on_dnc_list=False, kind=K.COMPLAINT_FOLLOWUP)


def test_number_on_the_dnc_list_is_not_called() -> None:
    assert not may_call(customer_dnc=False, number_on_dnc_list=True, kind=K.POST_REPAIR)


def test_customer_without_dnc_marks_may_be_called() -> None:
    assert may_call(customer_dnc=False, number_on_dnc_list=False, kind=K.CAMPAIGN)
