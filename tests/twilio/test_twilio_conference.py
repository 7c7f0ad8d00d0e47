"""Agents and callers in a Twilio conference: the agent page's Hold asks Twilio, Twilio's hold
events are the recorded hold (the call's AHT, the agent-time report), and a transfer to another
queue gives the call one segment per queue. Every webhook is signed with Twilio's validator;
every REST request goes to Twilio's OpenAPI contract (Prism)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from email.utils import format_datetime

import aiohttp
import pytest
from sqlalchemy import select

from callcenter.clock import FixedClock
from callcenter.demo.simulated_twilio import SimulatedCaller, conference_sid_of, new_call_sid
from callcenter.reporting import builders
from callcenter.reporting.loaders import load_calls
from callcenter.screenpop import service
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, CallSegment, Staff
from crm.agent_states import AgentState
from reports.periods import Granularity, report_window
from tests import factories
from tests.conftest import Served
from tests.crm_api.conftest import Api, token_for
from tests.twilio.conftest import Hotline, NewCaller
from tests.twilio_rest import TwilioApi

DAY = date(2026, 5, 18)  # the clock's day in Shanghai


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"route_to_ready_agents": True, "agent_wrap_up_s": 30.0})


@dataclass
class Agent:
    staff_id: int
    username: str
    api: Api


async def ready_agent(served: Served, db: Database, http: aiohttp.ClientSession,
                      username: str) -> Agent:
    person = await factories.staff(db, username, ["agent"])
    await service(served.app).set_status(person.id, AgentState.READY)
    return Agent(person.id, username, Api(http, served.base_url,
                                          await token_for(db, person.id, username)))


@dataclass
class Waiting:
    """A caller handed to agents: the conference they wait in, as their TwiML names it."""

    sim: SimulatedCaller
    conference: str
    status_callback: str
    dial_action: str

    @property
    def conference_sid(self) -> str:
        return conference_sid_of(self.conference)


def waiting_in(sim: SimulatedCaller, body: str) -> Waiting:
    dial = ET.fromstring(body).find("Dial")
    assert dial is not None, body
    room = dial.find("Conference")
    assert room is not None, body
    return Waiting(sim, (room.text or "").strip(), room.attrib["statusCallback"],
                   dial.attrib["action"])


async def ask_for_an_agent(caller: NewCaller) -> Waiting:
    sim = caller()
    first = await sim.post("/twilio/voice", sim.params(CallStatus="ringing"))
    gather = ET.fromstring(first.body).find("Gather")
    assert gather is not None
    asked = await sim.post(gather.attrib["action"], sim.params(Digits="0"))
    return waiting_in(sim, asked.body)


async def conference_event(waiting: Waiting, clock: FixedClock, event: str, *,
                           participant: str | None = None, label: str = "caller") -> None:
    params = waiting.sim.conference_event(event, waiting.conference, participant=participant,
                                          label=label)
    params["Timestamp"] = format_datetime(clock(), usegmt=True)
    sent = await waiting.sim.post(waiting.status_callback, params)
    assert sent.status == 200, sent.body


async def answered_by(waiting: Waiting, clock: FixedClock, agent: Agent) -> str:
    """Twilio's events as the caller joins and `agent` picks up; the agent leg's CallSid."""
    await conference_event(waiting, clock, "participant-join")
    clock.advance(seconds=10)
    leg = new_call_sid()
    await conference_event(waiting, clock, "participant-join", participant=leg,
                           label=f"agent:{agent.username}")
    return leg


async def call_row(db: Database) -> Call:
    async with db.sessions() as s:
        return (await s.scalars(select(Call))).one()


async def held_45_seconds(served: Served, db: Database, clock: FixedClock, caller: NewCaller,
                          http: aiohttp.ClientSession, twilio_api: TwilioApi) -> Agent:
    """A caller talks to agent-wu, who holds them 45 s from the page, then talks 60 s more."""
    wu = await ready_agent(served, db, http, "agent-wu")
    waiting = await ask_for_an_agent(caller)
    await service(served.app).settle()
    await answered_by(waiting, clock, wu)
    clock.advance(seconds=30)
    status, state = await wu.api.call("POST", "/api/agent/hold", json={"on": True})
    assert status == 200, state
    assert state["status"] == "on_call"  # type: ignore[index]  # asked; Twilio has not held yet
    clock.advance(seconds=2)
    await conference_event(waiting, clock, "participant-hold")
    clock.advance(seconds=45)
    status, state = await wu.api.call("POST", "/api/agent/hold", json={"on": False})
    assert status == 200, state
    await conference_event(waiting, clock, "participant-unhold")
    clock.advance(seconds=60)
    left = await waiting.sim.post(waiting.dial_action, waiting.sim.params(DialCallStatus="answered"))
    assert left.status == 200
    await waiting.sim.status("completed", duration_s=150)
    await service(served.app).settle()
    return wu


async def test_the_hold_button_asks_twilio_to_hold_and_resume_the_callers_leg(
    served: Served, db: Database, hotline: Hotline, clock: FixedClock, caller: NewCaller,
    http: aiohttp.ClientSession, twilio_api: TwilioApi,
) -> None:
    await held_45_seconds(served, db, clock, caller, http, twilio_api)
    call = await call_row(db)
    asked = twilio_api.to(f"/Participants/{call.carrier_call_id}.json")
    assert [(r.one("Hold"), r.form.get("HoldUrl")) for r in asked] == [
        ("true", [f"{served.base_url}/twilio/hold-music"]), ("false", None)]
    assert all(r.status == 200 for r in asked)  # requests Twilio's contract accepts


async def test_a_hold_press_that_twilio_never_confirms_records_no_hold(
    served: Served, db: Database, hotline: Hotline, clock: FixedClock, caller: NewCaller,
    http: aiohttp.ClientSession, twilio_api: TwilioApi,
) -> None:
    wu = await ready_agent(served, db, http, "agent-wu")
    waiting = await ask_for_an_agent(caller)
    await service(served.app).settle()
    await answered_by(waiting, clock, wu)
    await wu.api.call("POST", "/api/agent/hold", json={"on": True})
    clock.advance(seconds=40)
    await waiting.sim.post(waiting.dial_action, waiting.sim.params(DialCallStatus="answered"))
    await waiting.sim.status("completed", duration_s=60)
    assert (await call_row(db)).hold_s == 0.0


async def test_twilios_hold_events_are_the_calls_hold_time_in_its_aht(
    served: Served, db: Database, hotline: Hotline, clock: FixedClock, caller: NewCaller,
    http: aiohttp.ClientSession, twilio_api: TwilioApi,
) -> None:
    wu = await held_45_seconds(served, db, clock, caller, http, twilio_api)
    call = await call_row(db)
    assert call.hold_s == 45.0 and call.agent_id == wu.staff_id
    window = report_window(Granularity.DAY, DAY, served.settings.timezone)
    calls = await load_calls(db, window.start_utc, window.end_utc)
    (row,) = calls.itertuples()
    assert (row.talk_s, row.hold_s) == (92.0, 45.0)  # 137 s with the agent, 45 of them on hold
    report = await builders.kpi(db, served.settings, DAY, DAY)
    (centre,) = report["centre"]
    # AHT = talk + hold + wrap-up (kpi.md): the wrap-up is still running, 0 s so far
    assert centre["aht_s"] == pytest.approx(92.0 + 45.0 + call.wrapup_s)


async def test_twilios_hold_events_are_the_agents_hold_time_in_the_agent_time_report(
    served: Served, db: Database, hotline: Hotline, clock: FixedClock, caller: NewCaller,
    http: aiohttp.ClientSession, twilio_api: TwilioApi,
) -> None:
    wu = await held_45_seconds(served, db, clock, caller, http, twilio_api)
    head = await factories.staff(db, "sup-zhou", ["supervisor"])
    supervisor = Api(http, served.base_url, await token_for(db, head.id, "sup-zhou"))
    status, body = await supervisor.call("GET", f"/api/reports/agent-time?from={DAY}&to={DAY}")
    assert status == 200, body
    (row,) = [a for a in body["agents"] if a["staff_id"] == wu.staff_id]  # type: ignore[index]
    assert row["hold_s"] == 45



QUEUE_A, QUEUE_B = "hotline-agents", "billing"


async def segments_of(db: Database) -> list[tuple[str, str, str | None]]:
    async with db.sessions() as s:
        rows = (await s.scalars(select(CallSegment).order_by(CallSegment.entered_at,
                                                             CallSegment.id))).all()
        names = {p.id: p.username for p in (await s.scalars(select(Staff))).all()}
    return [(r.queue, r.outcome, names.get(r.agent_id) if r.agent_id else None) for r in rows]


async def transferred_to_b(served: Served, db: Database, clock: FixedClock, caller: NewCaller,
                           http: aiohttp.ClientSession, twilio_api: TwilioApi) -> Waiting:
    """agent-wu answers the caller in queue A and transfers them to queue B; Twilio fetches the
    new URL and the caller waits in B's conference (agent-li, ready, is rung)."""
    wu = await ready_agent(served, db, http, "agent-wu")
    await ready_agent(served, db, http, "agent-li")
    waiting = await ask_for_an_agent(caller)
    await service(served.app).settle()
    await answered_by(waiting, clock, wu)
    await service(served.app).settle()
    clock.advance(seconds=60)
    status, state = await wu.api.call("POST", "/api/agent/transfer", json={"queue": QUEUE_B})
    assert status == 200, state
    assert state["status"] == "wrap_up"  # type: ignore[index]
    (redirect,) = twilio_api.to(f"/Calls/{waiting.sim.call_sid}.json")
    assert redirect.status == 200 and redirect.one("Method") == "POST"
    clock.advance(seconds=3)
    moved = await waiting.sim.post(redirect.one("Url"), waiting.sim.params())
    assert moved.status == 200, moved.body
    # the conference of queue A is over for the caller: its late action changes nothing
    late = await waiting.sim.post(waiting.dial_action, waiting.sim.params(DialCallStatus="answered"))
    assert late.status == 200
    await service(served.app).settle()
    in_b = waiting_in(waiting.sim, moved.body)
    await conference_event(in_b, clock, "participant-join")
    return in_b


