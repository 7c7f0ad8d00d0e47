"""Fixtures shared by the whole suite.

Storage tests take `db_url` / `db` / `settings`, which are parametrised over
both engines: a fresh migrated SQLite file per test, and a PostgreSQL
database created for this test run (migrated once, dropped at the end,
tables truncated before each test). `served` runs the real app on a real
port. PostgreSQL missing is a skip on a laptop and a failure in CI.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web

from callcenter.app import create_app
from callcenter.clock import FixedClock
from callcenter.demo.serving import app_on_port, free_port
from callcenter.settings import Settings
from callcenter.storage import migrate
from callcenter.storage.engine import Database
from callcenter.storage.tables import Base

PG_ADMIN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
# Most tests send callers to agents without logging anyone in; the tests of routing by agent
# state (tests/crm_api/test_routing_by_agent_state.py) switch ROUTE_TO_READY_AGENTS on.
os.environ.setdefault("ROUTE_TO_READY_AGENTS", "false")
IN_CI = bool(os.environ.get("CI"))


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """Create `cc_test_<random>` for this run, migrate it, drop it afterwards. Yields its URL."""
    if not _pg_reachable():
        if IN_CI:
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (CI must run it)")
        pytest.skip("PostgreSQL not reachable on 127.0.0.1:5432")
    name = f"cc_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def _truncate(url: str) -> None:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each engine."""
    if request.param == "sqlite":
        target = tmp_path / "callcenter.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite+aiosqlite:///{target}"
    url: str = request.getfixturevalue("pg_database")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    """PostgreSQL only (multi-process tests), empty and migrated."""
    url: str = request.getfixturevalue("pg_database")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database.open(db_url)
    yield database
    await database.close()


@pytest.fixture
def clock() -> FixedClock:
    """Monday 2026-05-18 10:00 in Shanghai (02:00 UTC)."""
    return FixedClock(datetime(2026, 5, 18, 2, 0, tzinfo=UTC))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        twilio_auth_token="test-auth-token-0123456789abcdef",  # type: ignore[arg-type]
        public_base_url="http://127.0.0.1:8080",
        secret_key="test-secret",  # type: ignore[arg-type]
        job_loop_enabled=False,
        fastagi_enabled=False,
        ami_enabled=False,
        prompts_dir=tmp_path / "prompts",
        spool_dir=tmp_path / "spool",
        recordings_dir=tmp_path / "recordings",
        reports_dir=tmp_path / "reports",
        log_json=False,
    )


@dataclass
class Served:
    app: web.Application
    base_url: str
    settings: Settings


@pytest.fixture
async def served(settings: Settings, db: Database, clock: FixedClock) -> AsyncIterator[Served]:
    """The real app on a real port; `public_base_url` matches it (Twilio signatures)."""
    port = free_port()
    settings = settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}", "http_port": port})
    app = create_app(settings, db=db, clock=clock)
    async with app_on_port(app, port):
        yield Served(app, f"http://127.0.0.1:{port}", settings)


# the fake Twilio REST API (Prism on Twilio's OpenAPI contract): fixtures `prism`, `twilio_api`
pytest_plugins = ["tests.twilio_rest"]
