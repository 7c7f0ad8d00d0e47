"""Escalation of overdue complaints up the department chain, once per level, with a fixed clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from callcenter.clock import FixedClock
from callcenter.complaints.jobs import escalation_job
from callcenter.jobs import JobLoop
from callcenter.storage.engine import Database
from callcenter.storage.tables import ComplaintEscalation, ComplaintHistory, Notification
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import MajorReason, Severity
from crm.services.complaint_escalation import escalate_overdue
from crm.services.complaints import (
    Actor,
    ComplaintPolicy,
    ComplaintStep,
    assign_complaint,
    get_complaint,
    open_complaint,
    resolve_complaint,
)
from tests import factories
from tests.complaints.helpers import Org, complaint, followup_callback, org, uow
from tests.conftest import Served

ORDINARY_RESOLVE = timedelta(hours=72)


async def _open_owned_by_agent(db: Database, clock: FixedClock) -> tuple[Org, int]:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    opened = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    await assign_complaint(opened.complaint_id, people.agent.id, Actor.system("test"), uow(db), clock=clock)
    return people, opened.complaint_id


async def _count(db: Database, model: type, **where: object) -> int:
    async with db.sessions() as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return int(await session.scalar(query) or 0)


async def test_nothing_escalates_before_the_resolve_by_time(db: Database, clock: FixedClock) -> None:
    await _open_owned_by_agent(db, clock)
    clock.advance(hours=72)
    assert await escalate_overdue(uow(db), now=clock()) == []


async def test_an_overdue_complaint_climbs_two_levels_of_the_chain(db: Database, clock: FixedClock) -> None:
    people, complaint_id = await _open_owned_by_agent(db, clock)
    clock.advance(hours=72, minutes=1)
    first = await escalate_overdue(uow(db), now=clock())
    assert [(e.level, e.manager_id) for e in first] == [(1, people.service_manager.id)]
    assert await escalate_overdue(uow(db), now=clock()) == []  # not yet the next step
    clock.advance(hours=4, minutes=1)  # overdue made it major: the major step (4 h) applies
    second = await escalate_overdue(uow(db), now=clock())
    assert [(e.level, e.manager_id) for e in second] == [(2, people.region_manager.id)]
    record = await get_complaint(complaint_id, uow(db), identity=None)
    assert record.escalation_level == 2
    assert MajorReason.OVERDUE in record.major_reasons and record.severity == Severity.MAJOR
    async with db.sessions() as session:
        told = (await session.scalars(
            select(Notification).where(Notification.kind == "complaint_escalated").order_by(Notification.id)
        )).all()
        history = (await session.scalars(
            select(ComplaintHistory).where(ComplaintHistory.action == "escalate").order_by(ComplaintHistory.id)
        )).all()
    assert [(n.staff_id, n.payload["state"], n.payload["escalation_level"]) for n in told] == [
        (people.service_manager.id, "assigned", 1), (people.region_manager.id, "assigned", 2)
    ]
    assert [h.actor_label for h in history] == ["job-loop", "job-loop"]


async def test_escalation_stops_at_the_top_of_the_chain(db: Database, clock: FixedClock) -> None:
    _, complaint_id = await _open_owned_by_agent(db, clock)
    clock.advance(hours=72, minutes=1)
    for _ in range(5):
        await escalate_overdue(uow(db), now=clock())
        clock.advance(hours=5)
    record = await get_complaint(complaint_id, uow(db), identity=None)
    assert record.escalation_level == 3
    assert await _count(db, ComplaintEscalation) == 3


async def test_a_resolved_complaint_never_escalates(db: Database, clock: FixedClock) -> None:
    people, complaint_id = await _open_owned_by_agent(db, clock)
    from crm.services.complaints import start_complaint

    await start_complaint(ComplaintStep(complaint_id, Actor.system("test")), uow(db), clock=clock)
    await resolve_complaint(ComplaintStep(complaint_id, Actor.system("test"), "replaced the part"), uow(db), clock=clock)
    clock.advance(days=10)
    assert await escalate_overdue(uow(db), now=clock()) == []


async def test_two_processes_escalating_at_once_escalate_each_level_once(
    db: Database, clock: FixedClock
) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    for _ in range(4):
        await open_complaint(complaint(customer.id, description="洗衣机漏水"), uow(db), clock=clock)
    clock.advance(hours=25)  # past the respond-by time only: one level due per complaint
    other_process = Database.open(db.url)
    try:
        results = await asyncio.gather(
            escalate_overdue(SqlUnitOfWork(db), now=clock()),
            escalate_overdue(SqlUnitOfWork(other_process), now=clock()),
        )
    finally:
        await other_process.close()
    assert sum(len(r) for r in results) == 4
    assert await _count(db, ComplaintEscalation) == 4
    assert await _count(db, ComplaintHistory, action="escalate") == 4
    assert await _count(db, Notification, kind="complaint_escalated") == 4


async def test_two_job_loops_escalate_each_level_once(db: Database, clock: FixedClock) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    await open_complaint(complaint(customer.id), uow(db), clock=clock)
    clock.advance(hours=25)  # past the respond-by time only: one level due
    other_process = Database.open(db.url)
    job_a = escalation_job(lambda: db, ComplaintPolicy(), timedelta(seconds=1))
    job_b = escalation_job(lambda: other_process, ComplaintPolicy(), timedelta(seconds=1))
    loops = [
        JobLoop(db=db, jobs=[job_a], holder="host-a:1", clock=clock),
        JobLoop(db=other_process, jobs=[job_b], holder="host-b:2", clock=clock),
    ]
    try:
        for _ in range(3):
            await asyncio.gather(*(loop.run_once() for loop in loops))
            clock.advance(seconds=2)
    finally:
        await other_process.close()
    assert await _count(db, ComplaintEscalation) == 1
    assert await _count(db, ComplaintHistory, action="escalate") == 1


async def test_a_reopened_complaint_waits_for_its_new_deadline_before_climbing_further(
    db: Database, clock: FixedClock
) -> None:
    from crm.enums import Verdict
    from crm.services.complaints import record_followup_verdict, start_complaint

    people, complaint_id = await _open_owned_by_agent(db, clock)
    clock.advance(hours=72, minutes=1)
    assert len(await escalate_overdue(uow(db), now=clock())) == 1
    system = Actor.system("test")
    await start_complaint(ComplaintStep(complaint_id, system), uow(db), clock=clock)
    await resolve_complaint(ComplaintStep(complaint_id, system, "fixed"), uow(db), clock=clock)
    clock.advance(days=2)
    await record_followup_verdict(complaint_id, Verdict.DISSATISFIED, uow(db), clock=clock,
                                  callback_id=await followup_callback(db, complaint_id))
    clock.advance(hours=23)
    assert await escalate_overdue(uow(db), now=clock()) == []
    clock.advance(hours=1, minutes=1)
    again = await escalate_overdue(uow(db), now=clock())
    assert [(e.level, e.manager_id) for e in again] == [(2, people.region_manager.id)]


async def test_the_app_runs_the_escalation_job_on_its_job_loop(served: Served) -> None:
    from callcenter.appkeys import JOB_LOOP
    from callcenter.complaints.jobs import JOB_NAME

    app = served.app
    assert JOB_NAME in [job.name for job in app[JOB_LOOP].jobs]
