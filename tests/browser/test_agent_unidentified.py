"""An agent in a real browser links a withheld caller's complaint to the real customer:
the unidentified caller list on the agent page, the card, the link button."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from callcenter.clock import system_clock
from callcenter.storage.engine import Database
from callcenter.storage.tables import Complaint
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import ComplaintCategory, ComplaintChannel
from crm.services import complaints as cs
from crm.services import customers as svc
from tests import factories
from tests.browser.fake_ami import FakeAmi
from tests.browser.test_agent_screenpop import site  # noqa: F401
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


async def test_agent_links_an_unidentified_callers_complaint_to_the_customer(
    site: tuple[web.Application, str, FakeAmi], db: Database, browser: Any,  # noqa: F811
) -> None:
    _, base, _ = site
    dept = await factories.department(db, "SVC")
    await factories.staff(db, "agent-wang", ["agent"], dept.id, with_password=True, name="王坐席",
                          extension="1001")
    real = await factories.customer(db, "张三", phones=("+8613800138000",), department_id=dept.id)
    record = await svc.record_unidentified_caller(
        SqlUnitOfWork(db), call_id=None, timezone="Asia/Shanghai", language="zh-CN")
    await cs.open_complaint(cs.OpenComplaint(
        customer_id=record.customer_id, channel=ComplaintChannel.PHONE_IVR,
        category=ComplaintCategory.ATTITUDE, description="(caller hung up before recording)",
        actor=cs.Actor.system("ivr")), SqlUnitOfWork(db), clock=system_clock)

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(base + "/login?next=/agent")
    await page.fill('input[name="username"]', "agent-wang")
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_url(base + "/agent")
    await page.click('[data-testid="open-unidentified"]')
    await page.wait_for_selector("#card .unknown")
    assert "Open complaints (1)" in await page.inner_text("#card")
    await page.fill('input[name="link_query"]', "张三")
    await page.click("#card .unknown button:has-text('查找 Find')")
    await page.click("#card .unknown button:has-text('关联 Link')")
    await page.wait_for_selector('[data-testid="customer-name"]:has-text("张三")')
    await page.wait_for_selector('[data-testid="open-unidentified"]', state="detached")
    async with db.sessions() as session:
        complaint = await session.scalar(select(Complaint))
    assert complaint is not None and complaint.customer_id == real.id
    await page.close()
