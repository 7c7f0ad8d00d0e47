"""Agent states drive routing on Twilio: the agent dial rings the agents who are ready, and a
caller who finds nobody ready is offered a callback instead of ringing nobody."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from callcenter.appkeys import TWILIO_CHANNEL
from callcenter.screenpop import service
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.telephony.twilio.twiml import TwimlRenderer
from crm.agent_states import AgentState
from ivr.prompts import prompt_text
from tests import factories
from tests.conftest import Served
from tests.twilio.conftest import Hotline, NewCaller
from tests.twilio_rest import TwilioApi


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"route_to_ready_agents": True,
                                       "twilio_agent_dial": "client:agents"})


def dialled_clients(body: str) -> list[str]:
    return [c.text or "" for c in ET.fromstring(body).iter("Client")]


async def test_the_agents_rung_into_the_callers_conference_are_the_ready_ones(
        served: Served, db: Database, hotline: Hotline, caller: NewCaller,
        twilio_api: TwilioApi) -> None:
    pop = service(served.app)
    wu = await factories.staff(db, "agent-wu", ["agent"])
    li = await factories.staff(db, "agent-li", ["agent"])
    zhao = await factories.staff(db, "agent-zhao", ["agent"])
    await pop.set_status(wu.id, AgentState.READY)
    await pop.set_status(li.id, AgentState.READY)
    await pop.set_status(zhao.id, AgentState.NOT_READY, "break")
    result = await caller(agent_identity="agent-wu").call(["0"])
    assert result.transfer == f"dial:conference:{result.call_sid}~hotline-agents"
    rung = twilio_api.to("/Participants.json")
    assert sorted(r.one("To") for r in rung) == ["client:agent-li", "client:agent-wu"]
    assert all(r.status == 201 for r in rung)  # each one a request Twilio's contract accepts


async def test_a_plain_dial_rings_every_ready_agent_and_nobody_else(
        served: Served, db: Database, hotline: Hotline, caller: NewCaller) -> None:
    channel = served.app[TWILIO_CHANNEL]
    channel.renderer = TwimlRenderer(served.settings.model_copy(update={"twilio_conference": False}))
    pop = service(served.app)
    wu = await factories.staff(db, "agent-wu", ["agent"])
    li = await factories.staff(db, "agent-li", ["agent"])
    zhao = await factories.staff(db, "agent-zhao", ["agent"])
    await pop.set_status(wu.id, AgentState.READY)
    await pop.set_status(li.id, AgentState.READY)
    await pop.set_status(zhao.id, AgentState.NOT_READY, "break")
    result = await caller().call(["0"])
    assert result.ended_by == "transfer"
    dial = next(e.body for e in result.exchanges if "<Dial" in e.body)
    assert sorted(dialled_clients(dial)) == ["agent-li", "agent-wu"]


async def test_a_caller_who_finds_nobody_ready_is_offered_a_callback(
        served: Served, db: Database, hotline: Hotline, caller: NewCaller) -> None:
    pop = service(served.app)
    zhao = await factories.staff(db, "agent-zhao", ["agent"])
    await pop.set_status(zhao.id, AgentState.NOT_READY, "meeting")
    result = await caller().call(["0"])
    assert result.transfer is None
    assert prompt_text("agents_closed", "zh-CN") in result.said
    assert any(prompt_text("callback_menu", "zh-CN").split("，")[0] in said for said in result.said)
