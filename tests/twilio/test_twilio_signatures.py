"""Only Twilio gets in: every webhook is signed over the public URL, or refused with nothing written."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import select

from callcenter.app import create_app
from callcenter.clock import FixedClock
from callcenter.demo.serving import app_on_port
from callcenter.demo.simulated_twilio import SimulatedCaller
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call
from callcenter.telephony.twilio.signature import signed_headers
from tests.conftest import free_port
from tests.twilio.conftest import Hotline, NewCaller, row_counts

WRITING_PARAMS = {"Digits": "1", "CallStatus": "completed", "CallDuration": "30",
                  "DialCallStatus": "completed", "RecordingUrl": "https://example.com/r",
                  "RecordingDuration": "9"}
# route -> the keys that bring a call to where that webhook would write (None: no call yet)
SCENARIOS = {
    "/twilio/voice": None,
    "/twilio/gather": ["2"],
    "/twilio/record": ["1", "1"],
    "/twilio/status": ["2"],
    "/twilio/dial-status": ["0"],
    "/twilio/callback-flow": None,
}


async def _route_for(sim: SimulatedCaller, route: str) -> str:
    script = SCENARIOS[route]
    if script is None:
        return route + ("?flow=hotline&attempt=A1" if "callback" in route else "")
    result = await sim.call(script, send_status=False, agent="abandon")
    root = ET.fromstring(result.exchanges[-1].body)
    waiting = {v.tag: v.attrib.get("action", "") for v in root.iter()}
    if route in ("/twilio/gather", "/twilio/record"):
        return waiting["Gather" if route.endswith("gather") else "Record"][len(sim.base_url):]
    return route


async def _survey_under_way(caller: NewCaller) -> SimulatedCaller:
    sim = caller()
    await sim.call(["2"], send_status=False)  # anything accepted now would write
    return sim


@pytest.mark.parametrize("route", list(SCENARIOS))
async def test_a_forged_signature_is_refused_and_writes_nothing(
    db: Database, hotline: Hotline, caller: NewCaller, route: str,
) -> None:
    sim = caller()
    path = await _route_for(sim, route)
    params = sim.params(**WRITING_PARAMS)
    before = await row_counts(db)
    forged = signed_headers("not-the-auth-token", sim.base_url + path, params)
    answer = await sim.post(path, params, signature=forged["X-Twilio-Signature"])
    assert answer.status == 403
    assert await row_counts(db) == before
    genuine = await sim.post(path, params)  # the same request, signed by Twilio, does write
    assert genuine.status == 200 and await row_counts(db) != before


async def test_a_webhook_without_a_signature_is_refused_and_writes_nothing(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    sim = caller()
    before = await row_counts(db)
    answer = await sim.post("/twilio/voice", sim.params(), signed=False)
    assert answer.status == 403 and await row_counts(db) == before


async def test_keys_changed_after_signing_are_refused(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    sim = await _survey_under_way(caller)
    before = await row_counts(db)
    genuine = signed_headers(sim.auth_token, sim.base_url + "/twilio/gather?v=3", sim.params(Digits="1"))
    answer = await sim.post("/twilio/gather?v=3", sim.params(Digits="5"),
                            signature=genuine["X-Twilio-Signature"])
    assert answer.status == 403 and await row_counts(db) == before


async def test_a_signature_for_another_url_is_refused(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    sim = await _survey_under_way(caller)
    before = await row_counts(db)
    genuine = signed_headers(sim.auth_token, sim.base_url + "/twilio/gather?v=3", sim.params(Digits="1"))
    answer = await sim.post("/twilio/gather?v=2", sim.params(Digits="1"),
                            signature=genuine["X-Twilio-Signature"])
    assert answer.status == 403 and await row_counts(db) == before


@pytest.fixture
async def behind_proxy(settings: Settings, db: Database, clock: FixedClock) -> AsyncIterator[tuple[str, Settings]]:
    """The app on a local port, but known to Twilio as https://hotline.example.com/cc."""
    port = free_port()
    public = settings.model_copy(update={"public_base_url": "https://hotline.example.com/cc"})
    async with app_on_port(create_app(public, db=db, clock=clock), port):
        yield f"http://127.0.0.1:{port}", public


async def test_behind_a_proxy_signatures_are_checked_against_the_public_url(
    db: Database, hotline: Hotline, behind_proxy: tuple[str, Settings],
) -> None:
    local, settings = behind_proxy
    token = settings.twilio_auth_token.get_secret_value()
    async with aiohttp.ClientSession() as http:
        via_proxy = SimulatedCaller(http, settings.public_base_url, token, connect_url=local)
        result = await via_proxy.call(["2", "1", "1", "1", "1", "2"])
        direct = SimulatedCaller(http, local, token)  # signed over the local URL: not what Twilio signs
        refused = await direct.post("/twilio/voice", direct.params())
    assert result.ended_by == "twiml-hangup"
    assert all(e.url.startswith("https://hotline.example.com/cc/twilio/") for e in result.exchanges)
    assert refused.status == 403
    async with db.sessions() as session:
        calls = list(await session.scalars(select(Call)))
    assert [c.carrier_call_id for c in calls] == [via_proxy.call_sid]


async def test_a_signature_over_the_url_with_its_default_port_is_accepted_too(
    db: Database, hotline: Hotline, behind_proxy: tuple[str, Settings],
) -> None:
    """Twilio's signing is inconsistent about ports: the check falls back to both forms."""
    local, settings = behind_proxy
    token = settings.twilio_auth_token.get_secret_value()
    async with aiohttp.ClientSession() as http:
        with_port = SimulatedCaller(http, "https://hotline.example.com:443/cc", token,
                                    connect_url=local)
        answer = await with_port.post("/twilio/voice", with_port.params())
        forged = SimulatedCaller(http, "https://hotline.example.com:443/cc", "wrong-token",
                                 connect_url=local)
        refused = await forged.post("/twilio/voice", forged.params())
    assert answer.status == 200 and "<Gather" in answer.body
    assert refused.status == 403
