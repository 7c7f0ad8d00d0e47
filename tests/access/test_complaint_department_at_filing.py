"""A job-less complaint is charged to the department it was filed against, for good.

The worry: the scored manager may move a customer between his department (SVC) and the team
below it (SVC-N) (`PATCH /api/customers/{id}`: both are his to manage). A complaint without
a service job is charged to the customer's department; if that were read from the customer
when the month is scored, a move after the complaint came in would move the complaint out
of the department that earned it. The department is stored on the complaint when it is
filed (001: the complaints received about the department that month), and the supervision
count reads that. Real server on a port, both engines.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
from sqlalchemy import select

from callcenter.appkeys import CLOCK, DB
from callcenter.reporting.loaders import load_supervision_complaints
from callcenter.storage.tables import Complaint, Customer
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import ComplaintCategory, ComplaintChannel
from crm.services import complaints as cs
from tests import factories
from tests.access.people import org
from tests.conftest import Served


async def test_moving_the_customer_after_filing_leaves_the_complaint_where_it_was_charged(
    served: Served,
) -> None:
    db, clock = served.app[DB], served.app[CLOCK]
    people = await org(db)
    north, svc = people.departments["SVC-N"], people.departments["SVC"]
    customer = await factories.customer(db, "张三", ("+8613800138000",), department_id=north)
    opened = await cs.open_complaint(cs.OpenComplaint(
        customer_id=customer.id, channel=ComplaintChannel.AGENT,
        category=ComplaintCategory.ATTITUDE, description="rude on the phone",
        actor=cs.Actor.system("test")), SqlUnitOfWork(db), clock=clock)
    headers = {"Authorization": f"Bearer {people.people['scored_manager'].token}"}
    async with aiohttp.ClientSession() as http:
        async with http.patch(f"{served.base_url}/api/customers/{customer.id}",
                              json={"department_id": svc}, headers=headers) as moved:
            assert moved.status == 200, await moved.text()
    async with db.sessions() as session:
        assert await session.scalar(select(Customer.department_id)
                                    .where(Customer.id == customer.id)) == svc
        filed = await session.scalar(select(Complaint.department_id)
                                     .where(Complaint.id == opened.complaint_id))
    assert filed == north
    frame = await load_supervision_complaints(db, datetime(2026, 5, 1, tzinfo=UTC),
                                              datetime(2026, 6, 1, tzinfo=UTC), "Asia/Shanghai")
    assert frame["department_id"].tolist() == [north]


async def test_the_scored_manager_cannot_move_a_customer_out_to_no_department(
    served: Served,
) -> None:
    """Before a complaint: a job-less complaint (every IVR complaint) is charged to the
    customer's department; a customer of no department is everyone's, so a move to none
    would send the angry customer's next complaint to no department (or the default one),
    out of the scored department's count. Refused, audited, nothing changed."""
    db, clock = served.app[DB], served.app[CLOCK]
    people = await org(db)
    svc = people.departments["SVC"]
    customer = await factories.customer(db, "张三", ("+8613800138000",), department_id=svc)
    headers = {"Authorization": f"Bearer {people.people['scored_manager'].token}"}
    async with aiohttp.ClientSession() as http:
        async with http.patch(f"{served.base_url}/api/customers/{customer.id}",
                              json={"department_id": None}, headers=headers) as moved:
            assert moved.status == 403, await moved.text()
    async with db.sessions() as session:
        assert await session.scalar(select(Customer.department_id)
                                    .where(Customer.id == customer.id)) == svc
    opened = await cs.open_complaint(cs.OpenComplaint(
        customer_id=customer.id, channel=ComplaintChannel.PHONE_IVR,
        category=ComplaintCategory.ATTITUDE, description="rude on the phone",
        actor=cs.Actor.system("ivr")), SqlUnitOfWork(db), clock=clock)
    assert opened.department_id == svc
