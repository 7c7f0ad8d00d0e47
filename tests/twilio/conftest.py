"""Twilio tests: the real app on a real port, callers signed with Twilio's own validator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import func, select

from callcenter.demo.simulated_twilio import SimulatedCaller
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Base, Department
from tests import factories
from tests.twilio_rest import TwilioApi

CALLER = "+8613800138000"
STRANGER = "+8613911112222"


@dataclass(frozen=True)
class Hotline:
    customer_id: int
    job_id: int


async def seed_hotline(db: Database) -> Hotline:
    """A service department with a head, a technician, a known caller and a completed job."""
    dep = await factories.department(db, "SVC")
    head = await factories.staff(db, "svc-head", ["manager"], dep.id)
    async with db.sessions() as session:
        row = await session.get(Department, dep.id)
        assert row is not None
        row.manager_id = head.id
        await session.commit()
    tech = await factories.staff(db, "tech-li", ["technician"], dep.id)
    customer = await factories.customer(db, "张三", (CALLER,), department_id=dep.id)
    job = await factories.job(db, customer.id, "J-1", technician_id=tech.id, department_id=dep.id,
                              completed_at=datetime(2026, 5, 17, 8, tzinfo=UTC))
    return Hotline(customer.id, job.id)


async def row_counts(db: Database) -> dict[str, int]:
    """Rows in every table: what "the database is unchanged" means."""
    counts: dict[str, int] = {}
    async with db.sessions() as session:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = int(await session.scalar(select(func.count()).select_from(table)) or 0)
    return counts


@pytest.fixture
async def hotline(db: Database) -> Hotline:
    return await seed_hotline(db)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


NewCaller = Callable[..., SimulatedCaller]


@pytest.fixture
def caller(served, http: aiohttp.ClientSession) -> NewCaller:  # type: ignore[no-untyped-def]
    """`caller(from_number=...)`: a simulated Twilio caller against the served app."""
    token = served.settings.twilio_auth_token.get_secret_value()

    def make(**kw: object) -> SimulatedCaller:
        return SimulatedCaller(http, served.base_url, token, **kw)  # type: ignore[arg-type]

    return make


Counts = Callable[[], Awaitable[dict[str, int]]]


@pytest.fixture
def settings(settings: Settings, twilio_api: TwilioApi) -> Settings:
    """Twilio's REST API is the contract-checked fake (the conference flow talks to it)."""
    return settings.model_copy(update={"twilio_api_base_url": twilio_api.url})
