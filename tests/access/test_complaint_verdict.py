"""Only the follow-up verdict closes a resolved complaint, and nobody who handled it records it.

The complaint belongs to the scored department (SVC, its manager owns it). Its
follow-up verdict (and `close`, which is the verdict "satisfied") is tried by every
role with odd spellings of the verdict: only callback staff and a supervisor from
outside the department succeed; the owner, their manager chain, a supervisor placed
inside the department, an admin, agents and technicians are refused, nothing
changes and each refusal is stored. The verdict is its English code or the Chinese
words of the follow-up call (满意 / 不满意 / 未接通); anything else is 422 naming them.
Both engines, real server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import func, select

from callcenter.appkeys import CLOCK, DB
from callcenter.storage.tables import AccessRefusal, Complaint
from callcenter.storage.uow import SqlUnitOfWork
from crm.access import parse_verdict
from crm.enums import ComplaintCategory, ComplaintChannel, Verdict
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
SATISFIED = ["satisfied", " SATISFIED ", "ｓａｔｉｓｆｉｅｄ", "Satisfied\u200b"]


class Desk:
    def __init__(self, served: Served, people: Org, customer_id: int, job_id: int) -> None:
        self.served, self.people, self.customer_id, self.job_id = served, people, customer_id, job_id
        self.http = aiohttp.ClientSession()

    async def resolved_complaint(self) -> int:
        db, clock = self.served.app[DB], self.served.app[CLOCK]
        opened = await open_complaint(OpenComplaint(
            customer_id=self.customer_id, channel=ComplaintChannel.AGENT,
            category=ComplaintCategory.REPAIR_QUALITY, description="broke again",
            job_id=self.job_id, actor=Actor.system("test")), SqlUnitOfWork(db), clock=clock)
        assert opened.owner_id == self.people.people["scored_manager"].staff_id
        step = ComplaintStep(opened.complaint_id, Actor.system("test"), "replaced the part")
        await start_complaint(step, SqlUnitOfWork(db), clock=clock)
        await resolve_complaint(step, SqlUnitOfWork(db), clock=clock)
        return opened.complaint_id

    async def post(self, who: str, path: str, body: dict[str, str]) -> int:
        token = self.people.people[who].token
        async with self.http.post(self.served.base_url + path, json=body,
                                  headers={"Authorization": f"Bearer {token}"}) as resp:
            return resp.status

    async def state(self, complaint_id: int) -> str:
        async with self.served.app[DB].sessions() as session:
            row = await session.get(Complaint, complaint_id, populate_existing=True)
            assert row is not None
            return row.state

    async def refusals(self) -> int:
        async with self.served.app[DB].sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(AccessRefusal)) or 0)


@pytest.fixture
async def desk(served: Served) -> AsyncIterator[Desk]:
    db = served.app[DB]
    people = await org(db)
    customer = await factories.customer(db, department_id=people.departments["SVC"])
    job = await factories.job(db, customer.id, "J-C", department_id=people.departments["SVC"],
                              completed_at=datetime(2026, 5, 16, tzinfo=UTC))
    made = Desk(served, people, customer.id, job.id)
    try:
        yield made
    finally:
        await made.http.close()


async def test_nobody_who_handled_a_complaint_closes_it_or_records_its_verdict(desk: Desk) -> None:
    complaint_id = await desk.resolved_complaint()
    one = f"/api/complaints/{complaint_id}"
    wrong, refusals = [], await desk.refusals()
    for who in REFUSED:
        for verdict in SATISFIED:
            for path, body in ((one + "/verdict", {"verdict": verdict}), (one + "/close", {"note": verdict})):
                status = await desk.post(who, path, body)
                if status != 403:
                    wrong.append(f"{who} {path} {verdict!r}: {status}")
    assert not wrong, "\n".join(wrong)
    assert await desk.state(complaint_id) == "resolved"
    assert await desk.refusals() == refusals + len(REFUSED) * len(SATISFIED) * 2


async def test_callback_staff_or_an_outside_supervisor_record_the_verdict_in_any_spelling(
    desk: Desk,
) -> None:
    for i, verdict in enumerate(SATISFIED):
        complaint_id = await desk.resolved_complaint()
        who = "callback_staff" if i % 2 else "supervisor"
        assert await desk.post(who, f"/api/complaints/{complaint_id}/verdict", {"verdict": verdict}) == 200
        assert await desk.state(complaint_id) == "closed"
    complaint_id = await desk.resolved_complaint()
    assert await desk.post("callback_staff", f"/api/complaints/{complaint_id}/verdict",
                           {"verdict": "ｄｉｓｓａｔｉｓｆｉｅｄ"}) == 200
    assert await desk.state(complaint_id) == "reopened"
    complaint_id = await desk.resolved_complaint()
    assert await desk.post("supervisor", f"/api/complaints/{complaint_id}/close", {"note": "ok"}) == 200
    assert await desk.state(complaint_id) == "closed"
    assert await desk.post("supervisor", f"/api/complaints/{complaint_id}/verdict",
                           {"verdict": "s\u0430tisfied"}) == 422  # Cyrillic а: not a verdict


@pytest.mark.parametrize(("said", "verdict"), [
    ("满意", Verdict.SATISFIED), (" 非常满意 ", Verdict.SATISFIED), ("满\u200b意", Verdict.SATISFIED),
    ("不满意", Verdict.DISSATISFIED), ("不 满 意", Verdict.DISSATISFIED), ("Not satisfied", Verdict.DISSATISFIED),
    ("未接通", Verdict.UNREACHED), ("unreached", Verdict.UNREACHED),
])
def test_a_verdict_is_its_code_or_the_chinese_words_of_the_follow_up_call(said: str, verdict: Verdict) -> None:
    assert parse_verdict(said) is verdict


async def test_the_verdict_api_takes_the_chinese_labels(desk: Desk) -> None:
    closed = await desk.resolved_complaint()
    assert await desk.post("callback_staff", f"/api/complaints/{closed}/verdict", {"verdict": "满意"}) == 200
    assert await desk.state(closed) == "closed"
    reopened = await desk.resolved_complaint()
    assert await desk.post("supervisor", f"/api/complaints/{reopened}/verdict", {"verdict": "不满意"}) == 200
    assert await desk.state(reopened) == "reopened"


async def test_an_unknown_verdict_is_422_naming_the_accepted_ones_and_changes_nothing(desk: Desk) -> None:
    complaint_id = await desk.resolved_complaint()
    token = desk.people.people["callback_staff"].token
    async with desk.http.post(desk.served.base_url + f"/api/complaints/{complaint_id}/verdict",
                              json={"verdict": "还行"}, headers={"Authorization": f"Bearer {token}"}) as resp:
        status, body = resp.status, await resp.json()
    assert status == 422
    for accepted in ("satisfied", "满意", "dissatisfied", "不满意", "unreached", "未接通"):
        assert accepted in body["error"], body
    assert await desk.state(complaint_id) == "resolved"
