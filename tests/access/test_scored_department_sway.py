"""A scored department cannot sway its own supervision figures through callbacks or jobs.

The job and the complaint belong to the scored department (SVC; its manager owns the
complaint, a technician of SVC-N below it did the repair). Completing the post-repair
survey call or the complaint's follow-up call by hand is tried through the real API by
every role: only callback staff and a supervisor from outside the department succeed;
the rest get 403, the callback stays open (the customer is still surveyed / asked) and
each refusal is stored. A callback the customer asked for is untouched by this rule.
Booking a job to another department (or to another department's technician) is refused
the same way. Both engines, real server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from callcenter.appkeys import CLOCK, DB
from callcenter.storage.tables import AccessRefusal, Callback, Complaint, ServiceJob
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import CallbackWindow, ComplaintCategory, ComplaintChannel
from crm.services.callbacks import (
    request_callback,
    schedule_complaint_followup,
    schedule_post_repair,
)
from crm.services.complaints import (
    Actor,
    ComplaintStep,
    OpenComplaint,
    open_complaint,
    resolve_complaint,
    start_complaint,
)
from tests import factories
from tests.access.people import Org, org
from tests.conftest import Served

REFUSED = ["agent", "technician", "scored_manager", "other_manager", "inside_supervisor", "admin",
           "region_supervisor", "region_callback_staff"]


class Desk:
    def __init__(self, served: Served, people: Org, customer_id: int, other_customer_id: int) -> None:
        self.served, self.people = served, people
        self.customer_id, self.other_customer_id = customer_id, other_customer_id
        self.http = aiohttp.ClientSession()
        self.jobs = 0
        self.north_customer_id = 0

    @property
    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.served.app[DB])

    def dept(self, code: str) -> int:
        return self.people.departments[code]

    async def completed_job(self) -> int:
        self.jobs += 1
        job = await factories.job(
            self.served.app[DB], self.customer_id, f"J-{self.jobs}", department_id=self.dept("SVC"),
            technician_id=self.people.people["technician"].staff_id,
            completed_at=datetime(2026, 5, 16, 8, 0, tzinfo=UTC))
        return int(job.id)

    async def survey_call(self) -> int:
        cb = await schedule_post_repair(await self.completed_job(), self.uow, self.served.app[CLOCK])
        return cb.id

    async def followup_call(self) -> tuple[int, int]:
        clock = self.served.app[CLOCK]
        opened = await open_complaint(OpenComplaint(
            customer_id=self.customer_id, channel=ComplaintChannel.AGENT,
            category=ComplaintCategory.REPAIR_QUALITY, description="broke again",
            job_id=await self.completed_job(), actor=Actor.system("test")), self.uow, clock=clock)
        assert opened.owner_id == self.people.people["scored_manager"].staff_id
        step = ComplaintStep(opened.complaint_id, Actor.system("test"), "replaced the part")
        await start_complaint(step, self.uow, clock=clock)
        await resolve_complaint(step, self.uow, clock=clock)
        cb = await schedule_complaint_followup(opened.complaint_id, self.uow, clock)
        return cb.id, opened.complaint_id

    async def post(self, who: str, path: str, body: dict[str, Any]) -> int:
        token = self.people.people[who].token
        async with self.http.post(self.served.base_url + path, json=body,
                                  headers={"Authorization": f"Bearer {token}"}) as resp:
            return resp.status

    async def complete(self, who: str, callback_id: int, disposition: str = "satisfied") -> int:
        return await self.post(who, f"/api/callbacks/{callback_id}/complete",
                               {"disposition": disposition, "feedback": "all fine"})

    async def row(self, table: type, row_id: int) -> Any:
        async with self.served.app[DB].sessions() as session:
            return await session.get(table, row_id, populate_existing=True)

    async def count(self, table: type) -> int:
        async with self.served.app[DB].sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.fixture
async def desk(served: Served) -> AsyncIterator[Desk]:
    db = served.app[DB]
    people = await org(db)
    customer = await factories.customer(db, department_id=people.departments["SVC"])
    other = await factories.customer(db, "李四", ("+8613900139000",),
                                     department_id=people.departments["OTHER"])
    north = await factories.customer(db, "王五", ("+8613700137000",),
                                     department_id=people.departments["SVC-N"])
    made = Desk(served, people, customer.id, other.id)
    made.north_customer_id = north.id
    try:
        yield made
    finally:
        await made.http.close()


async def test_nobody_in_the_scored_department_completes_its_survey_or_followup_call(
    desk: Desk,
) -> None:
    survey_call = await desk.survey_call()
    followup_call, complaint_id = await desk.followup_call()
    wrong, refusals = [], await desk.count(AccessRefusal)
    for who in REFUSED:
        for callback_id in (survey_call, followup_call):
            for disposition in ("satisfied", " Unreached "):
                status = await desk.complete(who, callback_id, disposition)
                if status != 403:
                    wrong.append(f"{who} callback {callback_id} {disposition!r}: {status}")
    assert not wrong, "\n".join(wrong)
    assert await desk.count(AccessRefusal) == refusals + len(REFUSED) * 2 * 2
    for callback_id in (survey_call, followup_call):
        row = await desk.row(Callback, callback_id)
        assert (row.state, row.disposition, row.attempts) == ("scheduled", None, 0)
    assert (await desk.row(Complaint, complaint_id)).state == "resolved"
    async with desk.served.app[DB].sessions() as session:
        reasons = (await session.scalars(
            select(AccessRefusal.reason).where(AccessRefusal.action == "callback.complete"))).all()
    assert any("your own" in r for r in reasons)  # the scored department is told why


async def test_callback_staff_or_an_outside_supervisor_complete_survey_and_followup_calls(
    desk: Desk,
) -> None:
    for who in ("callback_staff", "supervisor"):
        survey_call = await desk.survey_call()
        followup_call, _ = await desk.followup_call()
        for callback_id in (survey_call, followup_call):
            assert await desk.complete(who, callback_id) == 200, who
            assert (await desk.row(Callback, callback_id)).state == "completed"


async def test_a_callback_the_customer_asked_for_is_still_completed_by_their_department(
    desk: Desk,
) -> None:
    cb = await request_callback(desk.customer_id, "+8613800138000", CallbackWindow.TOMORROW_MORNING,
                                None, desk.uow, desk.served.app[CLOCK])
    assert await desk.complete("scored_manager", cb.id) == 200
    assert (await desk.row(Callback, cb.id)).state == "completed"


async def test_staff_book_jobs_only_to_their_own_department_or_one_below(desk: Desk) -> None:
    tech_n = desk.people.people["technician"].staff_id  # SVC-N
    other_tech = (await factories.staff(desk.served.app[DB], "other-tech", ["technician"],
                                        desk.dept("OTHER"))).id
    refused = [
        ("scored_manager", desk.customer_id, "OTHER", None),  # SVC's job booked to OTHER
        ("scored_manager", desk.customer_id, "SVC", other_tech),  # ... or to OTHER's technician
        ("scored_manager", desk.customer_id, "HQ", None),  # above one's own department
        ("other_manager", desk.other_customer_id, "SVC", tech_n),  # OTHER books onto SVC
        ("technician", desk.north_customer_id, "SVC", tech_n),  # SVC-N's technician onto its parent
    ]
    jobs, refusals = await desk.count(ServiceJob), await desk.count(AccessRefusal)
    for n, (who, customer_id, dept, tech) in enumerate(refused):
        status = await desk.post(who, "/api/jobs", {
            "reference": f"R-{n}", "customer_id": customer_id, "department_id": desk.dept(dept),
            "technician_id": tech})
        assert status == 403, (who, dept, tech)
    assert await desk.count(ServiceJob) == jobs
    assert await desk.count(AccessRefusal) == refusals + len(refused)
    allowed = [
        ("scored_manager", desk.customer_id, "SVC", tech_n),
        ("scored_manager", desk.customer_id, "SVC-N", tech_n),  # a team below one's department
        ("technician", desk.north_customer_id, "SVC-N", tech_n),
        ("other_manager", desk.other_customer_id, "OTHER", other_tech),
        ("admin", desk.customer_id, "OTHER", other_tech),
    ]
    for n, (who, customer_id, dept, tech) in enumerate(allowed):
        status = await desk.post(who, "/api/jobs", {
            "reference": f"A-{n}", "customer_id": customer_id, "department_id": desk.dept(dept),
            "technician_id": tech})
        assert status == 201, (who, dept, tech)
    assert await desk.count(ServiceJob) == jobs + len(allowed)
