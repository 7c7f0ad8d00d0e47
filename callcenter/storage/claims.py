"""Claim a row by its unique key, once across processes (a scheduled report's run, an e-mail's delivery).

`claim(db, row, take_over)` inserts `row` and commits: the unique key lets one
process win. When the key is taken already, `take_over` (an UPDATE whose WHERE
says when an earlier claim may be taken over: it failed, or its process died)
runs instead, and the claim is this process's only when it changed the row.
"""

from __future__ import annotations

from sqlalchemy import Update
from sqlalchemy.exc import IntegrityError

from callcenter.storage.engine import Database


async def claim(db: Database, row: object, take_over: Update) -> bool:
    """True when this process holds the claim (committed) on `row`'s unique key."""
    async with db.sessions() as session:
        session.add(row)
        try:
            await session.commit()
            return True
        except IntegrityError:
            await session.rollback()
        result = await session.execute(take_over)
        await session.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]
