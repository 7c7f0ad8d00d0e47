"""The agent state-time log: one row per stretch of time in one state.

Guarantees:
- `record_span` runs inside the transaction that stores the agent's status:
  the open span is closed and the next opened together, or neither.
- Closing a hold or wrap-up span adds its length to the call's ``hold_s`` /
  ``wrapup_s`` (the AHT's hold and wrap-up are recorded, not typed in).
- A repeated status (same state, same reason, same call) keeps the open span;
  a new reason or a new call starts a new one.
- `load_spans` returns every span that overlaps a window (open spans end at
  `now`), the rows the state-time report and AHT are computed from.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.storage.engine import Database
from callcenter.storage.tables import AgentStateSpan, Call, Staff

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SPAN_COLUMNS", "load_spans", "record_span"]

#: Spans whose time is added to the call they belong to, and the calls column it goes to.
_CALL_TIME = {"hold": "hold_s", "wrap_up": "wrapup_s"}
SPAN_COLUMNS = ["staff_id", "staff_name", "department_id", "state", "reason", "carrier_call_id",
                "started_at", "ended_at"]


async def record_span(conn: AsyncConnection, staff_id: int, state: str, reason: str | None,
                      carrier_call_id: str | None, at: datetime) -> None:
    t = AgentStateSpan.__table__
    open_row = (await conn.execute(
        select(t.c.id, t.c.state, t.c.reason, t.c.carrier_call_id, t.c.started_at)
        .where(t.c.staff_id == staff_id, t.c.ended_at.is_(None))
        .order_by(t.c.id.desc()).limit(1)
    )).first()
    if open_row is not None:
        if (open_row.state, open_row.reason, open_row.carrier_call_id) == (state, reason, carrier_call_id):
            return
        ended = max(at, open_row.started_at)  # a late event never makes a negative span
        await conn.execute(update(t).where(t.c.staff_id == staff_id, t.c.ended_at.is_(None))
                           .values(ended_at=ended))
        column = _CALL_TIME.get(open_row.state)
        if column is not None and open_row.carrier_call_id:  # the call's hold / wrap-up time
            c = Call.__table__
            seconds = (ended - open_row.started_at).total_seconds()
            await conn.execute(update(c).where(c.c.carrier_call_id == open_row.carrier_call_id)
                               .values({column: c.c[column] + seconds}))
        at = ended
    await conn.execute(insert(t).values(staff_id=staff_id, state=state, reason=reason,
                                        carrier_call_id=carrier_call_id, started_at=at))


async def load_spans(db: Database, start: datetime, end: datetime, now: datetime,
                     staff_ids: list[int] | None = None) -> pd.DataFrame:
    """Spans overlapping [start, end), open ones closed at ``now``, with the agent's name."""
    t = AgentStateSpan.__table__
    query = (select(t.c.staff_id, Staff.name.label("staff_name"), Staff.department_id, t.c.state,
                    t.c.reason, t.c.carrier_call_id, t.c.started_at, t.c.ended_at)
             .join(Staff, Staff.id == t.c.staff_id)
             .where(t.c.started_at < end, or_(t.c.ended_at.is_(None), and_(t.c.ended_at > start)))
             .order_by(t.c.staff_id, t.c.started_at, t.c.id))
    if staff_ids is not None:
        query = query.where(t.c.staff_id.in_(staff_ids))
    async with db.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    import pandas as pd  # loaded by the reports that ask, not by every worker

    frame = pd.DataFrame([tuple(r) for r in rows], columns=SPAN_COLUMNS)
    frame["ended_at"] = frame["ended_at"].where(frame["ended_at"].notna(), now)
    return frame
