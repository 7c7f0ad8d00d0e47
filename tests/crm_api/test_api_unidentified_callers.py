"""Unidentified caller records over HTTP: the agents' list, and linking one to the real
customer (its complaint and call follow)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from callcenter.clock import system_clock
from callcenter.storage.engine import Database
from callcenter.storage.tables import Complaint
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import ComplaintCategory, ComplaintChannel
from crm.services import complaints as cs
from crm.services import customers as svc
from tests import factories
from tests.crm_api.conftest import People


async def _withheld_complaint(db: Database) -> int:
    record = await svc.record_unidentified_caller(
        SqlUnitOfWork(db), call_id=None, timezone="Asia/Shanghai", language="zh-CN")
    await cs.open_complaint(cs.OpenComplaint(
        customer_id=record.customer_id, channel=ComplaintChannel.PHONE_IVR,
        category=ComplaintCategory.BILLING, description="overcharged", actor=cs.Actor.system("ivr"),
    ), SqlUnitOfWork(db), clock=system_clock)
    return record.customer_id


async def test_an_agent_lists_unidentified_callers_and_links_one_to_the_customer(
    as_: Any, people: People, db: Database,
) -> None:
    source = await _withheld_complaint(db)
    await factories.customer(db, "未知号码", ("+8613911112222",), department_id=people.dept_a,
                             verified=False)  # an unknown *number*: not on this list
    real = await factories.customer(db, "张三", ("+8613800138000",), department_id=people.dept_a)
    api = as_("agent_a")
    status, listed = await api.call("GET", "/api/customers/unidentified")
    assert status == 200, listed
    assert [c["customer_id"] for c in listed] == [source]
    assert listed[0]["phones"] == [] and listed[0]["verified"] is False
    status, merged = await api.call("POST", f"/api/customers/{real.id}/merge",
                                    json={"source_customer_id": source})
    assert status == 200, merged
    async with db.sessions() as session:
        complaint = await session.scalar(select(Complaint))
    assert complaint is not None and complaint.customer_id == real.id
    status, listed = await api.call("GET", "/api/customers/unidentified")
    assert status == 200 and listed == []


async def test_the_unidentified_list_pages_and_refuses_bad_paging(as_: Any, db: Database) -> None:
    for _ in range(3):
        await _withheld_complaint(db)
    api = as_("agent_a")
    status, page = await api.call("GET", "/api/customers/unidentified?limit=2&offset=1")
    assert status == 200 and len(page) == 2
    status, _ = await api.call("GET", "/api/customers/unidentified?limit=0")
    assert status == 422
