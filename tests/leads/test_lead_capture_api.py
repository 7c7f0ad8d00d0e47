"""The lead-capture routes on a real port, both engines: an agent proposes, the head signs,
a win shows the finder's credit as payable, the head marks it paid."""

from __future__ import annotations

import aiohttp
from sqlalchemy import select

from callcenter.appkeys import DB
from callcenter.storage.tables import AccessRefusal
from tests import factories
from tests.complaints.helpers import bearer, set_department_manager
from tests.conftest import Served


async def test_proposal_signature_and_payable_credit_through_the_api(served: Served) -> None:
    db = served.app[DB]
    dept = await factories.department(db, "AFTERSALES")
    head = await factories.staff(db, "head-zhou", ["manager"], dept.id)
    await set_department_manager(db, dept, head)
    tech = await factories.staff(db, "tech-liu", ["technician"], dept.id)
    agent = await factories.staff(db, "sales-wang", ["agent"], dept.id)
    customer = await factories.customer(db, department_id=dept.id)
    as_tech, as_agent, as_head = [await bearer(db, p) for p in (tech, agent, head)]
    base = served.base_url
    async with aiohttp.ClientSession() as http:
        made = await http.post(f"{base}/api/leads", headers=as_tech, json={
            "customer_id": customer.id, "need": "needs a faster computer", "demand_level": 3,
            "follow_up_staff_id": agent.id})
        assert made.status == 201
        lead_id = (await made.json())["lead_id"]
        proposed = await http.post(f"{base}/api/leads/{lead_id}/proposal", headers=as_agent,
                                   json={"proposal": "laptop, 16 GB, SSD"})
        assert proposed.status == 200 and (await proposed.json())["proposal_signed_at"] is None
        refused = await http.post(f"{base}/api/leads/{lead_id}/proposal/sign", headers=as_agent)
        assert refused.status == 403
        signed = await http.post(f"{base}/api/leads/{lead_id}/proposal/sign", headers=as_head)
        assert (await signed.json())["proposal_signed_by_id"] == head.id
        for action in ({"action": "contact"}, {"action": "win", "order_value": "4500"}):
            done = await http.post(f"{base}/api/leads/{lead_id}/actions", headers=as_agent, json=action)
            assert done.status == 200, await done.text()
        body = await done.json()
        assert body["finder_credited_staff_id"] == tech.id and body["finder_credit_amount"] == "200.00"
        payable = await (await http.get(f"{base}/api/lead-credits", headers=as_head)).json()
        assert [(r["lead_id"], r["credit_amount"], r["credit_payable"]) for r in payable] == [
            (lead_id, "200.00", True)]
        paid = await http.post(f"{base}/api/lead-credits/{lead_id}/pay", headers=as_head)
        assert (await paid.json())["credit_payable"] is False
        assert await (await http.get(f"{base}/api/lead-credits", headers=as_head)).json() == []


async def test_a_manager_may_not_pay_the_credit_of_a_lead_he_found_himself(served: Served) -> None:
    """004: the credit is approved and paid by someone other than the person credited. The
    head records his own need and wins it; his pay is refused and stored, the credit stays
    payable; the director above him pays it."""
    db = served.app[DB]
    top = await factories.department(db, "HQ")
    dept = await factories.department(db, "AFTERSALES", parent_id=top.id)
    director = await factories.staff(db, "director-qian", ["manager"], top.id)
    head = await factories.staff(db, "head-zhou", ["manager"], dept.id)
    await set_department_manager(db, top, director)
    await set_department_manager(db, dept, head)
    customer = await factories.customer(db, department_id=dept.id)
    as_head, as_director = [await bearer(db, p) for p in (head, director)]
    base = served.base_url
    async with aiohttp.ClientSession() as http:
        made = await http.post(f"{base}/api/leads", headers=as_head, json={
            "customer_id": customer.id, "need": "wants a laptop", "demand_level": 3,
            "follow_up_staff_id": head.id})
        lead_id = (await made.json())["lead_id"]
        for action in ({"action": "contact"}, {"action": "win", "order_value": "4500"}):
            won = await http.post(f"{base}/api/leads/{lead_id}/actions", headers=as_head, json=action)
        assert (await won.json())["finder_credited_staff_id"] == head.id
        refused = await http.post(f"{base}/api/lead-credits/{lead_id}/pay", headers=as_head)
        assert refused.status == 403 and "owed to you" in (await refused.json())["error"]
        payable = await (await http.get(f"{base}/api/lead-credits", headers=as_director)).json()
        assert [r["lead_id"] for r in payable] == [lead_id]
        async with db.sessions() as session:
            (refusal,) = (await session.scalars(select(AccessRefusal))).all()
        assert (refusal.staff_id, refusal.action, refusal.subject) == (
            head.id, "lead.credit.pay", f"lead:{lead_id}")
        paid = await http.post(f"{base}/api/lead-credits/{lead_id}/pay", headers=as_director)
        assert paid.status == 200 and (await paid.json())["credit_payable"] is False
