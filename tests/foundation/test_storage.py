"""Storage on both engines: migrations, the UTC column type, append-only history."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from callcenter.storage import migrate
from callcenter.storage.engine import Database
from callcenter.storage.tables import Base, Complaint, ComplaintHistory, Customer
from callcenter.storage.types import NaiveDatetimeError
from tests import factories
from tests.conftest import PG_ADMIN, _pg_reachable


def _fresh_urls(tmp_path: Path) -> list[tuple[str, str | None]]:
    urls: list[tuple[str, str | None]] = [(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}", None)]
    if _pg_reachable():
        name = f"cc_mig_{uuid.uuid4().hex[:10]}"
        base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        urls.append((f"{base}/{name}", name))
    return urls


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _tables(url: str) -> set[str]:
    db = Database.open(url)
    try:
        async with db.engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await db.close()


async def _diff(url: str) -> list[object]:
    db = Database.open(url)
    try:
        async with db.engine.connect() as conn:
            return await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
    finally:
        await db.close()


def test_migrations_upgrade_downgrade_and_upgrade_again_on_both_engines(tmp_path: Path) -> None:
    for url, pg_name in _fresh_urls(tmp_path):
        if pg_name:
            asyncio.run(_admin(f'CREATE DATABASE "{pg_name}"'))
        try:
            migrate.upgrade(url)
            assert {"customers", "calls", "complaints", "callbacks"} <= asyncio.run(_tables(url))
            assert asyncio.run(_diff(url)) == [], "models and migrations disagree"
            migrate.downgrade(url, "base")
            assert asyncio.run(_tables(url)) <= {"alembic_version"}
            migrate.upgrade(url)
            assert "surveys" in asyncio.run(_tables(url))
        finally:
            if pg_name:
                asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


async def test_naive_datetime_is_refused_with_a_clear_error(db: Database) -> None:
    async with db.sessions() as session:
        session.add(Customer(name="x", created_at=datetime(2026, 5, 1, 12, 0)))
        with pytest.raises(StatementError) as info:
            await session.commit()
    assert isinstance(info.value.orig, NaiveDatetimeError)
    assert "naive datetime" in str(info.value.orig)


async def test_aware_datetimes_come_back_in_utc(db: Database) -> None:
    shanghai = timezone(timedelta(hours=8))
    async with db.sessions() as session:
        session.add(Customer(name="x", created_at=datetime(2026, 5, 1, 8, 0, tzinfo=shanghai)))
        await session.commit()
    async with db.sessions() as session:
        got = await session.scalar(select(Customer.created_at))
    assert got == datetime(2026, 5, 1, 0, 0, tzinfo=UTC)
    assert got is not None and got.utcoffset() == timedelta(0)


async def test_complaint_history_rows_can_never_be_edited_or_deleted(db: Database) -> None:
    cust = await factories.customer(db)
    now = datetime(2026, 5, 1, tzinfo=UTC)
    async with db.sessions() as session:
        complaint = Complaint(
            ticket="T1", customer_id=cust.id, channel="agent", category="billing", opened_at=now
        )
        session.add(complaint)
        await session.flush()
        session.add(ComplaintHistory(
            complaint_id=complaint.id, at=now, actor_label="ivr", action="open", to_state="new"
        ))
        await session.commit()
    for sql in ("UPDATE complaint_history SET note = 'edited'", "DELETE FROM complaint_history"):
        async with db.sessions() as session:
            with pytest.raises((DBAPIError, IntegrityError)) as info:
                await session.execute(text(sql))
                await session.commit()
            assert "append-only" in str(info.value)
    async with db.sessions() as session:
        assert (await session.scalar(select(ComplaintHistory.note))) is None
