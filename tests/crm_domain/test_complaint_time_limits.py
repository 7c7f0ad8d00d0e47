"""Complaint time limits, overdue, and level-by-level escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm.complaint_rules import (
    ChainLink,
    ComplaintTimePolicy,
    EscalationStatus,
    TimeLimits,
    due_times,
    is_overdue,
    is_response_overdue,
    next_escalation,
)
from crm.enums import ComplaintState, Severity
from crm.errors import EscalationChainEmpty, NaiveDatetime

S = ComplaintState
OPENED = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
CHAIN = [ChainLink(10, 100), ChainLink(20, 200), ChainLink(30, 300)]  # owner's dept first
H = timedelta(hours=1)


def status(**changes: object) -> EscalationStatus:
    base: dict[str, object] = {
        "state": S.IN_PROGRESS,
        "severity": Severity.ORDINARY,
        "opened_at": OPENED,
    }
    base.update(changes)
    return EscalationStatus(**base)  # type: ignore[arg-type]


def test_major_complaint_must_be_answered_in_2h_and_resolved_in_24h() -> None:
    due = due_times(OPENED, Severity.MAJOR)
    assert (due.respond_by, due.resolve_by) == (OPENED + 2 * H, OPENED + 24 * H)


def test_ordinary_complaint_must_be_answered_in_24h_and_resolved_in_72h() -> None:
    due = due_times(OPENED, Severity.ORDINARY)
    assert (due.respond_by, due.resolve_by) == (OPENED + 24 * H, OPENED + 72 * H)


def test_time_limits_are_configurable_per_severity() -> None:
    policy = ComplaintTimePolicy(
        {
            Severity.MAJOR: TimeLimits(H, 12 * H, 2 * H),
            Severity.ORDINARY: TimeLimits(8 * H, 48 * H, 8 * H),
        }
    )
    assert due_times(OPENED, Severity.ORDINARY, policy).resolve_by == OPENED + 48 * H


def test_policy_missing_a_severity_is_refused() -> None:
    with pytest.raises(ValueError, match="missing"):
        ComplaintTimePolicy({Severity.MAJOR: TimeLimits(H, 12 * H, 2 * H)})


def test_complaint_is_overdue_only_strictly_after_its_resolve_by_time() -> None:
    assert not is_overdue(S.IN_PROGRESS, Severity.ORDINARY, OPENED, OPENED + 72 * H)
    assert is_overdue(
        S.IN_PROGRESS, Severity.ORDINARY, OPENED, OPENED + 72 * H + timedelta(seconds=1)
    )


@pytest.mark.parametrize("state", [S.RESOLVED, S.CLOSED])
def test_resolved_or_closed_complaint_is_never_overdue(state: ComplaintState) -> None:
    assert not is_overdue(state, Severity.MAJOR, OPENED, OPENED + 1000 * H)


def test_own_resolve_by_overrides_the_limit_from_opening() -> None:
    later = OPENED + 100 * H
    assert not is_overdue(S.REOPENED, Severity.ORDINARY, OPENED, OPENED + 90 * H, resolve_by=later)


def test_major_complaint_nobody_started_after_2h_is_response_overdue() -> None:
    now = OPENED + 2 * H + timedelta(minutes=1)
    assert is_response_overdue(S.ASSIGNED, Severity.MAJOR, OPENED, now)
    assert not is_response_overdue(S.IN_PROGRESS, Severity.MAJOR, OPENED, now)


def test_naive_now_is_refused() -> None:
    with pytest.raises(NaiveDatetime):
        is_overdue(S.NEW, Severity.MAJOR, OPENED, datetime(2024, 5, 9))


def test_ordinary_complaint_is_not_escalated_within_72h() -> None:
    assert next_escalation(status(), CHAIN, OPENED + 72 * H) is None


def test_escalation_over_two_levels_with_explicit_times() -> None:
    first = next_escalation(status(), CHAIN, datetime(2024, 5, 4, 8, 1, tzinfo=UTC))
    assert first is not None
    assert (first.level, first.department_id, first.manager_id) == (1, 10, 100)
    assert first.due_at == datetime(2024, 5, 4, 8, 0, tzinfo=UTC)

    escalated = status(level=1, last_escalated_at=datetime(2024, 5, 4, 8, 1, tzinfo=UTC))
    assert next_escalation(escalated, CHAIN, datetime(2024, 5, 5, 8, 1, tzinfo=UTC)) is None
    second = next_escalation(escalated, CHAIN, datetime(2024, 5, 5, 8, 2, tzinfo=UTC))
    assert second is not None
    assert (second.level, second.department_id, second.manager_id) == (2, 20, 200)


def test_major_complaint_climbs_a_level_every_4_hours() -> None:
    last = OPENED + 24 * H + timedelta(minutes=5)
    major = status(severity=Severity.MAJOR, level=1, last_escalated_at=last)
    assert next_escalation(major, CHAIN, last + 4 * H) is None
    step = next_escalation(major, CHAIN, last + 4 * H + timedelta(seconds=1))
    assert step is not None and step.level == 2


def test_escalation_never_goes_beyond_the_top_of_the_chain() -> None:
    at_top = status(level=3, last_escalated_at=OPENED + 200 * H)
    assert next_escalation(at_top, CHAIN, OPENED + 10_000 * H) is None


def test_top_level_is_reached_then_stops() -> None:
    short_chain = [ChainLink(10, 100), ChainLink(1, None)]
    step = next_escalation(status(level=1, last_escalated_at=OPENED), short_chain, OPENED + 500 * H)
    assert step is not None and (step.level, step.department_id, step.manager_id) == (2, 1, None)


@pytest.mark.parametrize("state", [S.RESOLVED, S.CLOSED])
def test_resolved_complaint_never_escalates(state: ComplaintState) -> None:
    assert next_escalation(status(state=state), CHAIN, OPENED + 1000 * H) is None


def test_late_run_escalates_one_level_at_a_time() -> None:
    step = next_escalation(status(), CHAIN, OPENED + 1000 * H)
    assert step is not None and step.level == 1


def test_reopened_complaint_escalates_from_its_new_resolve_by() -> None:
    reopened = status(state=S.REOPENED, resolve_by=OPENED + 200 * H)
    assert next_escalation(reopened, CHAIN, OPENED + 150 * H) is None
    step = next_escalation(reopened, CHAIN, OPENED + 201 * H)
    assert step is not None and step.level == 1


def test_escalating_without_a_department_chain_says_what_to_do() -> None:
    with pytest.raises(EscalationChainEmpty, match="give the owner a department"):
        next_escalation(status(), [], OPENED + 100 * H)


def test_escalated_status_without_its_time_is_refused() -> None:
    with pytest.raises(ValueError, match="last_escalated_at"):
        status(level=1)
