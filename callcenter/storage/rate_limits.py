"""Rate limits shared by every service process, kept in the `rate_events` table.

Guarantee: `hit` records the attempt first, commits, then counts the attempts
in the window, so two processes racing for the last slot can both be refused
but never both admitted: the limit holds across processes. Attempts older
than the window are pruned as the key is used.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from callcenter.storage.engine import Database
from callcenter.storage.tables import RateEvent


async def hit(db: Database, key: str, *, now: datetime, window: timedelta, limit: int) -> bool:
    """Count one attempt against `key`; True while at most `limit` fall within `window`."""
    since = now - window
    async with db.sessions() as session:
        session.add(RateEvent(key=key[:120], at=now))
        await session.execute(delete(RateEvent).where(RateEvent.key == key[:120], RateEvent.at <= since))
        await session.commit()
        count = await session.scalar(
            select(func.count()).select_from(RateEvent).where(RateEvent.key == key[:120], RateEvent.at > since)
        )
    return int(count or 0) <= limit
