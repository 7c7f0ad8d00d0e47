"""Hold on Asterisk is measured from the AMI Hold / Unhold events: the agent's state goes
hold and back, and the call's hold time is the stored hold spans (AHT's hold)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from sqlalchemy import select

from callcenter.app import create_app
from callcenter.appkeys import AMI, CALL_LOG, SERVICES
from callcenter.clock import FixedClock
from callcenter.screenpop import service as screenpop
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import AgentStateSpan, Call, CallEvent, Staff
from tests import factories
from tests.asterisk.conftest import back_office, until
from tests.asterisk.fake_ami import FakeAmi, message
from tests.asterisk.test_ami import QUEUE_CALL


def hold_event(name: str, at: float) -> bytes:
    return message(("Event", name), ("Timestamp", f"{at:.1f}"), ("Channel", "PJSIP/1001-00000008"),
                   ("Uniqueid", "q-2"), ("Linkedid", "q-1"))


# the recorded queue call with the agent holding the caller for 25 s in the middle of the talk
HELD_CALL = [*QUEUE_CALL[:4], hold_event("Hold", 1795432950.0), hold_event("Unhold", 1795432975.0),
             *QUEUE_CALL[4:]]


@pytest.fixture
async def app_on_fake_ami(settings: Settings, db: Database, clock: FixedClock
                          ) -> AsyncIterator[tuple[web.Application, FakeAmi]]:
    await back_office(db)
    await factories.staff(db, "agent-wang", ["agent"], extension="1001")  # before the events flow
    fake = FakeAmi(HELD_CALL)
    await fake.start()
    app = create_app(settings.model_copy(update={"ami_enabled": True, "ami_port": fake.port,
                                                 "agent_wrap_up_s": 0.2}),
                     db=db, clock=clock)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        yield app, fake
    finally:
        await runner.cleanup()
        await fake.close()


async def test_hold_events_make_a_hold_span_and_the_calls_hold_time(
        app_on_fake_ami: tuple[web.Application, FakeAmi], db: Database) -> None:
    app, fake = app_on_fake_ami
    await app[SERVICES][AMI].wait_connected(5)
    await until(lambda: fake.cursor == len(HELD_CALL) and not app[SERVICES][CALL_LOG].open_calls, 10)

    async def spans() -> list[AgentStateSpan]:
        await screenpop(app).settle()
        async with db.sessions() as s:
            return list((await s.scalars(select(AgentStateSpan).join(Staff).where(
                Staff.username == "agent-wang").order_by(AgentStateSpan.id))).all())

    for _ in range(50):  # the wrap-up ends 0.2 s after the call's end hooks ran
        if [x.state for x in await spans()][-1:] == ["ready"]:
            break
        await asyncio.sleep(0.1)
    spans_now = await spans()
    async with db.sessions() as s:
        call = await s.scalar(select(Call).where(Call.carrier_call_id == "q-1"))
        kinds = set((await s.scalars(select(CallEvent.kind))).all())
    assert [x.state for x in spans_now] == ["ringing", "on_call", "hold", "on_call", "wrap_up", "ready"]
    hold = spans_now[2]
    assert hold.ended_at is not None and (hold.ended_at - hold.started_at).total_seconds() == 25
    assert call is not None and call.hold_s == 25
    assert {"hold", "unhold"} <= kinds
