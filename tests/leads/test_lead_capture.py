"""Lead capture per seed 004, on both engines: the signed proposal, the finder's payable credit,
reminders to the follow-up person, and the service head's follow-through in the monthly report."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from callcenter.clock import FixedClock
from callcenter.reporting import builders
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import AccessRefusal, Notification
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import Role
from crm.identity import Identity, PermissionDenied
from crm.leads import FinderCreditPolicy, LeadAction
from crm.services.lead_capture import (
    pay_credit,
    payable_credits,
    propose_configuration,
    remind_due_follow_ups,
    sign_proposal,
)
from crm.services.leads import LeadRecord, NewLead, advance_lead, record_latent_need
from tests import factories
from tests.complaints.helpers import set_department_manager


def _who(staff_id: int, *roles: Role, department_id: int | None = None) -> Identity:
    return Identity(staff_id, f"s{staff_id}", f"staff {staff_id}", frozenset(roles), department_id)


async def _lead(db: Database, clock: FixedClock, level: int = 3):  # type: ignore[no-untyped-def]
    dept = await factories.department(db, "AFTERSALES")
    head = await factories.staff(db, "head-zhou", ["manager"], dept.id)
    await set_department_manager(db, dept, head)
    finder = await factories.staff(db, "tech-liu", ["technician"], dept.id)
    follower = await factories.staff(db, "sales-wang", ["agent"], dept.id)
    customer = await factories.customer(db, department_id=dept.id)
    record = await record_latent_need(NewLead(
        customer_id=customer.id, need="电脑配置太低，想买笔记本", demand_level=level,
        follow_up_staff_id=follower.id, found_by_id=finder.id, equipment="台式机 2019"),
        SqlUnitOfWork(db), at=clock())
    return dept, head, finder, follower, record


async def test_the_configuration_proposal_counts_once_the_service_head_signed_it(
    db: Database, clock: FixedClock
) -> None:
    dept, head, _, follower, lead = await _lead(db, clock)
    lead_id = lead.lead.lead_id
    agent = _who(follower.id, Role.AGENT, department_id=dept.id)
    proposed = await propose_configuration(lead_id, "i5 / 16 GB / SSD 笔记本, 4500 元", SqlUnitOfWork(db),
                                           at=clock(), identity=agent)
    assert proposed.proposal_by_id == follower.id and proposed.proposal_signed_at is None
    with pytest.raises(PermissionDenied):
        await sign_proposal(lead_id, SqlUnitOfWork(db), at=clock(), identity=agent)
    signed = await sign_proposal(lead_id, SqlUnitOfWork(db), at=clock(),
                                 identity=_who(head.id, Role.MANAGER, department_id=dept.id))
    assert signed.proposal_signed_by_id == head.id and signed.proposal_signed_at == clock()
    clock.advance(days=3)
    changed = await propose_configuration(lead_id, "i7 / 32 GB 笔记本", SqlUnitOfWork(db), at=clock(),
                                          identity=agent)
    assert changed.proposal_signed_at is None  # a changed proposal is signed again


async def test_winning_a_lead_records_the_finders_credit_as_payable_until_paid(
    db: Database, clock: FixedClock
) -> None:
    dept, head, finder, follower, lead = await _lead(db, clock)
    lead_id = lead.lead.lead_id
    await advance_lead(lead_id, LeadAction.CONTACT, SqlUnitOfWork(db), at=clock(), closed_by=follower.id)
    won, credit = await advance_lead(
        lead_id, LeadAction.WIN, SqlUnitOfWork(db), at=clock(), closed_by=follower.id,
        order_value=Decimal("10000"), credit_policy=FinderCreditPolicy(Decimal(200), Decimal("0.02")))
    assert credit is not None and credit.finder_id == finder.id and credit.amount == Decimal("400.00")
    assert won.credit_amount == Decimal("400.00") and won.credit_payable
    payable: list[LeadRecord] = await payable_credits(SqlUnitOfWork(db))
    assert [(r.lead.lead_id, r.lead.finder_id, r.credit_amount) for r in payable] == [
        (lead_id, finder.id, Decimal("400.00"))]
    paid = await pay_credit(lead_id, SqlUnitOfWork(db), at=clock(),
                            identity=_who(head.id, Role.MANAGER, department_id=dept.id))
    assert paid.credit_paid_at == clock() and not paid.credit_payable
    assert await payable_credits(SqlUnitOfWork(db)) == []


async def test_the_follow_up_person_is_reminded_once_per_due_date(db: Database, clock: FixedClock) -> None:
    _, _, _, follower, lead = await _lead(db, clock, level=3)  # level 3: every 7 days
    lead_id = lead.lead.lead_id
    clock.advance(days=6)
    assert await remind_due_follow_ups(SqlUnitOfWork(db), now=clock()) == []
    clock.advance(days=1, minutes=1)
    other = Database.open(db.url)
    try:
        results = await asyncio.gather(remind_due_follow_ups(SqlUnitOfWork(db), now=clock()),
                                       remind_due_follow_ups(SqlUnitOfWork(other), now=clock()))
    finally:
        await other.close()
    assert [(r.lead_id, r.follower_id) for rs in results for r in rs] == [(lead_id, follower.id)]
    assert await remind_due_follow_ups(SqlUnitOfWork(db), now=clock()) == []
    await advance_lead(lead_id, LeadAction.CONTACT, SqlUnitOfWork(db), at=clock(), closed_by=follower.id)
    clock.advance(days=7, minutes=1)  # the next follow-up date comes: reminded again
    assert len(await remind_due_follow_ups(SqlUnitOfWork(db), now=clock())) == 1
    async with db.sessions() as session:
        told = (await session.scalars(select(Notification).where(Notification.kind == "lead_follow_up_due"))).all()
    assert [n.staff_id for n in told] == [follower.id, follower.id]


async def test_the_monthly_report_shows_the_service_heads_follow_through(
    db: Database, settings: Settings
) -> None:
    clock = FixedClock(datetime(2026, 5, 1, 2, 0, tzinfo=UTC))
    dept, head, _, follower, on_time = await _lead(db, clock, level=3)  # due 05-08
    customer = on_time.lead.customer_id
    uow = SqlUnitOfWork(db)
    late = await record_latent_need(NewLead(customer, "打印机", 3, follower.id, None), uow, at=clock())
    missed = await record_latent_need(NewLead(customer, "路由器", 3, follower.id, None), uow, at=clock())
    clock.advance(days=6)
    await advance_lead(on_time.lead.lead_id, LeadAction.CONTACT, uow, at=clock(), closed_by=follower.id)
    clock.advance(days=5)  # 05-12: four days after the date
    await advance_lead(late.lead.lead_id, LeadAction.CONTACT, uow, at=clock(), closed_by=follower.id)
    await advance_lead(late.lead.lead_id, LeadAction.WIN, uow, at=clock(), closed_by=follower.id,
                       order_value=Decimal(3000))  # answers its next date (05-19) early
    await sign_proposal_for(db, on_time.lead.lead_id, head.id, clock, dept.id)
    payload = await builders.build(db, settings, "monthly", "2026-05", datetime(2026, 6, 5, 0, 0, tzinfo=UTC))
    (row,) = [r for r in payload["lead_follow_through"] if r["department_id"] == dept.id]
    assert row["head_id"] == head.id and row["found"] == 3
    # due in May: on_time's 05-08 (kept) and 05-14 (missed), late's 05-08 (late) and 05-19
    # (won early), missed's 05-08 (missed)
    assert (row["follow_ups_due"], row["on_time"], row["late"], row["missed"]) == (5, 2, 1, 2)
    assert row["follow_through"] == 0.4 and row["proposals_signed"] == 1 and row["won"] == 1
    assert row["credits_earned"] == "0" and row["credits_payable"] == "0"  # nobody found that one
    assert missed.lead.lead_id  # still open, never followed up


async def sign_proposal_for(
    db: Database, lead_id: int, head_id: int, clock: FixedClock, department_id: int
) -> None:
    manager = _who(head_id, Role.MANAGER, department_id=department_id)
    await propose_configuration(lead_id, "方案", SqlUnitOfWork(db), at=clock(), identity=manager)
    await sign_proposal(lead_id, SqlUnitOfWork(db), at=clock() + timedelta(hours=1), identity=manager)


async def test_a_team_lead_under_the_finder_may_not_pay_the_finders_credit(
    db: Database, clock: FixedClock
) -> None:
    """The head found the need himself; a manager of a team below the head works under him
    and may not approve his money: refused, stored, the credit still payable. (The head's
    own attempt and his director paying it: test_lead_capture_api.)"""
    dept, head, _, follower, _ = await _lead(db, clock)
    team = await factories.department(db, "AFTERSALES-N", parent_id=dept.id)
    team_lead = await factories.staff(db, "lead-wu", ["manager"], team.id)
    await set_department_manager(db, team, team_lead)
    customer = await factories.customer(db, phones=("+8613900139001",), department_id=team.id)
    record = await record_latent_need(NewLead(
        customer_id=customer.id, need="laptop", demand_level=3, follow_up_staff_id=follower.id,
        found_by_id=head.id), SqlUnitOfWork(db), at=clock())
    lead_id = record.lead.lead_id
    await advance_lead(lead_id, LeadAction.CONTACT, SqlUnitOfWork(db), at=clock(), closed_by=follower.id)
    await advance_lead(lead_id, LeadAction.WIN, SqlUnitOfWork(db), at=clock(), closed_by=follower.id)
    with pytest.raises(PermissionDenied, match="manager you work under"):
        await pay_credit(lead_id, SqlUnitOfWork(db), at=clock(),
                         identity=_who(team_lead.id, Role.MANAGER, department_id=team.id))
    assert [r.lead.lead_id for r in await payable_credits(SqlUnitOfWork(db))] == [lead_id]
    async with db.sessions() as session:
        refused = (await session.scalars(select(AccessRefusal))).all()
    assert [(r.staff_id, r.action, r.subject) for r in refused] == [
        (team_lead.id, "lead.credit.pay", f"lead:{lead_id}")]
