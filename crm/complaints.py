"""The complaint lifecycle: which action moves a complaint to which state.

Rule 1: the only moves are those in `COMPLAINT_TRANSITIONS`
({state: {action: next state}}, like h11's `_state.py`); `transition` raises
`InvalidTransition` for anything else and says which actions are allowed now.

Rule 2: the loop closes (002: 闭环): new -> assigned -> in_progress ->
resolved -> closed. A resolved or closed complaint can be reopened; a reopened
one goes back to work (in_progress) and then round the loop again.

Rule 3: `assign` also hands a complaint that already has an owner over to a
new owner without changing its state: every complaint has one named owner
(专人负责), but the owner may change.

Rule 4: history is append-only: `HistoryEntry` is frozen, `append_entry`
returns a new tuple and refuses an entry that does not follow on from the last
one (wrong from-state or earlier time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crm.enums import ComplaintState
from crm.errors import InvalidTransition, aware_utc


class ComplaintAction(StrEnum):
    """What someone does to a complaint."""

    ASSIGN = "assign"  # give it a named owner, or hand it to another one
    START = "start"  # the owner starts work (first response)
    RESOLVE = "resolve"
    CLOSE = "close"  # the follow-up call confirmed the outcome
    REOPEN = "reopen"


_S = ComplaintState
_A = ComplaintAction

COMPLAINT_TRANSITIONS: Mapping[ComplaintState, Mapping[ComplaintAction, ComplaintState]] = {
    _S.NEW: {_A.ASSIGN: _S.ASSIGNED},
    _S.ASSIGNED: {_A.ASSIGN: _S.ASSIGNED, _A.START: _S.IN_PROGRESS},
    _S.IN_PROGRESS: {_A.ASSIGN: _S.IN_PROGRESS, _A.RESOLVE: _S.RESOLVED},
    _S.RESOLVED: {_A.CLOSE: _S.CLOSED, _A.REOPEN: _S.REOPENED},
    _S.CLOSED: {_A.REOPEN: _S.REOPENED},
    _S.REOPENED: {_A.ASSIGN: _S.REOPENED, _A.START: _S.IN_PROGRESS},
}

#: States in which the complaint still needs work (time limits run, escalation applies).
OPEN_STATES: frozenset[ComplaintState] = frozenset(
    {_S.NEW, _S.ASSIGNED, _S.IN_PROGRESS, _S.REOPENED}
)


def allowed_actions(state: ComplaintState) -> list[ComplaintAction]:
    """Actions allowed in `state`, in table order."""
    return list(COMPLAINT_TRANSITIONS[ComplaintState(state)])


def transition(state: ComplaintState, action: ComplaintAction) -> ComplaintState:
    """Return the state that `action` leads to from `state`, or raise `InvalidTransition`."""
    current = ComplaintState(state)
    try:
        wanted = ComplaintAction(action)
    except ValueError:
        wanted = None
    moves = COMPLAINT_TRANSITIONS[current]
    if wanted is None or wanted not in moves:
        allowed = ", ".join(moves) or "none"
        raise InvalidTransition(
            f"cannot {action} a complaint that is {current}; allowed now: {allowed}"
        )
    return moves[wanted]


def is_open(state: ComplaintState) -> bool:
    """True while the complaint still needs work (not resolved, not closed)."""
    return ComplaintState(state) in OPEN_STATES


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One time-stamped, attributed change of a complaint's state."""

    who: str
    when: datetime
    from_state: ComplaintState
    to_state: ComplaintState
    action: ComplaintAction
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "when", aware_utc(self.when, "history time"))
        if not self.who:
            raise ValueError("a history entry needs who did it (staff id or 'system')")


def record_action(
    state: ComplaintState,
    action: ComplaintAction,
    who: str,
    when: datetime,
    note: str = "",
) -> HistoryEntry:
    """Apply `action` to `state` and return the history entry that records it.

    The new state is `entry.to_state`; raises `InvalidTransition` like `transition`.
    """
    new_state = transition(state, action)
    return HistoryEntry(
        who=who,
        when=when,
        from_state=ComplaintState(state),
        to_state=new_state,
        action=ComplaintAction(action),
        note=note,
    )


def append_entry(
    history: tuple[HistoryEntry, ...], entry: HistoryEntry
) -> tuple[HistoryEntry, ...]:
    """Return `history` with `entry` added at the end; never rewrites earlier entries.

    Refuses an entry whose `from_state` is not the last `to_state` (a stale
    read) or whose time is before the last entry's (a wrong clock).
    """
    if history:
        last = history[-1]
        if entry.from_state != last.to_state:
            raise InvalidTransition(
                f"history says the complaint is {last.to_state}, not {entry.from_state}: "
                "reload the complaint and try again"
            )
        if entry.when < last.when:
            raise ValueError(
                f"history entry at {entry.when.isoformat()} is earlier than the last one "
                f"({last.when.isoformat()}): check the clock passed in"
            )
    elif entry.from_state != ComplaintState.NEW:
        raise InvalidTransition(
            f"a complaint's history starts from {ComplaintState.NEW}, not {entry.from_state}"
        )
    return (*history, entry)


def current_state(history: tuple[HistoryEntry, ...]) -> ComplaintState:
    """The state the history leaves the complaint in (new when empty)."""
    return history[-1].to_state if history else ComplaintState.NEW


def times_reopened(history: tuple[HistoryEntry, ...]) -> int:
    """How many times the complaint was reopened (feeds the major-complaint rule)."""
    return sum(1 for entry in history if entry.action == ComplaintAction.REOPEN)
