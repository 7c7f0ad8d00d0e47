"""The wallboard in a real browser moves while the floor does: an agent's state, a caller
queuing (AMI), the agent answering."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import expect

from callcenter.screenpop import service
from callcenter.storage.engine import Database
from crm.agent_states import AgentState
from tests import factories
from tests.browser.fake_ami import FakeAmi
from tests.browser.test_agent_screenpop import site  # noqa: F401  (fixture)
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser



async def test_the_wallboard_updates_live_as_agents_and_callers_move(
    site: tuple[web.Application, str, FakeAmi], db: Database, browser: Any, tmp_path: Path,  # noqa: F811
) -> None:
    app, base, ami = site
    dept = await factories.department(db, "SVC")
    await factories.staff(db, "inspector", ["supervisor"], None, with_password=True, name="监察员")
    agent = await factories.staff(db, "agent-wang", ["agent"], dept.id, name="王坐席", extension="1001")
    await ami.logged_in.wait()

    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    await page.goto(base + "/login?next=/wallboard")
    await page.fill('input[name="username"]', "inspector")
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_url(base + "/wallboard")
    await page.wait_for_selector('#conn[data-live="1"]')

    await service(app).set_status(agent.id, AgentState.READY)
    await expect(page.locator("#agents tr[data-state=ready] td:last-child")).to_have_text("1")

    chan = {"Channel": "PJSIP/trunk-00000001", "Uniqueid": "wb-1", "Linkedid": "wb-1",
            "CallerIDNum": "13800138000", "CallerIDName": "", "Exten": "4008", "Context": "hotline"}
    await ami.send_event("Newchannel", **chan, ChannelState="4", ChannelStateDesc="Ring")
    await ami.send_event("QueueCallerJoin", **chan, Queue="hotline-agents", Position="1", Count="1")
    await expect(page.locator("#waiting")).to_have_text("1")
    await ami.send_event("AgentCalled", **chan, Queue="hotline-agents", Interface="PJSIP/1001",
                         MemberName="王坐席", DestChannel="PJSIP/1001-00000002")
    await ami.send_event("AgentConnect", **chan, Queue="hotline-agents", Interface="PJSIP/1001",
                         MemberName="王坐席", HoldTime="4", RingTime="3")
    await expect(page.locator("#waiting")).to_have_text("0")
    await expect(page.locator("#agents tr[data-state=on_call] td:last-child")).to_have_text("1")
    # the call ends: it counts as answered today, as in the daily report
    await ami.send_event("Hangup", **chan, Cause="16")
    await ami.send_event("CEL", EventName="LINKEDID_END", UniqueID="wb-1", LinkedID="wb-1",
                         CallerIDnum="13800138000")
    await expect(page.locator("#answered")).to_have_text("1")
    await expect(page.locator("#agents tr[data-state=wrap_up] td:last-child")).to_have_text("1")
    await page.screenshot(path=str(tmp_path / "wallboard.png"), full_page=True)
    await service(app).settle()
    await page.close()
    assert blocked == []
