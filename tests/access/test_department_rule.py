"""One department rule for every record: own department and below it; the hotline reads all.

Customers of SVC, of its team SVC-N and of OTHER each have a job, a lead, a
complaint and a post-repair callback. Each person reads customers (and their
cards), leads and complaints one by one and in lists, over a real server on both
engines: the hotline's agent (CC, `HOTLINE_DEPARTMENTS`) reads every one; SVC's
manager reads SVC and SVC-N but not OTHER; the technician of SVC-N reads only
SVC-N; a list holds exactly the rows the same person reads one by one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from callcenter.appkeys import CLOCK, DB
from callcenter.settings import Settings
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import ComplaintCategory, ComplaintChannel, Role
from crm.identity import OrgChart
from crm.services.callbacks import schedule_post_repair
from crm.services.complaints import Actor, OpenComplaint, open_complaint
from crm.services.leads import NewLead, record_latent_need
from tests import factories
from tests.access.people import Org, org
from tests.conftest import Served

CODES = ("SVC", "SVC-N", "OTHER")


# -- the rule itself (no I/O) -----------------------------------------------------------

HQ, SVC, NORTH, OTHER, CC, CC_NIGHT = 1, 2, 3, 4, 5, 6
CHART = OrgChart({HQ: None, SVC: HQ, NORTH: SVC, OTHER: HQ, CC: HQ, CC_NIGHT: CC},
                 hotline_roots=frozenset({CC}))


def person(department: int | None, *roles: Role) -> Any:
    return CHART.identity(7, "p", "p", frozenset(roles or {Role.AGENT}), department)


def test_staff_read_their_department_and_every_one_below_it_only() -> None:
    manager = person(SVC, Role.MANAGER)
    technician = person(NORTH, Role.TECHNICIAN)
    assert [manager.may_see_department(d) for d in (SVC, NORTH, OTHER, HQ)] == [True, True, False, False]
    assert [technician.may_see_department(d) for d in (NORTH, SVC, OTHER)] == [True, False, False]
    assert manager.readable_departments == {SVC, NORTH}


def test_the_hotline_and_its_teams_read_every_department() -> None:
    for department in (CC, CC_NIGHT):
        agent = person(department)
        assert agent.readable_departments is None
        assert all(agent.may_see_department(d) for d in (HQ, SVC, NORTH, OTHER))
    assert person(OTHER).readable_departments == {OTHER}


def test_a_person_of_no_department_reads_records_of_no_department_only() -> None:
    nobody = person(None)
    assert nobody.may_see_department(None) and not nobody.may_see_department(SVC)


# -- over the API -----------------------------------------------------------------------


@pytest.fixture
def hotline() -> str:
    return "CC"


@pytest.fixture
def settings(settings: Settings, hotline: str) -> Settings:
    return settings.model_copy(update={"hotline_departments": hotline})


class Records:
    def __init__(self, served: Served, people: Org) -> None:
        self.served, self.people = served, people
        self.http = aiohttp.ClientSession()
        self.rows: dict[str, dict[str, int]] = {}

    async def get(self, who: str, path: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.people.people[who].token}"}
        async with self.http.get(self.served.base_url + path, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)

    async def readable(self, who: str) -> dict[str, set[str]]:
        """Which departments' rows `who` reads one by one, and finds in the lists."""
        one: dict[str, set[str]] = {"customer": set(), "card": set(), "lead": set(), "complaint": set()}
        listed: dict[str, set[str]] = {"customer": set(), "lead": set(), "complaint": set(),
                                       "callback": set()}
        paths = {"customer": "/api/customers/{}", "card": "/api/customers/{}/card",
                 "lead": "/api/leads/{}", "complaint": "/api/complaints/{}"}
        for code, rows in self.rows.items():
            for kind, path in paths.items():
                status, _ = await self.get(who, path.format(rows["customer" if kind == "card" else kind]))
                assert status in (200, 403), (who, kind, code, status)
                if status == 200:
                    one[kind].add(code)
        by_id = {kind: {rows[kind]: code for code, rows in self.rows.items()}
                 for kind in ("customer", "lead", "complaint")}
        _, customers = await self.get(who, "/api/customers?limit=100")
        listed["customer"] = {by_id["customer"][c["customer_id"]] for c in customers
                              if c["customer_id"] in by_id["customer"]}
        _, leads = await self.get(who, "/api/leads?limit=100")
        listed["lead"] = {by_id["lead"][x["lead_id"]] for x in leads if x["lead_id"] in by_id["lead"]}
        _, complaints = await self.get(who, "/api/complaints?view=state")
        listed["complaint"] = {by_id["complaint"][x["complaint_id"]] for x in complaints["complaints"]
                               if x["complaint_id"] in by_id["complaint"]}
        status, callbacks = await self.get(who, "/api/callbacks?day=2026-05-18")
        if status == 200:
            listed["callback"] = {by_id["customer"][x["customer_id"]] for x in callbacks["callbacks"]
                                  if x["customer_id"] in by_id["customer"]}
        return {**{f"read {k}": v for k, v in one.items()}, **{f"list {k}": v for k, v in listed.items()}}


