"""Calls as the domain sees them, and the rules that settle a call's outcome.

Guarantees:
- A carrier status can only move a call forward (`status_rank`): a duplicate
  or out-of-order status callback never moves it back, so replaying the
  carrier's callbacks in any order leaves one correct state.
- The outcome of an inbound call follows kpi.md: never queued -> `ivr_only`;
  an agent answered -> `answered`; queued, hung up before an agent ->
  `abandoned`; the queue gave up -> `timeout` / `overflow`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crm.enums import CallDisposition, Direction

# Twilio call statuses (and our own names for Asterisk) by how far along they are.
STATUS_RANK: dict[str, int] = {
    "queued": 1,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    "answered": 3,
    "completed": 4,
    "busy": 4,
    "no-answer": 4,
    "failed": 4,
    "canceled": 4,
}
FINAL_STATUSES = frozenset(s for s, r in STATUS_RANK.items() if r == 4)
OUTBOUND_FINAL: dict[str, CallDisposition] = {
    "busy": CallDisposition.BUSY,
    "no-answer": CallDisposition.NO_ANSWER,
    "failed": CallDisposition.FAILED,
    "canceled": CallDisposition.CANCELED,
}


class UnknownCarrierStatus(ValueError):
    http_status = 422


@dataclass(frozen=True)
class CallRecord:
    id: int
    carrier: str
    carrier_call_id: str
    direction: Direction
    from_number: str | None
    to_number: str | None
    customer_id: int | None
    agent_id: int | None
    queue: str | None
    started_at: datetime
    queued_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    disposition: CallDisposition
    carrier_status: str | None
    status_rank: int
    ivr_path: str | None
    ivr_state: str | None
    ivr_version: int
    language: str | None
    callback_attempt_id: str | None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


def status_rank(status: str) -> int:
    try:
        return STATUS_RANK[status]
    except KeyError:
        raise UnknownCarrierStatus(
            f"unknown call status {status!r}; expected one of {', '.join(STATUS_RANK)}"
        ) from None


def moves_forward(current_rank: int, status: str) -> bool:
    """True when `status` is news: further along than what the call already has."""
    return status_rank(status) > current_rank


def settle_disposition(call: CallRecord, final_status: str | None = None) -> CallDisposition:
    """The outcome of a call that has ended."""
    if call.disposition in (CallDisposition.TIMEOUT, CallDisposition.OVERFLOW):
        return call.disposition
    if call.direction == Direction.OUTBOUND:
        if final_status in OUTBOUND_FINAL:
            return OUTBOUND_FINAL[final_status]
        return CallDisposition.ANSWERED if call.answered_at else CallDisposition.NO_ANSWER
    if call.answered_at is not None and call.queued_at is not None:
        return CallDisposition.ANSWERED
    if call.queued_at is not None:
        return CallDisposition.ABANDONED
    return CallDisposition.IVR_ONLY


def extend_path(path: str | None, node: str, limit: int = 40) -> str:
    """'main>complaint' + 'category' -> 'main>complaint>category' (no immediate repeats)."""
    parts = path.split(">") if path else []
    if not parts or parts[-1] != node:
        parts.append(node)
    return ">".join(parts[-limit:])
