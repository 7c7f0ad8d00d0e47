"""Rate limits shared by every service process, kept in the `rate_events` table.

Guarantee: `attempt` records the attempt first, commits, then counts the attempts
in the window, so two processes racing for the last slot can both be refused
but never both admitted: the limit holds across processes. Attempts older
than the window are pruned as the key is used, and `attempt` deletes every
attempt older than a day (`KEEP`), so keys used once cannot pile up.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from callcenter.storage.engine import Database
from callcenter.storage.tables import RateEvent

KEEP = timedelta(days=1)
"""Attempts older than this (or than the window asked for, if longer) are deleted by `attempt`."""


async def attempt(db: Database, keys: list[str], *, now: datetime, window: timedelta) -> tuple[list[int], list[int]]:
    """Record one attempt under each of `keys` (committed before counting); return the new
    rows' ids and, per key, the attempts within `window` counting this one."""
    since = now - window
    async with db.sessions() as session:
        rows = [RateEvent(key=key[:120], at=now) for key in keys]
        session.add_all(rows)
        await session.flush()
        ids = [r.id for r in rows]
        await session.execute(delete(RateEvent).where(RateEvent.key.in_([k[:120] for k in keys]),
                                                      RateEvent.at <= since))
        # keys used once (sprayed usernames, addresses) are pruned by age, not by reuse
        await session.execute(delete(RateEvent).where(RateEvent.at <= now - max(window, KEEP)))
        await session.commit()
        counts = []
        for key in keys:
            counts.append(int(await session.scalar(
                select(func.count()).select_from(RateEvent)
                .where(RateEvent.key == key[:120], RateEvent.at > since)) or 0))
        return ids, counts


async def oldest(db: Database, key: str, *, now: datetime, window: timedelta) -> datetime | None:
    """When the oldest attempt still within `window` was made (None: none is)."""
    async with db.sessions() as session:
        found: datetime | None = await session.scalar(
            select(func.min(RateEvent.at)).where(RateEvent.key == key[:120], RateEvent.at > now - window))
        return found


async def forget(db: Database, ids: list[int] | None = None, key: str | None = None) -> None:
    """Take back attempts: the rows `ids`, and every attempt under `key`."""
    async with db.sessions() as session:
        if ids:
            await session.execute(delete(RateEvent).where(RateEvent.id.in_(ids)))
        if key is not None:
            await session.execute(delete(RateEvent).where(RateEvent.key == key[:120]))
        await session.commit()
