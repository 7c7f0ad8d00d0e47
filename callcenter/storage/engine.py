"""Engine and session factory for SQLite (embedded default) and PostgreSQL.

Nothing connects at import time: `Database.open(url)` builds the engine, and
`close()` disposes it. SQLite gets WAL, foreign keys and a busy timeout on
every connection so several tasks (and a second process) can share the file.

PostgreSQL connections are not pinged on every checkout (``pool_pre_ping``
costs one round trip per transaction; pass ``pre_ping=True`` to get it back):
they are recycled after `POOL_RECYCLE_S`, and when a statement finds its
connection dead SQLAlchemy invalidates it *and every connection opened
before it*, so a caller that retries once (see `is_disconnect`) gets a fresh
one. The pool keeps all its connections (``2 * pool_size``, no overflow that
would be closed and reopened under load: a connect plus a re-prepare of every
statement each time); callers beyond that wait for a free connection. asyncpg keeps a per-connection prepared-statement cache
(`STATEMENT_CACHE`), so the hot path's statements are parsed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


POOL_RECYCLE_S = 1800
STATEMENT_CACHE = 500


def is_disconnect(exc: BaseException) -> bool:
    """The statement failed because its connection died (server restart, idle cut):
    the pool has dropped it, and retrying the whole transaction once is safe."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False,
                pre_ping: bool = False, connections: int | None = None) -> AsyncEngine:
    """`connections`: exactly this many PostgreSQL connections at most (the service's
    share of its per-process budget, `callcenter.app.connection_budget`); else
    ``2 * pool_size``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        # every connection is kept (no overflow): an overflow connection is closed on its
        # return, so under steady load each burst paid a connect (TLS probe, auth, codec
        # set-up) and re-prepared every statement on the new connection
        return create_async_engine(
            url, echo=echo, pool_size=connections or 2 * pool_size, max_overflow=0,
            pool_pre_ping=pre_ping,
            pool_recycle=POOL_RECYCLE_S,
            connect_args={"prepared_statement_cache_size": STATEMENT_CACHE},
        )
    raise ValueError(
        f"unsupported DATABASE_URL backend {parsed.get_backend_name()!r}: use "
        "sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db"
    )


@dataclass
class Database:
    """An open engine plus its session factory."""

    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @classmethod
    def open(cls, url: str, *, pool_size: int = 10, pre_ping: bool = False,
             connections: int | None = None) -> Database:
        engine = make_engine(url, pool_size=pool_size, pre_ping=pre_ping, connections=connections)
        return cls(url, engine, async_sessionmaker(engine, expire_on_commit=False))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
