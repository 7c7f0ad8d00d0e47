"""The floor on a REAL Asterisk 22 with a real SIP phone: the agent's softphone (SIPp,
registered as the deploy config's PJSIP endpoint `softphone1`) joins the queue when the
agent goes ready, takes a caller from the hotline, puts them on hold with its own re-INVITE
(a=sendonly, then a=sendrecv: Asterisk's AMI Hold / Unhold) and hangs up; the hold is
measured into the call and the agent's AHT, and the wallboard in Chromium follows it all.

Both engines. Needs the kit, SIPp (Debian `sip-tester`) and, for the wallboard, chromium;
each missing one is a skip with the reason, a failure in CI.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import expect
from sqlalchemy import select

from callcenter.screenpop import service as screenpop
from callcenter.storage.engine import Database
from callcenter.storage.tables import AgentStateSpan, CallEvent
from callcenter.telephony.asterisk import ami_actions
from callcenter.telephony.asterisk.ami_protocol import EventListResult
from crm.agent_states import AgentState
from crm.enums import CallDisposition
from tests import factories
from tests.asterisk.conftest import until
from tests.asterisk.softphone import Script, Softphone, free_udp_port, require_sipp
from tests.asterisk.test_real_asterisk import (  # noqa: F401  (fixtures)
    RealAsterisk,
    Service,
    _service,
    asterisk,
)
from tests.asterisk.test_real_queue_members import until_member
from tests.browser.conftest import browser  # noqa: F401  (fixture)
from tests.browser.login import login_cookies
from tests.conftest import free_port
from tests.factories import PASSWORD

pytestmark = pytest.mark.asterisk
PHONE = "softphone1"  # deploy/asterisk/pjsip.conf's softphone, the agent's extension
MEMBER = f"PJSIP/{PHONE}"
WRAP_UP_S = 1.0
HOLD_TOLERANCE_S = 0.5  # Hold / Unhold are stamped by Asterisk as each re-INVITE arrives


@dataclass
class Floor:
    service: Service
    base: str  # the service's pages and API
    agent_id: int
    http: aiohttp.ClientSession  # logged in as the supervisor

    @property
    def today(self) -> date:
        return datetime.now(ZoneInfo(self.service.settings.timezone)).date()

    async def get(self, path: str) -> Any:
        async with self.http.get(self.base + path) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def agent_states(self) -> list[str]:
        await screenpop(self.service.app).settle()
        async with self.service.db.sessions() as session:
            return list((await session.scalars(select(AgentStateSpan.state).where(
                AgentStateSpan.staff_id == self.agent_id).order_by(AgentStateSpan.id))).all())


@pytest.fixture
async def softphone(asterisk: RealAsterisk, tmp_path: Path) -> AsyncIterator[Softphone]:  # noqa: F811
    """softphone1 registered from its own UDP port (and unregistered afterwards)."""
    sipp = require_sipp()
    logs = tmp_path / "sipp"
    logs.mkdir()
    phone = Softphone(sipp, asterisk, PHONE, asterisk.env["SOFTPHONE_PASSWORD"], free_udp_port(),
                      logs)
    await phone.register()
    try:
        yield phone
    finally:
        await phone.register(expires=0)


@pytest.fixture
async def floor(asterisk: RealAsterisk, db: Database, tmp_path: Path,  # noqa: F811
                softphone: Softphone) -> AsyncIterator[Floor]:
    """The service on the kit (FastAGI, AMI, pages on a real port), routing callers to ready
    agents; an agent whose phone is softphone1 and a supervisor logged in over HTTP."""
    port = free_port()
    async for service in _service(asterisk, db, tmp_path, fastagi=True, site_port=port,
                                  route_to_ready_agents=True, agent_wrap_up_s=WRAP_UP_S):
        agent = await factories.staff(db, "agent-sip", ["agent"], None, extension=PHONE,
                                      name="王坐席")
        await factories.staff(db, "inspector", ["supervisor"], None, with_password=True,
                              name="监察员")
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await login_cookies(http, base, "inspector")
            try:
                yield Floor(service, base, agent.id, http)
            finally:  # the phone leaves the queue: the kit is shared by the module's tests
                await screenpop(service.app).set_status(agent.id, AgentState.LOGGED_OUT)
                await until_member(service, None, MEMBER)


async def member_status(service: Service) -> str | None:
    """The device status Asterisk's QueueStatus gives the phone's member (1 = not in use)."""
    answer = await service.ami.action(lambda aid: ami_actions.queue_status(aid, "hotline-agents"))
    assert isinstance(answer, EventListResult)
    for event in answer.events:
        if event.name == "QueueMember" and event.fields.get("Location") == MEMBER:
            return event.fields.get("Status")
    return None


async def ready_in_queue(floor: Floor) -> None:
    await screenpop(floor.service.app).set_status(floor.agent_id, AgentState.READY)
    await until_member(floor.service, (True, False, ""), MEMBER)


async def test_the_agents_registered_phone_joins_the_queue_when_ready_and_pauses_when_not_ready(
        floor: Floor) -> None:
    await ready_in_queue(floor)

    async def reachable() -> bool:  # registered and idle: a device Asterisk can ring
        return await member_status(floor.service) == "1"

    await until(reachable, 10)
    await screenpop(floor.service.app).set_status(floor.agent_id, AgentState.NOT_READY, "training")
    await until_member(floor.service, (True, True, "training"), MEMBER)


async def test_the_phones_hold_is_the_calls_hold_time_and_counts_in_the_agents_aht(
        floor: Floor, softphone: Softphone) -> None:
    script = Script(ring_s=1, talk_s=2, hold_s=4, after_s=2)
    await ready_in_queue(floor)
    async with softphone.takes_one_call(script):
        await floor.service.caller("rt-hold", "0", tail_s=60)
        call = await floor.service.call_over("rt-hold", within_s=60)
    assert call.disposition == CallDisposition.ANSWERED and call.agent_id == floor.agent_id
    assert abs(call.hold_s - script.hold_s) <= HOLD_TOLERANCE_S, call.hold_s
    async with floor.service.db.sessions() as session:
        kinds = list((await session.scalars(select(CallEvent.kind).where(
            CallEvent.call_id == call.id, CallEvent.kind.in_(("hold", "unhold")))
            .order_by(CallEvent.at))).all())
    assert kinds == ["hold", "unhold"]  # Asterisk's own events, on the call's timeline
    states: list[str] = []

    async def wrapped_up() -> bool:
        nonlocal states
        states = await floor.agent_states()
        return states[-2:] == ["wrap_up", "ready"]

    await until(wrapped_up, 15)
    assert states == ["ready", "ringing", "on_call", "hold", "on_call", "wrap_up", "ready"]

    day = floor.today.isoformat()
    report = await floor.get(f"/api/reports/agent-time?from={day}&to={day}")
    (row,) = [a for a in report["agents"] if a["staff_id"] == floor.agent_id]
    assert row["handled"] == 1
    assert row["hold_s"] == pytest.approx(call.hold_s, abs=0.1)
    assert row["talk_s"] == pytest.approx(script.talk_s + script.after_s, abs=1.0)  # hold apart
    assert row["aht_s"] == pytest.approx(row["talk_s"] + row["hold_s"] + row["wrap_up_s"], abs=0.15)
    assert row["aht_s"] > row["talk_s"] + script.hold_s - HOLD_TOLERANCE_S


def secs(seconds: float | None) -> str:
    """As the wallboard writes a duration (m:ss, rounded half up)."""
    if seconds is None:
        return "–"
    s = max(0, math.floor(seconds + 0.5))
    return f"{s // 60}:{s % 60:02d}"


def pct(ratio: float | None) -> str:
    return "–" if ratio is None else f"{100 * ratio:.1f} %"


@pytest.mark.browser
async def test_the_wallboard_in_chromium_follows_a_held_call_on_real_asterisk(
        floor: Floor, softphone: Softphone, browser: Any, tmp_path: Path) -> None:  # noqa: F811
    script = Script(ring_s=4, talk_s=2, hold_s=4, after_s=2)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(floor.base + "/login?next=/wallboard")
    await page.fill('input[name="username"]', "inspector")
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_url(floor.base + "/wallboard")
    await page.wait_for_selector('#conn[data-live="1"]')

    def agents(state: str) -> Any:
        return page.locator(f"#agents tr[data-state={state}] td:last-child")

    await ready_in_queue(floor)
    await expect(agents("ready")).to_have_text("1")
    await expect(page.locator("#answered")).to_have_text("0")
    async with softphone.takes_one_call(script):
        await floor.service.caller("rt-board", "0", tail_s=60)
        # the caller waits in the queue while the phone rings ...
        await expect(page.locator("#waiting")).to_have_text("1", timeout=15_000)
        await expect(agents("ringing")).to_have_text("1")
        # ... the agent answers, then holds the caller, then talks again
        await expect(agents("on_call")).to_have_text("1", timeout=10_000)
        await expect(page.locator("#waiting")).to_have_text("0")
        await expect(agents("hold")).to_have_text("1", timeout=10_000)
        await page.screenshot(path=str(tmp_path / "wallboard-hold.png"), full_page=True)
        await expect(agents("on_call")).to_have_text("1", timeout=10_000)
        await expect(agents("hold")).to_have_text("0")
        await floor.service.call_over("rt-board", within_s=60)
    await expect(page.locator("#answered")).to_have_text("1", timeout=10_000)
    await expect(agents("ready")).to_have_text("1", timeout=10_000)  # wrap-up over

    # today's figures are the daily report's, for the same window
    day = floor.today.isoformat()
    daily = await floor.get(f"/api/reports/daily?period={day}")
    board = await floor.get("/api/wallboard")
    (kpis,) = daily["calls"]
    assert board["window"] == daily["window"] and board["today"] == kpis
    assert (kpis["offered"], kpis["answered"], kpis["abandoned"]) == (1, 1, 0)
    for tile, shown in (("offered", str(kpis["offered"])), ("answered", str(kpis["answered"])),
                        ("abandoned", str(kpis["abandoned"])), ("sl", pct(kpis["service_level"])),
                        ("asa", secs(kpis["asa_s"])), ("aht", secs(kpis["aht_s"]))):
        await expect(page.locator(f"#{tile}")).to_have_text(shown, timeout=10_000)
    await page.screenshot(path=str(tmp_path / "wallboard-after.png"), full_page=True)
    await page.close()
