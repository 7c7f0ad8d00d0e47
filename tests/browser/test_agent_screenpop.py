"""The agent's day in a real browser: log in, ready, a call pops (AMI and Twilio paths), wrap-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from callcenter.app import create_app
from callcenter.appkeys import CLOCK
from callcenter.clock import FixedClock
from callcenter.demo.serving import app_on_port
from callcenter.screenpop import CallOffer, offer_call, service
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, Contact, Lead
from tests import factories
from tests.browser.fake_ami import FakeAmi
from tests.conftest import free_port
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
async def site(settings: Settings, db: Database, clock: FixedClock) -> AsyncIterator[tuple[web.Application, str, FakeAmi]]:
    """The real app with AMI switched on, connected to a fake Asterisk on TCP."""
    ami = FakeAmi()
    await ami.start()
    port = free_port()
    settings = settings.model_copy(update={
        "public_base_url": f"http://127.0.0.1:{port}", "http_port": port,
        "ami_enabled": True, "ami_host": "127.0.0.1", "ami_port": ami.port,
    })
    app = create_app(settings, db=db, clock=clock)
    try:
        async with app_on_port(app, port):
            yield app, f"http://127.0.0.1:{port}", ami
    finally:
        await ami.close()


async def ami_rings_agent(ami: FakeAmi, linkedid: str, caller: str) -> None:
    """What Asterisk says when a caller goes through the IVR into the queue and rings PJSIP/1001."""
    chan = {"Channel": "PJSIP/trunk-00000001", "Uniqueid": linkedid, "Linkedid": linkedid,
            "CallerIDNum": caller, "CallerIDName": "", "Exten": "4008", "Context": "hotline"}
    await ami.send_event("Newchannel", **chan, ChannelState="4", ChannelStateDesc="Ring")
    await ami.send_event("QueueCallerJoin", **chan, Queue="hotline-agents", Position="1", Count="1")
    await ami.send_event("AgentCalled", **chan, Queue="hotline-agents", Interface="PJSIP/1001",
                         MemberName="王坐席", DestChannel="PJSIP/1001-00000002")


async def test_agent_sees_the_caller_pop_and_saves_a_wrap_up_with_a_latent_need(
    site: tuple[web.Application, str, FakeAmi], db: Database, browser: Any, tmp_path: Path
) -> None:
    app, base, ami = site
    dept = await factories.department(db, "SVC")
    agent = await factories.staff(db, "agent-wang", ["agent"], dept.id, with_password=True,
                                  name="王坐席", extension="1001")
    follower = await factories.staff(db, "sales-zhao", ["agent"], dept.id, name="赵销售")
    customer = await factories.customer(db, "张三", phones=("+8613800138000",), department_id=dept.id)
    await ami.logged_in.wait()

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []  # our Content-Security-Policy must not block anything of ours
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    await page.goto(base + "/login?next=/agent")
    await page.fill('input[name="username"]', "agent-wang")
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_url(base + "/agent")
    await page.wait_for_selector('body[data-socket="open"]')
    await page.click("#ready")
    await page.wait_for_selector('#status[data-status="ready"]')

    # the Asterisk path: AMI events from a fake Asterisk on TCP
    await ami_rings_agent(ami, "1747533600.11", "13800138000")
    name = page.locator('[data-testid="customer-name"]')
    await name.wait_for()
    assert await name.text_content() == "张三"
    assert await page.locator("#caller").text_content() == "13800138000"
    await page.screenshot(path=str(tmp_path / "agent-screenpop.png"), full_page=True)

    await page.select_option('select[name="disposition"]', "info_given")
    await page.fill('textarea[name="notes"]', "客户询问保修期")
    await page.check('input[name="has_need"]')
    await page.fill('input[name="equipment"]', "格力空调 2015")
    await page.fill('input[name="need"]', "想换变频空调")
    await page.select_option('select[name="demand_level"]', "3")
    await page.select_option('select[name="follow_up_staff_id"]', str(follower.id))
    await page.click('#wrapup button[type="submit"]')
    await page.wait_for_selector("body[data-saved]")

    async with db.sessions() as session:
        call = await session.scalar(select(Call).where(Call.carrier_call_id == "1747533600.11"))
        contact = await session.scalar(select(Contact).where(Contact.customer_id == customer.id))
        lead = await session.scalar(select(Lead).where(Lead.customer_id == customer.id))
    assert call is not None and contact is not None and lead is not None
    assert contact.call_id == call.id and contact.staff_id == agent.id
    assert contact.disposition == "info_given" and contact.notes == "客户询问保修期"
    assert (lead.need, lead.demand_level, lead.found_by_id, lead.assigned_to_id) == (
        "想换变频空调", 3, agent.id, follower.id)
    assert lead.contact_id == contact.id

    # the Twilio path: the agent dial hands the same offer to offer_call
    await offer_call(app, CallOffer("twilio", "CA0123456789abcdef", "+8613800138000",
                                    "client:agent-wang", "hotline-agents", "main>complaint>attitude",
                                    app[CLOCK]()))
    # (a locator, not wait_for_function: a string predicate is polled through eval, which the
    # page's Content-Security-Policy refuses once the first check finds it false)
    from playwright.async_api import expect

    await expect(page.locator("#why")).to_have_text("complaint / attitude", timeout=10_000)
    assert await name.text_content() == "张三"
    await service(app).settle()
    await page.close()
    assert blocked == []
