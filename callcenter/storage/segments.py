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
The rules work on a call's segments in memory (`entered`, `answered`, `left`, `ended`),
so the AMI call log applies a whole batch of events and writes once; `enter_queue` etc.
are each one committed transaction around one rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.storage.engine import Database
from callcenter.storage.inserts import Insert, pg_array_type
from callcenter.storage.tables import CallSegment

__all__ = ["Segment", "answer_in_queue", "answered", "end_segments", "ended", "enter_queue", "latest",
           "entered", "leave_queue", "left", "load", "load_pg", "save", "save_pg"]

OPEN, ANSWERED, ABANDONED, TIMEOUT, TRANSFERRED = (
    "open", "answered", "abandoned", "timeout", "transferred")


SEGMENTS = CallSegment.__table__


@dataclass
class Segment:
    """One segment in memory (`id` None: not stored yet)."""

    call_id: int
    queue: str
    entered_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    agent_id: int | None = None
    outcome: str = "open"
    id: int | None = None


_COLUMNS = tuple(f.name for f in fields(Segment) if f.name != "id")
_INSERT = insert(SEGMENTS)
#: what a change to a stored segment may write
_CHANGED = ("answered_at", "ended_at", "agent_id", "outcome")
_UPDATE = update(SEGMENTS).where(SEGMENTS.c.id == bindparam("b_id")).values(
    {name: bindparam(f"v_{name}") for name in _CHANGED})


def _latest(segments: Sequence[Segment], queue: str | None = None) -> Segment | None:
    """The call's latest segment (in `queue`): by entry time, then by order of creation."""
    ordered = [(s.entered_at, i, s) for i, s in enumerate(segments)
               if queue is None or s.queue == queue]
    return max(ordered, key=lambda t: (t[0], t[1]))[2] if ordered else None


# -- the rules, on a call's segments in memory (loaded, changed, then saved by the caller) --

def entered(segments: list[Segment], call_id: int, queue: str, at: datetime) -> bool:
    """The caller joined `queue` at `at` (closing an open segment as transferred).
    Appends the new segment to `segments`; False when nothing changed."""
    if any(s.queue == queue and s.entered_at == at for s in segments):
        return False
    for current in segments:
        if current.outcome == OPEN:
            current.outcome, current.ended_at = TRANSFERRED, at
    segments.append(Segment(call_id=call_id, queue=queue, entered_at=at))
    return True


def answered(segments: list[Segment], queue: str, at: datetime, agent_id: int | None) -> bool:
    """An agent answered the caller waiting in `queue`."""
    latest = _latest(segments)
    if latest is None or latest.queue != queue or latest.answered_at is not None:
        return False
    if latest.outcome not in (OPEN, TIMEOUT):
        return False
    latest.outcome, latest.ended_at = OPEN, None
    latest.answered_at, latest.agent_id = at, agent_id
    return True


def left(segments: list[Segment], queue: str, at: datetime, *, abandoned: bool) -> bool:
    """The caller left `queue`: hung up (`abandoned`) or was let go unanswered (timeout)."""
    segment = _latest(segments, queue)
    if segment is None or segment.answered_at is not None:
        return False
    if segment.outcome == OPEN:
        segment.outcome, segment.ended_at = ABANDONED if abandoned else TIMEOUT, at
    elif segment.outcome == TIMEOUT and abandoned:
        segment.outcome = ABANDONED
    else:
        return False
    return True


def ended(segments: list[Segment], at: datetime) -> bool:
    """The call ended: close its open segment (answered, or abandoned while queued)."""
    changed = False
    for current in segments:
        if current.outcome == OPEN:
            current.outcome = ANSWERED if current.answered_at is not None else ABANDONED
            current.ended_at = at
            changed = True
    return changed


Loaded = dict[int, list[Segment]]


async def load(session: AsyncSession, call_ids: Iterable[int]) -> tuple[Loaded, Loaded]:
    """The segments of these calls (one SELECT), each call's in entry order; and a copy
    of them as loaded, for `save`."""
    found: Loaded = {call_id: [] for call_id in call_ids}
    if found:
        rows = await session.execute(select(*(SEGMENTS.c[n] for n in (*_COLUMNS, "id"))).where(
            SEGMENTS.c.call_id.in_(list(found))).order_by(SEGMENTS.c.entered_at, SEGMENTS.c.id))
        for row in rows:
            found[row.call_id].append(Segment(**row._asdict()))
    return found, _copy(found)


def _copy(found: Loaded) -> Loaded:
    """The segments as loaded, apart from the ones the caller will change."""
    return {cid: [Segment(**vars(s)) for s in segs] for cid, segs in found.items()}