async def test_a_call_transferred_to_another_queue_has_a_segment_per_queue(
    served: Served, db: Database, hotline: Hotline, clock: FixedClock, caller: NewCaller,
    http: aiohttp.ClientSession, twilio_api: TwilioApi,
) -> None:
    in_b = await transferred_to_b(served, db, clock, caller, http, twilio_api)
    rung_in_b = [r.one("To") for r in twilio_api.to("/Participants.json")
                 if in_b.conference_sid in r.path]
    assert rung_in_b == ["client:agent-li"]  # agent-wu is in wrap-up now
    clock.advance(seconds=12)
    await conference_event(in_b, clock, "participant-join", participant=new_call_sid(),
                           label="agent:agent-li")
    clock.advance(seconds=90)
    await in_b.sim.post(in_b.dial_action, in_b.sim.params(DialCallStatus="answered"))
    await in_b.sim.status("completed", duration_s=200)
    assert await segments_of(db) == [(QUEUE_A, "transferred", "agent-wu"),
                                     (QUEUE_B, "answered", "agent-li")]


async def test_per_queue_kpis_count_each_queue_a_transferred_call_went_through(
    served: Served, db: Database, hotline: Hotline, clock: FixedClock, caller: NewCaller,
    http: aiohttp.ClientSession, twilio_api: TwilioApi,
) -> None:
    in_b = await transferred_to_b(served, db, clock, caller, http, twilio_api)
    clock.advance(seconds=12)
    await conference_event(in_b, clock, "participant-join", participant=new_call_sid(),
                           label="agent:agent-li")
    clock.advance(seconds=90)
    await in_b.sim.post(in_b.dial_action, in_b.sim.params(DialCallStatus="answered"))
    await in_b.sim.status("completed", duration_s=200)
    report = await builders.kpi(db, served.settings, DAY, DAY)
    queues = {k["key"]: (k["offered"], k["answered"], k["abandoned"]) for k in report["queues"]}
    assert queues == {QUEUE_A: (1, 1, 0), QUEUE_B: (1, 1, 0)}  # kpi.md: per queue, its segments
    (centre,) = report["centre"]
    assert (centre["offered"], centre["answered"]) == (1, 1)  # centre-wide: the call once


async def test_a_caller_who_hangs_up_waiting_in_the_second_queue_is_abandoned_there(
    served: Served, db: Database, hotline: Hotline, clock: FixedClock, caller: NewCaller,
    http: aiohttp.ClientSession, twilio_api: TwilioApi,
) -> None:
    in_b = await transferred_to_b(served, db, clock, caller, http, twilio_api)
    clock.advance(seconds=40)  # nobody picks up in B; the caller hangs up
    await in_b.sim.post(in_b.dial_action, in_b.sim.params(DialCallStatus="answered"))
    await in_b.sim.status("completed", duration_s=150)
    assert await segments_of(db) == [(QUEUE_A, "transferred", "agent-wu"),
                                     (QUEUE_B, "abandoned", None)]
    report = await builders.kpi(db, served.settings, DAY, DAY)
    queues = {k["key"]: (k["offered"], k["answered"], k["abandoned"]) for k in report["queues"]}
    assert queues == {QUEUE_A: (1, 1, 0), QUEUE_B: (1, 0, 1)}
