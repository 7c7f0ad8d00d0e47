"""Probe (failing, not landed): the scored department creates a customer of no department
and books its job on it; the customer's IVR complaint (IVR complaints carry no job) is then
charged to no department and counts for nobody. Suggested fix: staff of a department create
customers in a department they manage, or an IVR complaint is charged to the caller's last
job's department (and technician) before the customer's."""

from __future__ import annotations

import aiohttp

from callcenter.appkeys import CLOCK, DB
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import ComplaintCategory, ComplaintChannel
from crm.services import complaints as cs
from tests.access.people import org
from tests.conftest import Served


async def test_a_customer_the_scored_department_books_work_for_is_not_of_no_department(
    served: Served,
) -> None:
    db, clock = served.app[DB], served.app[CLOCK]
    people = await org(db)
    headers = {"Authorization": f"Bearer {people.people['scored_manager'].token}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{served.base_url}/api/customers", headers=headers, json={
                "name": "张三", "phones": ["+8613800138000"]}) as made:
            assert made.status == 201, await made.text()
            customer_id = (await made.json())["customer_id"]
        async with http.post(f"{served.base_url}/api/jobs", headers=headers, json={
                "reference": "J-1", "customer_id": customer_id,
                "department_id": people.departments["SVC"],
                "technician_id": people.people["technician"].staff_id,
                "completed_at": "2026-05-18T09:00:00+08:00"}) as job:
            assert job.status == 201, await job.text()
    opened = await cs.open_complaint(cs.OpenComplaint(
        customer_id=customer_id, channel=ComplaintChannel.PHONE_IVR,
        category=ComplaintCategory.REPAIR_QUALITY, description="(recording)",
        actor=cs.Actor.system("ivr")), SqlUnitOfWork(db), clock=clock)
    assert opened.department_id == people.departments["SVC"]
