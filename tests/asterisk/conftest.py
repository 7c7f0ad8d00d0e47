"""Shared pieces of the Asterisk adapter tests: a small back office, our FastAGI server on a
real port, and a carrier-neutral projection of what a call left in the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.clock import FixedClock
from callcenter.hotline.turns import HotlineDriver
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, CallEvent, Complaint, Department, Survey
from callcenter.storage.turn_store_sql import SqlTurnStore
from callcenter.telephony.asterisk.agi_hotline import HotlineAgi
from callcenter.telephony.asterisk.fastagi import FastAgiServer
from tests import factories

CALLER_A = "+8613800138000"  # calls through the driver directly (as Twilio does)
CALLER_B = "+8613900139000"  # calls through the fake Asterisk


async def back_office(db: Database) -> dict[str, int]:
    """A service department with a manager, a technician and two customers with a job each."""
    dep = await factories.department(db, "SVC")
    head = await factories.staff(db, "svc-head", ["manager"], dep.id)
    async with db.sessions() as session:
        row = await session.get(Department, dep.id)
        assert row is not None
        row.manager_id = head.id
        await session.commit()
    tech = await factories.staff(db, "tech-li", ["technician"], dep.id)
    ids: dict[str, int] = {"manager": head.id}
    for name, phone, ref in (("张三", CALLER_A, "J-1"), ("李四", CALLER_B, "J-2")):
        customer = await factories.customer(db, name, (phone,), department_id=dep.id)
        await factories.job(db, customer.id, ref, technician_id=tech.id, department_id=dep.id,
                            completed_at=datetime(2026, 5, 17, 8, tzinfo=UTC))
        ids[phone] = customer.id
    return ids


async def call_outcome(db: Database, carrier_call_id: str) -> dict[str, Any]:
    """What one call left behind, without carrier-specific ids, urls or times."""
    async with db.sessions() as session:
        call = await session.scalar(select(Call).where(Call.carrier_call_id == carrier_call_id))
        assert call is not None, f"no call {carrier_call_id}"
        survey = await session.scalar(select(Survey).where(Survey.call_id == call.id))
        complaint = await session.scalar(select(Complaint).where(Complaint.call_id == call.id))
        steps = (await session.scalars(
            select(CallEvent).where(CallEvent.call_id == call.id, CallEvent.kind == "ivr_step")
            .order_by(CallEvent.id))).all()
    return {
        "ended": call.ended_at is not None, "disposition": call.disposition,
        "ivr_path": call.ivr_path, "queue": call.queue, "queued": call.queued_at is not None,
        "customer_found": call.customer_id is not None,
        "survey": None if survey is None else (
            survey.timeliness, survey.quality, survey.attitude, survey.complete, survey.source,
            survey.verification),
        "complaint": None if complaint is None else (
            complaint.category, complaint.channel, complaint.state, complaint.severity,
            complaint.owner_id is not None, complaint.recording_url is not None),
        "steps": [(s.node, (s.detail or {}).get("keys"), (s.detail or {}).get("outcome"))
                  for s in steps],
    }


async def until(check: Callable[[], Any], within_s: float = 10.0) -> None:
    """Poll `check` (sync, or returning an awaitable) until it is truthy."""
    async with asyncio.timeout(within_s):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.02)


@pytest.fixture
def driver(db: Database, settings: Settings, clock: FixedClock) -> HotlineDriver:
    return HotlineDriver(SqlTurnStore(db), settings, clock)


@pytest.fixture
async def fastagi(driver: HotlineDriver, tmp_path: Path) -> AsyncIterator[FastAgiServer]:
    """Our FastAGI server with the hotline routes, on a free port."""
    handlers = HotlineAgi(driver, recordings_dir=tmp_path / "recordings",
                          end_on_queue_hangup=True)
    server = FastAgiServer(handlers.routes(), port=0, command_deadline_s=5.0)
    await server.start()
    try:
        yield server
    finally:
        await server.close()
