"""Agent states: what an agent may ask for, and what the carrier moves them through.

An agent is logged out, ready, not ready (with a reason from a configured
list: break, meeting, training, ...), ringing, on a call, on hold, or in
wrap-up after a call. The agent chooses the first three; the carrier's events
drive ringing, on-call and hold; wrap-up starts when a talked call ends and
lasts a configured time unless the agent ends it early by going ready or not
ready.

Guarantees:
- `requested_state` normalises the agent's input (case, width, spaces) and
  refuses an unknown state, an unknown reason, a reason on a state that takes
  none, or a state only the carrier sets, with `InvalidAgentState` (a
  `ValueError`: the entrypoint answers 422 and nothing changes).
- `is_routable` is the one rule for "may a call be sent to this agent": ready,
  and nothing else.
- `queue_membership` is what the agent's state means for the Asterisk queue:
  member or not, paused or not, and the pause reason.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from crm.errors import CrmError

__all__ = [
    "AgentState", "AGENT_CHOSEN", "DEFAULT_REASONS", "InvalidAgentState", "QueueMembership",
    "Requested", "is_routable", "normalise_reasons", "queue_membership", "requested_state",
]


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    NOT_READY = "not_ready"
    RINGING = "ringing"
    ON_CALL = "on_call"
    HOLD = "hold"
    WRAP_UP = "wrap_up"


#: The states an agent may choose; the others follow the calls.
AGENT_CHOSEN = frozenset({AgentState.LOGGED_OUT, AgentState.READY, AgentState.NOT_READY})
DEFAULT_REASONS = ("break", "meeting", "training", "lunch", "coaching", "other")


class InvalidAgentState(CrmError, ValueError):
    """A state or not-ready reason the centre does not know, or one only calls set."""

    http_status = 422


@dataclass(frozen=True)
class Requested:
    state: AgentState
    reason: str | None


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold().replace("-", "_").replace(" ", "_")


def normalise_reasons(reasons: Iterable[str]) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(r for r in (_norm(x) for x in reasons) if r))
    if not out:
        raise InvalidAgentState("configure at least one not-ready reason")
    return out


def requested_state(state: object, reason: object, reasons: Iterable[str]) -> Requested:
    """The state an agent asked for, checked against the configured reasons."""
    if not isinstance(state, str):
        raise InvalidAgentState("state must be one of: " + ", ".join(sorted(AGENT_CHOSEN)))
    try:
        wanted = AgentState(_norm(state))
    except ValueError:
        raise InvalidAgentState(
            f"unknown state; choose one of: {', '.join(sorted(AGENT_CHOSEN))}") from None
    if wanted not in AGENT_CHOSEN:
        raise InvalidAgentState(f"{wanted.value} is set by the calls, not by the agent")
    if reason is not None and not isinstance(reason, str):
        raise InvalidAgentState("reason must be text")
    allowed = normalise_reasons(reasons)
    given = _norm(reason) if reason else None
    if wanted is not AgentState.NOT_READY:
        if given:
            raise InvalidAgentState(f"a reason goes with not_ready only, not with {wanted.value}")
        return Requested(wanted, None)
    if given is None:
        given = allowed[-1] if "other" not in allowed else "other"
    if given not in allowed:
        raise InvalidAgentState(f"unknown not-ready reason; choose one of: {', '.join(allowed)}")
    return Requested(wanted, given)


def is_routable(state: str) -> bool:
    return state == AgentState.READY


@dataclass(frozen=True)
class QueueMembership:
    member: bool
    paused: bool
    reason: str = ""


def queue_membership(state: str, reason: str | None) -> QueueMembership:
    """What the state means for the agent's queue membership on Asterisk.

    Ringing, on a call and on hold leave the member unpaused: Asterisk itself
    does not ring a busy member, and pausing would count the call as "paused".
    """
    if state == AgentState.LOGGED_OUT:
        return QueueMembership(member=False, paused=False)
    if state == AgentState.NOT_READY:
        return QueueMembership(member=True, paused=True, reason=reason or "not_ready")
    if state == AgentState.WRAP_UP:
        return QueueMembership(member=True, paused=True, reason="wrap_up")
    return QueueMembership(member=True, paused=False)
