"""Leads and the wrap-up over HTTP: the finder is credited; a complaint from the wrap-up is linked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from callcenter.storage.engine import Database
from callcenter.storage.tables import Complaint, Contact
from tests import factories
from tests.crm_api.conftest import People


async def test_won_lead_credits_the_agent_who_found_the_need(as_: Any, people: People, db: Database) -> None:
    c = await factories.customer(db, "张三", department_id=people.dept_a)
    status, lead = await as_("agent_a").call("POST", "/api/leads", json={
        "customer_id": c.id, "need": "变频空调", "demand_level": 3, "follow_up_staff_id": people.agent_a})
    assert status == 201 and lead["found_by_id"] == people.agent_a and lead["follow_up_at"]
    for action in ("contact", "quote"):
        status, _ = await as_("agent_a").call("POST", f"/api/leads/{lead['lead_id']}/actions", json={"action": action})
        assert status == 200
    status, won = await as_("admin").call("POST", f"/api/leads/{lead['lead_id']}/actions", json={"action": "win"})
    assert status == 200, won
    assert won["finder_credited_staff_id"] == people.agent_a
    assert won["lead"]["state"] == "won" and won["lead"]["won_at"] and won["lead"]["follow_up_at"] is None


async def test_a_won_lead_cannot_be_worked_again(as_: Any, people: People, db: Database) -> None:
    c = await factories.customer(db, "张三", department_id=people.dept_a)
    _, lead = await as_("agent_a").call("POST", "/api/leads", json={
        "customer_id": c.id, "need": "x", "demand_level": 1, "follow_up_staff_id": people.agent_a})
    await as_("agent_a").call("POST", f"/api/leads/{lead['lead_id']}/actions", json={"action": "lose"})
    status, body = await as_("agent_a").call("POST", f"/api/leads/{lead['lead_id']}/actions", json={"action": "quote"})
    assert status == 409, body


async def test_agent_cannot_record_a_lead_for_another_departments_customer(
    as_: Any, people: People, db: Database
) -> None:
    c = await factories.customer(db, "张三", department_id=people.dept_b)
    status, _ = await as_("agent_a").call("POST", "/api/leads", json={
        "customer_id": c.id, "need": "x", "demand_level": 1, "follow_up_staff_id": people.agent_a})
    assert status == 403


async def test_wrap_up_with_a_complaint_opens_it_and_links_the_contact(
    as_: Any, people: People, db: Database
) -> None:
    c = await factories.customer(db, "张三", department_id=people.dept_a)
    status, result = await as_("agent_a").call("POST", "/api/wrap-up", json={
        "customer_id": c.id, "disposition": "complaint_opened", "notes": "师傅迟到",
        "complaint": {"category": "timeliness", "description": "维修师傅迟到两小时"}})
    assert status == 201, result
    assert result["complaint_ticket"]
    async with db.sessions() as session:
        contact = await session.get(Contact, result["contact_id"])
        complaint = await session.scalar(select(Complaint).where(Complaint.customer_id == c.id))
    assert contact is not None and complaint is not None
    assert contact.complaint_id == complaint.id and complaint.channel == "agent"