@pytest.fixture
async def records(served: Served) -> AsyncIterator[Records]:
    db, clock = served.app[DB], served.app[CLOCK]
    people = await org(db)
    made = Records(served, people)
    for index, code in enumerate(CODES):
        dept = people.departments[code]
        customer = await factories.customer(db, name=f"customer {code}", department_id=dept,
                                            phones=(f"+861380013800{index}",))
        job = await factories.job(db, customer.id, f"J-{code}", department_id=dept,
                                  completed_at=datetime(2026, 5, 16, 8, 0, tzinfo=UTC))
        lead = await record_latent_need(NewLead(customer.id, "a second air conditioner", 2,
                                                people.people["agent"].staff_id, None),
                                        SqlUnitOfWork(db), at=clock())
        opened = await open_complaint(OpenComplaint(
            customer_id=customer.id, channel=ComplaintChannel.AGENT,
            category=ComplaintCategory.REPAIR_QUALITY, description="noisy after the repair",
            job_id=job.id, actor=Actor.system("test")), SqlUnitOfWork(db), clock=clock)
        await schedule_post_repair(job.id, SqlUnitOfWork(db), clock)
        made.rows[code] = {"customer": customer.id, "lead": lead.lead.lead_id,
                           "complaint": opened.complaint_id}
    try:
        yield made
    finally:
        await made.http.close()


def only(codes: set[str], *kinds: str) -> dict[str, set[str]]:
    return {kind: codes for kind in kinds}


READS = ("read customer", "read card", "read lead", "read complaint")
LISTS = ("list customer", "list lead", "list complaint")


async def test_the_hotline_agent_reads_every_departments_customers_and_their_records(
    records: Records,
) -> None:
    seen = await records.readable("agent")
    assert seen == {**only(set(CODES), *READS, *LISTS), "list callback": set()}  # agents: no callback list


async def test_a_manager_reads_the_records_of_their_department_and_the_teams_below_it(
    records: Records,
) -> None:
    seen = await records.readable("scored_manager")
    assert seen == only({"SVC", "SVC-N"}, *READS, *LISTS, "list callback")
    other = await records.readable("other_manager")
    assert other == only({"OTHER"}, *READS, *LISTS, "list callback")


async def test_a_technician_of_a_team_reads_their_team_only(records: Records) -> None:
    seen = await records.readable("technician")
    assert {k: v for k, v in seen.items() if k != "list callback"} == only({"SVC-N"}, *READS, *LISTS)


@pytest.mark.parametrize("hotline", ["OTHER"])
async def test_the_hotline_is_the_departments_the_setting_names(records: Records) -> None:
    call_centre = await records.readable("agent")
    assert {k: v for k, v in call_centre.items() if k != "list callback"} == only(set(), *READS, *LISTS)
    other = await records.readable("other_manager")
    assert other == only(set(CODES), *READS, *LISTS, "list callback")
