"""A public-form complaint counts against a department only once its number is confirmed (001).

Anybody can type a customer's number into `/complaint`. Until a call comes from that
number (or an answered call goes to it) after the complaint, or an agent, callback staff
member or supervisor confirms it, the complaint stays in the workflow but the monthly
complaint count (and its fine band) leaves it out; the report lists it as "unconfirmed,
not counted" with the number. Real HTTP, both engines.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy import select

from callcenter.appkeys import CLOCK
from callcenter.reporting import builders, exports
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import AccessRefusal, Call, Complaint, Customer
from crm.enums import ComplaintCategory, ComplaintChannel
from crm.services.complaints import Actor, OpenComplaint, open_complaint
from reports.periods import Month
from tests import factories
from tests.complaints.helpers import bearer, uow
from tests.conftest import Served

NUMBER = "+8613800138000"


async def _stranger_complains(served: Served, times: int = 1) -> list[str]:
    tickets = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        for n in range(times):
            async with http.get(served.base_url + "/complaint") as resp:
                token = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
            assert token
            async with http.post(served.base_url + "/complaint", data={
                    "csrf_token": token.group(1), "phone": "138 0013 8000", "category": "attitude",
                    "description": f"made up complaint {n}"}) as resp:
                assert resp.status == 201
                tickets.append(re.search(r'class="ticket">(\d+)<', await resp.text()).group(1))  # type: ignore[union-attr]
    return tickets


async def _svc_figures(db: Database, settings: Settings, served: Served, svc_id: int) -> tuple[int, list]:  # type: ignore[type-arg]
    now = served.app[CLOCK]()
    payload = await builders.supervision(db, settings, Month(now.year, now.month))
    (dept,) = [d for d in payload["supervision"]["departments"] if d["department_id"] == svc_id]
    return dept["complaints"]["complaints"], payload["unconfirmed_complaints"]


async def _scored_customer(db: Database) -> int:
    svc = await factories.department(db, "SVC")
    await factories.staff(db, "tech", ["technician"], svc.id)
    await factories.customer(db, phones=(NUMBER,), department_id=svc.id)
    return svc.id


async def test_a_stranger_typing_a_customers_number_does_not_move_the_complaint_count(
    served: Served, db: Database, settings: Settings,
) -> None:
    svc_id = await _scored_customer(db)
    tickets = await _stranger_complains(served)
    async with db.sessions() as session:
        (row,) = (await session.scalars(select(Complaint))).all()
    # still in the workflow: charged to the department, with an owner's queue state
    assert (row.department_id, row.reported_number, row.number_confirmed_at) == (svc_id, NUMBER, None)
    assert row.state in ("new", "assigned")
    count, unconfirmed = await _svc_figures(db, settings, served, svc_id)
    assert count == 0
    assert [(u["ticket"], u["number"], u["status"]) for u in unconfirmed] == [
        (tickets[0], NUMBER, "unconfirmed, not counted")]
    now = served.app[CLOCK]()
    page = exports.html_body(await builders.supervision(db, settings, Month(now.year, now.month)))
    table = page[page.index("Public-form complaints: unconfirmed, not counted"):]
    assert f"<td>{tickets[0]}</td><td>SVC</td><td>{NUMBER}</td>" in table


async def test_an_agent_confirming_the_number_makes_the_complaint_count(
    served: Served, db: Database, settings: Settings,
) -> None:
    svc_id = await _scored_customer(db)
    await _stranger_complains(served)
    async with db.sessions() as session:
        complaint_id = (await session.scalars(select(Complaint.id))).one()
    technician = await factories.staff(db, "svc-tech", ["technician"], svc_id)
    agent = await factories.staff(db, "agent-wu", ["agent"])
    url = f"{served.base_url}/api/complaints/{complaint_id}/confirm-number"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={}, headers=await bearer(db, technician)) as refused:
            assert refused.status == 403
        assert (await _svc_figures(db, settings, served, svc_id))[0] == 0
        async with http.post(url, json={"note": "called back, it was her"},
                             headers=await bearer(db, agent)) as done:
            assert done.status == 200, await done.text()
    count, unconfirmed = await _svc_figures(db, settings, served, svc_id)
    assert (count, unconfirmed) == (1, [])
    async with db.sessions() as session:
        refusal = (await session.scalars(select(AccessRefusal))).one()
    assert refusal.staff_id == technician.id


async def test_a_call_from_the_number_after_the_complaint_confirms_it_and_one_before_does_not(
    served: Served, db: Database, settings: Settings,
) -> None:
    svc_id = await _scored_customer(db)
    now: datetime = served.app[CLOCK]()
    before = Call(carrier="twilio", carrier_call_id="CA-before", direction="inbound",
                  from_number=NUMBER, to_number="+8640000000", started_at=now - timedelta(hours=1))
    unanswered = Call(carrier="twilio", carrier_call_id="CA-out", direction="outbound",
                      from_number="+8640000000", to_number=NUMBER, started_at=now + timedelta(hours=1))
    await factories.add(db, before, unanswered)
    await _stranger_complains(served)
    await factories.add(db, Call(carrier="asterisk", carrier_call_id="1716.0", direction="inbound",
                                 from_number="15800138000", to_number="4008001234",
                                 started_at=now + timedelta(hours=1)))  # another number
    assert (await _svc_figures(db, settings, served, svc_id))[0] == 0
    await factories.add(db, Call(carrier="asterisk", carrier_call_id="1716.1", direction="inbound",
                                 from_number="13800138000", to_number="4008001234",
                                 started_at=now + timedelta(hours=2)))  # Asterisk: national digits
    assert (await _svc_figures(db, settings, served, svc_id))[0] == 1


async def test_a_complaint_heard_on_the_phone_counts_without_confirmation(
    db: Database, settings: Settings, served: Served,
) -> None:
    svc_id = await _scored_customer(db)
    async with db.sessions() as session:
        customer_id = (await session.scalars(select(Customer.id))).one()
    await open_complaint(OpenComplaint(customer_id, ComplaintChannel.PHONE_IVR,
                                       ComplaintCategory.ATTITUDE, "rude", actor=Actor.system("ivr")),
                         uow(db), clock=served.app[CLOCK])
    assert await _svc_figures(db, settings, served, svc_id) == (1, [])
