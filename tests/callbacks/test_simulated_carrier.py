"""The simulated Twilio carrier with the real dispatcher and the real app on a port, both engines.

Its callees answer through signed webhooks (`/twilio/callback-flow`, gathers,
`/twilio/status?attempt=`), so what a callback leaves is what Twilio would leave.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import select

from callcenter.callbacks.config import dispatch_config
from callcenter.callbacks.loop import Dispatcher
from callcenter.clock import FixedClock
from callcenter.demo.simulated_twilio import Callee, SimulatedTwilioCarrier
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, Survey
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import DialOutcome
from crm.services.callback_ports import CallbackRecord, PlacedAttempt
from crm.services.callbacks import schedule_post_repair
from tests import factories
from tests.callbacks.builders import callback_row
from tests.conftest import Served

PHONE = "+8613912345678"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def repaired_job(db: Database, clock: FixedClock) -> CallbackRecord:
    """A customer whose repair was completed yesterday, with its post-repair callback."""
    dep = await factories.department(db, "SVC")
    tech = await factories.staff(db, "tech-li", ["technician"], dep.id)
    customer = await factories.customer(db, "李四", (PHONE,), department_id=dep.id)
    job = await factories.job(db, customer.id, "J-7", technician_id=tech.id, department_id=dep.id,
                              completed_at=clock() - timedelta(hours=20))
    return await schedule_post_repair(job.id, SqlUnitOfWork(db), clock)  # type: ignore[arg-type]


async def one_pass(served: Served, db: Database, clock: FixedClock,
                   carrier: SimulatedTwilioCarrier) -> int:
    dispatcher = Dispatcher(db, carrier, dispatch_config(served.settings, "w1"), clock=clock)
    sent = await dispatcher.dispatch()
    await carrier.settle()
    return sent


async def test_callee_who_answers_the_post_repair_call_leaves_a_first_hand_survey(
        served: Served, db: Database, clock: FixedClock, http: aiohttp.ClientSession) -> None:
    cb = await repaired_job(db, clock)
    carrier = SimulatedTwilioCarrier(http, served.settings,
                                     {PHONE: Callee("answer", ("1", "2", "1", "1"))})

    assert await one_pass(served, db, clock, carrier) == 1

    row = await callback_row(db, cb.id)
    assert (row.state, row.attempts) == ("completed", 1)
    async with db.sessions() as session:
        survey = await session.scalar(select(Survey).where(Survey.job_id == cb.job_id))
    assert survey is not None
    assert (survey.timeliness, survey.quality, survey.attitude, survey.verification) == (
        "A", "B", "A", "first_hand")


async def test_an_answered_callback_call_is_logged_as_answered(
        served: Served, db: Database, clock: FixedClock, http: aiohttp.ClientSession) -> None:
    await repaired_job(db, clock)
    carrier = SimulatedTwilioCarrier(http, served.settings,
                                     {PHONE: Callee("answer", ("1", "2", "1", "1"))})
    assert await one_pass(served, db, clock, carrier) == 1
    async with db.sessions() as session:
        call = await session.scalar(select(Call).where(Call.direction == "outbound"))
    assert call is not None and call.answered_at is not None
    assert call.disposition == "answered"


async def test_busy_callee_puts_the_callback_back_to_wait_for_the_backoff(
        served: Served, db: Database, clock: FixedClock, http: aiohttp.ClientSession) -> None:
    cb = await repaired_job(db, clock)
    carrier = SimulatedTwilioCarrier(http, served.settings, {PHONE: Callee("busy")})

    await one_pass(served, db, clock, carrier)

    row = await callback_row(db, cb.id)
    assert (row.state, row.attempts) == ("retry_wait", 1)
    assert row.next_attempt_at.replace(tzinfo=UTC) == clock() + timedelta(minutes=15)


async def test_carrier_lookup_reports_the_call_it_placed_and_nothing_else(
        served: Served, db: Database, clock: FixedClock, http: aiohttp.ClientSession) -> None:
    cb = await repaired_job(db, clock)
    carrier = SimulatedTwilioCarrier(http, served.settings, {PHONE: Callee("no-answer")})
    await one_pass(served, db, clock, carrier)
    attempt_id = next(iter(carrier.calls))

    found = await carrier.lookup(PlacedAttempt(attempt_id, cb.id, PHONE, clock(), None))
    never = await carrier.lookup(PlacedAttempt("not-ours", cb.id, PHONE, clock(), None))

    assert found is not None and (found.outcome, found.ended) == (DialOutcome.NO_ANSWER, True)
    assert never is None


async def test_callee_outside_the_window_is_not_dialled(
        served: Served, db: Database, http: aiohttp.ClientSession) -> None:
    evening = FixedClock(datetime(2026, 5, 18, 13, 30, tzinfo=UTC))  # 21:30 in Shanghai
    await repaired_job(db, evening)
    carrier = SimulatedTwilioCarrier(http, served.settings, {PHONE: Callee("answer")})

    assert await one_pass(served, db, evening, carrier) == 0
    assert carrier.calls == {}