def _diff(segments: Loaded, as_loaded: Loaded) -> tuple[list[dict[str, object]], list[Segment]]:
    """What changed since `load`: the new segments' rows, the stored segments changed."""
    new: list[dict[str, object]] = []
    changed: list[Segment] = []
    for call_id, segs in segments.items():
        before = {s.id: s for s in as_loaded.get(call_id, [])}
        for seg in segs:
            if seg.id is None:
                new.append({name: getattr(seg, name) for name in _COLUMNS})
            elif seg != before.get(seg.id):
                changed.append(seg)
    return new, changed


async def save(session: AsyncSession, segments: Loaded, as_loaded: Loaded) -> None:
    """Write what changed since `load`: one INSERT of the new segments, one UPDATE (run for
    each changed one) of the rest."""
    new, changed = _diff(segments, as_loaded)
    if changed:
        await session.execute(_UPDATE, [{"b_id": seg.id, **{f"v_{n}": getattr(seg, n) for n in _CHANGED}}
                                        for seg in changed])
    if new:
        await session.execute(_INSERT, new)


# PostgreSQL, on the driver (asyncpg) connection of a batch: the same load and save, each one
# statement whatever the number of calls (parameters one array per column)
_PG_LOAD = (f"SELECT {', '.join((*_COLUMNS, 'id'))} FROM call_segments "
            "WHERE call_id = ANY($1::bigint[]) ORDER BY entered_at, id")
_PG_TABLE = cast(Table, SEGMENTS)
_PG_ROWS = Insert(_PG_TABLE, _COLUMNS)
_PG_INSERT, _PG_INSERT_NAMES = _PG_ROWS.from_arrays(1, "s")
_PG_UPDATE = (
    f"UPDATE call_segments SET {', '.join(f'{n} = u.{n}' for n in _CHANGED)} FROM unnest("
    f"$1::bigint[], {', '.join(f'${2 + i}::{pg_array_type(_PG_TABLE.c[n])}[]' for i, n in enumerate(_CHANGED))}"
    f") AS u(id, {', '.join(_CHANGED)}) WHERE call_segments.id = u.id")


async def load_pg(connection: Any, call_ids: Iterable[int]) -> tuple[Loaded, Loaded]:
    """`load` on an asyncpg connection."""
    found: Loaded = {call_id: [] for call_id in call_ids}
    if found:
        for row in await connection.fetch(_PG_LOAD, list(found)):
            found[row["call_id"]].append(Segment(**dict(row)))
    return found, _copy(found)


async def save_pg(connection: Any, segments: Loaded, as_loaded: Loaded) -> None:
    """`save` on an asyncpg connection."""
    new, changed = _diff(segments, as_loaded)
    if changed:
        await connection.execute(_PG_UPDATE, [s.id for s in changed],
                                 *([getattr(s, n) for s in changed] for n in _CHANGED))
    if new:
        await connection.execute(_PG_INSERT, *_PG_ROWS.arrays(_PG_INSERT_NAMES, new))


async def _apply(db: Database, call_id: int, change: Callable[[list[Segment]], bool]) -> None:
    async with db.sessions() as session:
        found, as_loaded = await load(session, [call_id])
        if change(found[call_id]):
            await save(session, found, as_loaded)
            await session.commit()


async def enter_queue(db: Database, call_id: int, queue: str, at: datetime) -> None:
    """The caller joined `queue` at `at` (closing an open segment as transferred)."""
    await _apply(db, call_id, lambda segs: entered(segs, call_id, queue, at))


async def answer_in_queue(db: Database, call_id: int, queue: str, at: datetime,
                          agent_id: int | None) -> None:
    """An agent answered the caller waiting in `queue`."""
    await _apply(db, call_id, lambda segs: answered(segs, queue, at, agent_id))


async def leave_queue(db: Database, call_id: int, queue: str, at: datetime, *,
                      abandoned: bool) -> None:
    """The caller left `queue`: hung up (`abandoned`) or was let go unanswered (timeout)."""
    await _apply(db, call_id, lambda segs: left(segs, queue, at, abandoned=abandoned))


async def end_segments(db: Database, call_id: int, at: datetime) -> None:
    """The call ended: close its open segment (answered, or abandoned while queued)."""
    await _apply(db, call_id, lambda segs: ended(segs, at))


async def latest(db: Database, call_id: int) -> Segment | None:
    """The call's latest segment (the queue it is in, or was in last), or None."""
    async with db.sessions() as session:
        found, _ = await load(session, [call_id])
    return _latest(found[call_id])
