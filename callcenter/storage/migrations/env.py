"""Alembic environment: runs migrations over the async engine for either backend.

On PostgreSQL the migration transaction first takes an advisory lock, so several
service replicas starting at once (`docker compose up --scale service=3`, each
running `callcenter db upgrade`) migrate one after the other: the first does
the work, the others find the schema at head and do nothing.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from callcenter.storage.engine import make_engine
from callcenter.storage.tables import Base

config = context.config
target_metadata = Base.metadata
MIGRATION_LOCK = 4_573_5038  # any constant shared by every replica


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        context.run_migrations()


async def _run_async() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())
