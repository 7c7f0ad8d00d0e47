"""A list never returns a row the caller could not read one by one.

Customers, leads, complaints and callbacks of the scored department (SVC), of
another department (OTHER) and of no department are listed by every role; every
row of every list is then read one by one (or its customer is) by the same
caller, and must be readable. The lists are filtered in the query, so another
department's manager does not see SVC's rows at all, while a supervisor does; the
operational reports a manager reads hold their own departments' rows only. Both
engines, real server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from callcenter.appkeys import CLOCK, DB
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import ComplaintCategory, ComplaintChannel
from crm.services.callbacks import schedule_post_repair
from crm.services.complaints import Actor, OpenComplaint, open_complaint
from crm.services.leads import NewLead, record_latent_need
from tests import factories
from tests.access.people import Org, org
from tests.conftest import Served

LISTERS = ["agent", "technician", "callback_staff", "scored_manager", "other_manager",
           "supervisor", "admin"]


class Lists:
    def __init__(self, served: Served, people: Org) -> None:
        self.served, self.people = served, people
        self.http = aiohttp.ClientSession()
        self.rows: dict[str, dict[str, int]] = {}

    async def get(self, who: str, path: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.people.people[who].token}"}
        async with self.http.get(self.served.base_url + path, headers=headers) as resp:
            body = await resp.json(content_type=None) if resp.status < 500 else None
            return resp.status, body


@pytest.fixture
async def lists(served: Served) -> AsyncIterator[Lists]:
    db, clock = served.app[DB], served.app[CLOCK]
    people = await org(db)
    made = Lists(served, people)
    for code in ("SVC", "OTHER", None):
        dept = people.departments[code] if code else None
        phone = {"SVC": "+8613800138001", "OTHER": "+8613800138002", None: "+8613800138003"}[code]
        customer = await factories.customer(db, name=f"customer {code}", phones=(phone,),
                                            department_id=dept)
        job = await factories.job(db, customer.id, f"J-{code}", department_id=dept,
                                  completed_at=datetime(2026, 5, 17, 8, 0, tzinfo=UTC))
        lead = await record_latent_need(NewLead(customer.id, "a second air conditioner", 2,
                                                people.people["agent"].staff_id, None),
                                        SqlUnitOfWork(db), at=clock())
        opened = await open_complaint(OpenComplaint(
            customer_id=customer.id, channel=ComplaintChannel.AGENT,
            category=ComplaintCategory.REPAIR_QUALITY, description="noisy after the repair",
            job_id=job.id, actor=Actor.system("test")), SqlUnitOfWork(db), clock=clock)
        callback = await schedule_post_repair(job.id, SqlUnitOfWork(db), clock)
        made.rows[str(code)] = {"customer": customer.id, "lead": lead.lead.lead_id,
                                "complaint": opened.complaint_id, "callback": callback.id}
    try:
        yield made
    finally:
        await made.http.close()


def ids(body: Any, key: str, field: str) -> list[int]:
    items = body[key] if isinstance(body, dict) else body
    return [int(item[field]) for item in items]


async def test_every_listed_row_can_be_read_one_by_one_by_whoever_listed_it(lists: Lists) -> None:
    unreadable = []
    seen: dict[str, dict[str, set[int]]] = {}
    for who in LISTERS:
        seen[who] = {}
        checks = [("/api/customers?limit=100", None, "customer_id", "/api/customers/{}"),
                  ("/api/leads?limit=100", None, "lead_id", "/api/leads/{}"),
                  ("/api/complaints?view=state", "complaints", "complaint_id", "/api/complaints/{}"),
                  ("/api/callbacks?day=2026-05-18", "callbacks", "customer_id", "/api/customers/{}"),
                  ("/api/callbacks?day=2026-05-20", "callbacks", "customer_id", "/api/customers/{}")]
        for listing, key, field, one in checks:
            status, body = await lists.get(who, listing)
            if status == 403:
                continue  # the route's rule refuses this role the whole list (the matrix test)
            assert status == 200, (who, listing, status, body)
            found = set(ids(body, key or "", field) if key else ids(body, "", field))
            seen[who][listing] = found
            for row_id in sorted(found):
                got, _ = await lists.get(who, one.format(row_id))
                if got != 200:
                    unreadable.append(f"{who}: {listing} lists {row_id}, {one.format(row_id)} is {got}")
    assert not unreadable, "\n".join(unreadable)
    svc, other = lists.rows["SVC"], lists.rows["OTHER"]
    # filtered in the query: the other department's manager does not see SVC's rows ...
    assert svc["lead"] not in seen["other_manager"]["/api/leads?limit=100"]
    assert other["lead"] in seen["other_manager"]["/api/leads?limit=100"]
    assert svc["complaint"] not in seen["other_manager"]["/api/complaints?view=state"]
    assert svc["customer"] not in seen["other_manager"]["/api/callbacks?day=2026-05-20"]
    assert other["customer"] in seen["other_manager"]["/api/callbacks?day=2026-05-20"]
    # ... which a supervisor and callback staff do
    for who in ("supervisor", "callback_staff"):
        assert {svc["lead"], other["lead"]} <= seen[who]["/api/leads?limit=100"]
        assert {svc["customer"], other["customer"]} <= seen[who]["/api/callbacks?day=2026-05-20"]


async def test_a_manager_reads_operational_reports_of_their_own_departments_only(
    lists: Lists,
) -> None:
    status, mine = await lists.get("other_manager", "/api/reports/weekly?period=2026-W21")
    assert status == 200, mine
    status, everything = await lists.get("supervisor", "/api/reports/weekly?period=2026-W21")
    assert status == 200, everything
    assert mine["scope"] == f"departments:{lists.people.departments['OTHER']}"
    assert everything["scope"] == "all"
    assert mine["complaints"] != everything["complaints"]
    status, scored = await lists.get("scored_manager", "/api/reports/weekly?period=2026-W21")
    assert status == 200 and scored["scope"].startswith("departments:")
    below = {int(d) for d in scored["scope"].split(":")[1].split(",")}
    assert below == {lists.people.departments["SVC"], lists.people.departments["SVC-N"]}
