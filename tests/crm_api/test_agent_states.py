"""Agent states through the API and the carrier events: every change is a stored span."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import select

from callcenter.appkeys import SERVICES
from callcenter.clock import FixedClock
from callcenter.screenpop import (
    AgentStatus,
    call_answered,
    call_ended,
    call_held,
    offer_call,
    service,
)
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import AgentStateSpan, Call
from tests import factories
from tests.conftest import Served
from tests.crm_api.conftest import Api, People
from tests.crm_api.test_screenpop import offer


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"agent_wrap_up_s": 0.4})


async def spans_of(db: Database, staff_id: int) -> list[tuple[str, str | None, float | None]]:
    async with db.sessions() as s:
        rows = (await s.scalars(select(AgentStateSpan).where(AgentStateSpan.staff_id == staff_id)
                                .order_by(AgentStateSpan.id))).all()
    return [(r.state, r.reason, None if r.ended_at is None else
             (r.ended_at - r.started_at).total_seconds()) for r in rows]


async def test_going_not_ready_with_a_reason_is_stored_with_its_time(
    as_: Callable[[str], Api], people: People, db: Database, clock: FixedClock,
) -> None:
    agent = as_("agent_a")
    status, body = await agent.call("POST", "/api/agent/status", json={"status": "ready"})
    assert status == 200 and body["status"] == "ready"  # type: ignore[index]
    clock.advance(minutes=10)
    status, body = await agent.call("POST", "/api/agent/status",
                                    json={"status": " Not-Ready ", "reason": "TRAINING"})
    assert status == 200, body
    assert (body["status"], body["reason"]) == ("not_ready", "training")  # type: ignore[index]
    assert "break" in body["reasons"]  # type: ignore[index]
    assert await spans_of(db, people.agent_a) == [("ready", None, 600.0), ("not_ready", "training", None)]


@pytest.mark.parametrize("payload", [
    {"status": "busy"}, {"status": "on_call"}, {"status": "wrap_up"},
    {"status": "not_ready", "reason": "nap"}, {"status": "ready", "reason": "break"},
    {"status": None}, {"reason": "break"},
])
async def test_an_unknown_state_or_reason_gets_422_and_changes_nothing(
    as_: Callable[[str], Api], people: People, db: Database, payload: dict[str, object],
) -> None:
    agent = as_("agent_a")
    await agent.call("POST", "/api/agent/status", json={"status": "not_ready", "reason": "break"})
    status, _ = await agent.call("POST", "/api/agent/status", json=payload)
    assert status == 422
    _, body = await agent.call("GET", "/api/agent/state")
    assert (body["status"], body["reason"]) == ("not_ready", "break")  # type: ignore[index]
    assert await spans_of(db, people.agent_a) == [("not_ready", "break", None)]


async def test_a_call_records_ringing_talk_hold_and_wrap_up_then_the_agent_is_ready_again(
    served: Served, as_: Callable[[str], Api], people: People, db: Database, clock: FixedClock,
) -> None:
    customer = await factories.customer(db, "张三", department_id=people.dept_a)
    await factories.add(db, Call(carrier="asterisk", carrier_call_id="1747533600.1", direction="inbound",
                                 customer_id=customer.id, started_at=clock(), disposition="answered"))
    await as_("agent_a").call("POST", "/api/agent/status", json={"status": "ready"})
    await offer_call(served.app, offer("PJSIP/1001"))  # rings at clock() (the offer's time)
    clock.advance(seconds=10)
    await call_answered(served.app, "asterisk", "1747533600.1", "PJSIP/1001")
    clock.advance(seconds=120)
    await call_held(served.app, "asterisk", "1747533600.1", True)
    clock.advance(seconds=45)
    await call_held(served.app, "asterisk", "1747533600.1", False)
    clock.advance(seconds=60)
    await call_ended(served.app, "asterisk", "1747533600.1")
    clock.advance(seconds=30)  # the wrap-up ends by itself after agent_wrap_up_s
    await asyncio.sleep(0.8)
    await service(served.app).settle()
    assert await spans_of(db, people.agent_a) == [
        ("ready", None, 0.0), ("ringing", None, 10.0), ("on_call", None, 120.0), ("hold", None, 45.0),
        ("on_call", None, 60.0), ("wrap_up", None, 30.0), ("ready", None, None)]
    async with db.sessions() as s:
        call = (await s.scalars(select(Call))).one()
    assert (call.hold_s, call.wrapup_s) == (45.0, 30.0)


async def test_going_ready_ends_the_wrap_up_early(
    served: Served, as_: Callable[[str], Api], people: People, db: Database, clock: FixedClock,
) -> None:
    await as_("agent_a").call("POST", "/api/agent/status", json={"status": "ready"})
    await offer_call(served.app, offer("PJSIP/1001"))
    await call_answered(served.app, "asterisk", "1747533600.1", "PJSIP/1001")
    await call_ended(served.app, "asterisk", "1747533600.1")
    clock.advance(seconds=5)
    status, body = await as_("agent_a").call("POST", "/api/agent/status", json={"status": "ready"})
    assert status == 200 and body["status"] == "ready"  # type: ignore[index]
    await asyncio.sleep(0.6)  # the timer finds the agent moved on and leaves them be
    await service(served.app).settle()
    assert [s for s, _, _ in await spans_of(db, people.agent_a)][-2:] == ["wrap_up", "ready"]


async def test_who_can_take_a_call_follows_the_states_per_carrier(
    served: Served, people: People, db: Database,
) -> None:
    from callcenter.appkeys import AVAILABILITY

    availability = served.app[SERVICES][AVAILABILITY]
    pop = service(served.app)
    await pop.set_status(people.agent_a, AgentStatus.NOT_READY, "break")
    assert not availability.can_take("twilio") and not availability.can_take("asterisk")
    await pop.set_status(people.agent_b, AgentStatus.ON_CALL)
    # Asterisk's queue holds the caller for the busy agent; Twilio has nobody to ring
    assert availability.can_take("asterisk") and not availability.can_take("twilio")
    await pop.set_status(people.agent_a, AgentStatus.READY)
    assert availability.can_take("twilio") and availability.ready_clients == ("agent-a",)


async def test_the_state_time_report_adds_up_each_agents_day(
    served: Served, as_: Callable[[str], Api], people: People, db: Database, clock: FixedClock,
) -> None:
    pop = service(served.app)
    await pop.set_status(people.agent_a, AgentStatus.READY)
    clock.advance(minutes=20)
    await pop.set_status(people.agent_a, AgentStatus.NOT_READY, "break")
    clock.advance(minutes=15)
    await pop.set_status(people.agent_a, AgentStatus.LOGGED_OUT)
    status, body = await as_("supervisor").call(
        "GET", "/api/reports/agent-time?from=2026-05-18&to=2026-05-18")
    assert status == 200, body
    (row,) = [a for a in body["agents"] if a["staff_id"] == people.agent_a]  # type: ignore[index]
    assert (row["ready_s"], row["not_ready_s"], row["not_ready_by_reason"]) == (1200, 900, {"break": 900})
    assert (await as_("agent_a").call("GET", "/api/reports/agent-time?from=2026-05-18&to=2026-05-18"))[0] == 403
    for bad in ("from=2026-05-19&to=2026-05-18", "from=2026-01-01&to=2026-05-18", "from=x&to=y",
                "from=1900-01-01&to=1900-01-02"):
        assert (await as_("supervisor").call("GET", f"/api/reports/agent-time?{bad}"))[0] == 422


async def test_the_hold_button_is_the_record_on_a_carrier_the_app_does_not_hold(
    served: Served, as_: Callable[[str], Api], people: People, db: Database, clock: FixedClock,
) -> None:
    """Asterisk: the phone holds; the page's button is the agent's own record of it."""
    agent = as_("agent_a")
    await factories.add(db, Call(carrier="asterisk", carrier_call_id="1747533600.7", direction="inbound",
                                 started_at=clock(), disposition="answered"))
    status, _ = await agent.call("POST", "/api/agent/hold", json={"on": True})
    assert status == 422  # no call to hold: nothing changes
    await offer_call(served.app, offer("PJSIP/1001", "+8613800138000", "1747533600.7", "asterisk"))
    await call_answered(served.app, "asterisk", "1747533600.7", "PJSIP/1001")
    clock.advance(seconds=30)
    status, body = await agent.call("POST", "/api/agent/hold", json={"on": True})
    assert status == 200 and body["status"] == "hold"  # type: ignore[index]
    clock.advance(seconds=40)
    status, body = await agent.call("POST", "/api/agent/hold", json={"on": False})
    assert status == 200 and body["status"] == "on_call"  # type: ignore[index]
    await service(served.app).settle()
    async with db.sessions() as s:
        call = (await s.scalars(select(Call))).one()
    assert call.hold_s == 40.0


async def test_the_hold_button_on_a_twilio_call_outside_a_conference_is_refused(
    served: Served, as_: Callable[[str], Api], people: People, db: Database, clock: FixedClock,
) -> None:
    """A caller bridged by a plain dial cannot be held by the app: 422, no hold recorded."""
    agent = as_("agent_a")
    await factories.add(db, Call(carrier="twilio", carrier_call_id="CA" + "7" * 32, direction="inbound",
                                 started_at=clock(), disposition="answered"))
    await offer_call(served.app, offer("client:agent-a", "+8613800138000", "CA" + "7" * 32, "twilio"))
    await call_answered(served.app, "twilio", "CA" + "7" * 32, "client:agent-a")
    status, body = await agent.call("POST", "/api/agent/hold", json={"on": True})
    assert status == 422, body
    _, state = await agent.call("GET", "/api/agent/state")
    assert state["status"] == "on_call"  # type: ignore[index]
