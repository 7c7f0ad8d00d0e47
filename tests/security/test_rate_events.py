"""The rate-limit table cannot grow without bound under sprayed keys (both engines)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callcenter.storage import rate_limits
from callcenter.storage.engine import Database
from callcenter.storage.tables import RateEvent

T0 = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


async def test_parallel_keys_are_counted_each_and_taken_back_by_id(db: Database) -> None:
    ids, counts = await rate_limits.attempt(db, ["login:account:x", "login:client:1.2.3.4"], now=T0, window=WINDOW)
    _, again = await rate_limits.attempt(db, ["login:account:x", "login:client:1.2.3.4"], now=T0, window=WINDOW)
    assert counts == [1, 1] and again == [2, 2]
    await rate_limits.forget(db, ids[1:], key="login:account:x")
    async with db.sessions() as session:
        left = (await session.scalars(select(RateEvent.key))).all()
    assert left == ["login:client:1.2.3.4"]


async def test_keys_used_once_are_pruned_after_a_day(db: Database) -> None:
    for i in range(5):
        await rate_limits.attempt(db, [f"login:account:sprayed-{i}"], now=T0, window=WINDOW)
    await rate_limits.attempt(db, ["login:account:today"], now=T0 + timedelta(days=1, seconds=1), window=WINDOW)
    async with db.sessions() as session:
        keys = (await session.scalars(select(RateEvent.key))).all()
    assert keys == ["login:account:today"]
