"""Queue segments of a call: one row per queue it went through (kpi.md, issue 16 item 3).

Why: a call transferred from queue A to queue B is one customer call (one `calls`
row) but counts once in A's and once in B's figures. The carrier adapters tell
this module what happened; the reports read the rows (`reporting.loaders.load_segments`).

Guarantees:
- A call has at most one open segment. Entering a queue while another segment is
  open closes that one as ``transferred`` at the same instant (answered or not:
  ``answered_at`` tells).
- Entering the same queue at the same instant twice (a replayed event) changes
  nothing; so do repeated answers, leaves and ends.
- Leaving a queue unanswered closes the segment as ``timeout``; an abandon (before
  or after the leave, AMI does not promise the order) makes it ``abandoned``; an
  answer right after an unanswered leave of the same, latest segment reopens it
  as answered (Asterisk may send QueueCallerLeave before AgentConnect).
- The call's end closes the open segment: ``answered`` if an agent answered,
  else ``abandoned`` (the caller hung up while queued).
Each function is one committed transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select

from callcenter.storage.engine import Database
from callcenter.storage.tables import CallSegment

__all__ = ["enter_queue", "answer_in_queue", "leave_queue", "end_segments", "latest"]

OPEN, ANSWERED, ABANDONED, TIMEOUT, TRANSFERRED = (
    "open", "answered", "abandoned", "timeout", "transferred")


def _latest(call_id: int, queue: str | None = None) -> Select[tuple[CallSegment]]:
    query = select(CallSegment).where(CallSegment.call_id == call_id)
    if queue is not None:
        query = query.where(CallSegment.queue == queue)
    return query.order_by(CallSegment.entered_at.desc(), CallSegment.id.desc()).limit(1)


async def enter_queue(db: Database, call_id: int, queue: str, at: datetime) -> None:
    """The caller joined `queue` at `at` (closing an open segment as transferred)."""
    async with db.sessions() as session:
        same = await session.scalar(select(CallSegment).where(
            CallSegment.call_id == call_id, CallSegment.queue == queue,
            CallSegment.entered_at == at))
        if same is not None:
            return
        current = await session.scalar(select(CallSegment).where(
            CallSegment.call_id == call_id, CallSegment.outcome == OPEN))
        if current is not None:
            current.outcome, current.ended_at = TRANSFERRED, at
        session.add(CallSegment(call_id=call_id, queue=queue, entered_at=at, outcome=OPEN))
        await session.commit()


async def answer_in_queue(db: Database, call_id: int, queue: str, at: datetime,
                          agent_id: int | None) -> None:
    """An agent answered the caller waiting in `queue`."""
    async with db.sessions() as session:
        latest = await session.scalar(_latest(call_id))
        if latest is None or latest.queue != queue or latest.answered_at is not None:
            return
        if latest.outcome not in (OPEN, TIMEOUT):
            return
        latest.outcome, latest.ended_at = OPEN, None
        latest.answered_at, latest.agent_id = at, agent_id
        await session.commit()


async def leave_queue(db: Database, call_id: int, queue: str, at: datetime, *,
                      abandoned: bool) -> None:
    """The caller left `queue`: hung up (`abandoned`) or was let go unanswered (timeout)."""
    async with db.sessions() as session:
        segment = await session.scalar(_latest(call_id, queue))
        if segment is None or segment.answered_at is not None:
            return
        if segment.outcome == OPEN:
            segment.outcome, segment.ended_at = ABANDONED if abandoned else TIMEOUT, at
        elif segment.outcome == TIMEOUT and abandoned:
            segment.outcome = ABANDONED
        else:
            return
        await session.commit()


async def end_segments(db: Database, call_id: int, at: datetime) -> None:
    """The call ended: close its open segment (answered, or abandoned while queued)."""
    async with db.sessions() as session:
        current = await session.scalar(select(CallSegment).where(
            CallSegment.call_id == call_id, CallSegment.outcome == OPEN))
        if current is None:
            return
        current.outcome = ANSWERED if current.answered_at is not None else ABANDONED
        current.ended_at = at
        await session.commit()


async def latest(db: Database, call_id: int) -> CallSegment | None:
    """The call's latest segment (the queue it is in, or was in last), or None."""
    async with db.sessions() as session:
        return await session.scalar(_latest(call_id))
