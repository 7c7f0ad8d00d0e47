"""The other major-complaint causes of seed 002, stored on the complaint, on both engines:
passed between handlers (被踢皮球), disrespect by staff (不尊重), group complaints (群体性投诉)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from callcenter.storage.tables import ComplaintHistory, Notification
from crm.enums import MajorReason, Severity
from crm.major import MajorPolicy
from crm.services.complaints import (
    Actor,
    ComplaintPolicy,
    FlagComplaint,
    assign_complaint,
    flag_complaint,
    get_complaint,
    open_complaint,
)
from tests import factories
from tests.complaints.helpers import complaint, org, uow

MANAGER = Actor.system("manager")


async def test_a_complaint_handed_over_more_than_the_limit_is_major_passed_around(
    db: Database, clock: FixedClock
) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    colleague = await factories.staff(db, "agent-wu", ["agent"], people.service.id)
    opened = await open_complaint(complaint(customer.id), uow(db), clock=clock)  # owner: service manager
    policy = ComplaintPolicy(major=MajorPolicy(max_handovers=2))
    for owner in (people.agent, colleague):  # handovers 1 and 2: within the limit
        record = await assign_complaint(opened.complaint_id, owner.id, MANAGER, uow(db), clock=clock, policy=policy)
        assert record.severity == Severity.ORDINARY
    record = await assign_complaint(opened.complaint_id, people.agent.id, MANAGER, uow(db), clock=clock, policy=policy)
    assert record.major_reasons == (MajorReason.PASSED_AROUND,)
    assert record.resolve_due_at == opened.resolve_due_at - timedelta(hours=48)  # major limit: 24 h
    stored = await get_complaint(opened.complaint_id, uow(db), identity=None)
    assert stored.major_reasons == (MajorReason.PASSED_AROUND,)


async def test_a_handover_to_another_department_is_major_passed_around(db: Database, clock: FixedClock) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    opened = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    await assign_complaint(opened.complaint_id, people.agent.id, MANAGER, uow(db), clock=clock)
    record = await assign_complaint(opened.complaint_id, people.other_agent.id, MANAGER, uow(db), clock=clock)
    assert MajorReason.PASSED_AROUND in record.major_reasons
    async with db.sessions() as session:
        notes = (await session.scalars(select(ComplaintHistory.note).where(ComplaintHistory.action == "assign"))).all()
    assert "major: passed_around" in (notes[-1] or "")


async def test_disrespect_by_staff_is_major_by_the_agents_flag_or_a_keyword(db: Database, clock: FixedClock) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    by_word = await open_complaint(
        complaint(customer.id, description="维修师傅态度恶劣，还骂人"), uow(db), clock=clock
    )
    assert by_word.major_reasons == (MajorReason.DISRESPECT,)
    by_flag = await open_complaint(
        complaint(customer.id, description="the technician ignored me", disrespected=True), uow(db), clock=clock
    )
    assert MajorReason.DISRESPECT in by_flag.major_reasons
    plain = await open_complaint(complaint(customer.id, description="fridge still noisy"), uow(db), clock=clock)
    flagged = await flag_complaint(FlagComplaint(plain.complaint_id, MANAGER, disrespected=True), uow(db), clock=clock)
    assert MajorReason.DISRESPECT in flagged.major_reasons and flagged.disrespected


async def test_three_customers_about_one_product_make_a_group_complaint_raised_together(
    db: Database, clock: FixedClock
) -> None:
    people = await org(db)
    customers = [
        await factories.customer(db, name=f"客户{i}", phones=(f"+861380013800{i}",), department_id=people.service.id)
        for i in range(4)
    ]
    first = await open_complaint(complaint(customers[0].id, product="KFR-35GW"), uow(db), clock=clock)
    clock.advance(hours=5)
    again = await open_complaint(complaint(customers[0].id, product="KFR-35GW"), uow(db), clock=clock)
    clock.advance(hours=5)
    second = await open_complaint(complaint(customers[1].id, product="KFR-35GW"), uow(db), clock=clock)
    assert MajorReason.GROUP not in second.major_reasons  # two customers are not yet a group
    clock.advance(hours=5)
    third = await open_complaint(complaint(customers[2].id, product="KFR-35GW"), uow(db), clock=clock)
    assert MajorReason.GROUP in third.major_reasons and third.severity == Severity.MAJOR
    records = [await get_complaint(o.complaint_id, uow(db), identity=None) for o in (first, again, second, third)]
    assert len({r.group_id for r in records}) == 1 and records[0].group_id is not None
    assert all(MajorReason.GROUP in r.major_reasons for r in records)
    clock.advance(days=10)  # outside the window: a new complaint starts no group with the old ones
    late = await open_complaint(complaint(customers[3].id, product="KFR-35GW"), uow(db), clock=clock)
    assert MajorReason.GROUP not in late.major_reasons
    async with db.sessions() as session:
        told = (await session.scalars(select(Notification).where(Notification.kind == "complaint_group"))).all()
        rows = (await session.scalars(select(ComplaintHistory).where(ComplaintHistory.action == "group"))).all()
    assert {n.staff_id for n in told} == {people.service_manager.id}
    assert sorted(told[0].payload["tickets"]) == sorted(r.ticket for r in records)
    assert len(rows) == 4


async def test_a_later_complaint_about_the_same_job_joins_the_existing_group(db: Database, clock: FixedClock) -> None:
    people = await org(db)
    owner = await factories.customer(db, department_id=people.service.id)
    job = await factories.job(db, owner.id, "J-77", department_id=people.service.id)
    opened = []
    for i in range(4):
        customer = await factories.customer(db, name=f"邻居{i}", phones=(f"+861390013900{i}",))
        opened.append(await open_complaint(complaint(customer.id, job_id=job.id), uow(db), clock=clock))
        clock.advance(hours=1)
    records = [await get_complaint(o.complaint_id, uow(db), identity=None) for o in opened]
    assert len({r.group_id for r in records}) == 1 and records[0].group_id is not None
    async with db.sessions() as session:
        rows = (await session.scalars(select(ComplaintHistory.complaint_id).where(ComplaintHistory.action == "group"))).all()
    assert sorted(rows) == sorted(o.complaint_id for o in opened)  # each linked once
