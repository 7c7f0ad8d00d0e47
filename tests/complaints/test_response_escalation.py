"""Escalation on both time limits (seed 002: 超出规定响应时限，系统自动进行投诉升级), both engines."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from callcenter.storage.tables import ComplaintEscalation, ComplaintHistory, Notification
from callcenter.storage.uow import SqlUnitOfWork
from crm.services.complaint_escalation import escalate_overdue
from crm.services.complaints import (
    Actor,
    ComplaintStep,
    assign_complaint,
    get_complaint,
    open_complaint,
    start_complaint,
)
from tests import factories
from tests.complaints.helpers import Org, complaint, org, uow


async def _open_routed(db: Database, clock: FixedClock) -> tuple[Org, int]:
    """An ordinary complaint routed by rule to the service manager; nobody touched it."""
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    opened = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    return people, opened.complaint_id


async def _escalations(db: Database) -> list[tuple[int, int, str]]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(ComplaintEscalation.complaint_id, ComplaintEscalation.level, ComplaintEscalation.cause)
            .order_by(ComplaintEscalation.complaint_id, ComplaintEscalation.level)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_a_complaint_nobody_acknowledged_by_its_respond_by_time_escalates(
    db: Database, clock: FixedClock
) -> None:
    people, complaint_id = await _open_routed(db, clock)
    clock.advance(hours=24)
    assert await escalate_overdue(uow(db), now=clock()) == []  # respond-by not yet passed
    clock.advance(minutes=1)
    done = await escalate_overdue(uow(db), now=clock())
    assert [(e.level, e.cause, e.manager_id) for e in done] == [(1, "respond", people.service_manager.id)]
    record = await get_complaint(complaint_id, uow(db), identity=None)
    assert record.escalation_level == 1 and record.respond_escalated_at == clock()
    assert not record.major_reasons  # not resolving yet is not "overdue"
    async with db.sessions() as session:
        note = await session.scalar(select(ComplaintHistory.note).where(ComplaintHistory.action == "escalate"))
        told = await session.scalar(select(Notification.staff_id).where(Notification.kind == "complaint_escalated"))
    assert "not acknowledged by its respond-by time" in (note or "")
    assert told == people.service_manager.id


async def test_the_respond_by_level_is_taken_once_then_the_resolve_by_level_follows(
    db: Database, clock: FixedClock
) -> None:
    people, complaint_id = await _open_routed(db, clock)
    clock.advance(hours=25)
    assert len(await escalate_overdue(uow(db), now=clock())) == 1
    for _ in range(3):  # passes before the resolve-by time add nothing
        clock.advance(hours=10)
        assert await escalate_overdue(uow(db), now=clock()) == []
    clock.advance(hours=18)  # 73 h: past the resolve-by time
    done = await escalate_overdue(uow(db), now=clock())
    assert [(e.level, e.cause, e.manager_id) for e in done] == [(2, "resolve", people.region_manager.id)]
    assert await _escalations(db) == [(complaint_id, 1, "respond"), (complaint_id, 2, "resolve")]


async def test_an_acknowledged_complaint_escalates_only_for_its_resolve_by_time(
    db: Database, clock: FixedClock
) -> None:
    people, complaint_id = await _open_routed(db, clock)
    clock.advance(hours=1)
    await start_complaint(ComplaintStep(complaint_id, Actor.system("test")), uow(db), clock=clock)
    clock.advance(hours=30)
    assert await escalate_overdue(uow(db), now=clock()) == []
    clock.advance(hours=42)
    done = await escalate_overdue(uow(db), now=clock())
    assert [(e.level, e.cause) for e in done] == [(1, "resolve")]


async def test_a_person_assigning_the_complaint_acknowledges_it(db: Database, clock: FixedClock) -> None:
    people, complaint_id = await _open_routed(db, clock)
    await assign_complaint(complaint_id, people.agent.id, Actor.system("manager"), uow(db), clock=clock)
    clock.advance(hours=30)
    assert await escalate_overdue(uow(db), now=clock()) == []


async def test_several_processes_take_each_level_of_both_limits_once(db: Database, clock: FixedClock) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    ids = [
        (await open_complaint(complaint(customer.id, description=f"第{i}台空调不制冷"), uow(db), clock=clock)).complaint_id
        for i in range(3)
    ]
    clock.advance(hours=73)  # past both limits: two levels due per complaint
    others = [Database.open(db.url) for _ in range(2)]
    try:
        for _ in range(3):
            await asyncio.gather(*(escalate_overdue(SqlUnitOfWork(d), now=clock()) for d in (db, *others)))
    finally:
        for other in others:
            await other.close()
    assert await _escalations(db) == [
        (cid, level, cause) for cid in ids for level, cause in ((1, "respond"), (2, "resolve"))
    ]
    async with db.sessions() as session:
        history = (await session.scalars(select(ComplaintHistory.id).where(ComplaintHistory.action == "escalate"))).all()
        told = (await session.scalars(select(Notification.id).where(Notification.kind == "complaint_escalated"))).all()
    assert len(history) == len(told) == 6
