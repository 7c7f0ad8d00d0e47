"""Opening a complaint: ticket, owner by rule, and each major-complaint rule (002) with its reason."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from callcenter.storage.tables import ComplaintHistory, Notification
from crm.enums import ComplaintCategory, ComplaintState, MajorReason, Severity
from crm.errors import InvalidComplaint, UnknownCustomer
from crm.services.complaints import ComplaintPolicy, open_complaint
from tests import factories
from tests.complaints.helpers import complaint, org, uow


async def test_an_ordinary_complaint_has_no_major_reason(db: Database, clock: FixedClock) -> None:
    customer = await factories.customer(db)
    opened = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    assert opened.severity == Severity.ORDINARY
    assert opened.major_reasons == ()
    assert opened.resolve_due_at == clock() + timedelta(hours=72)


async def test_the_ticket_number_is_digits_only_and_unique(db: Database, clock: FixedClock) -> None:
    customer = await factories.customer(db)
    first = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    second = await open_complaint(complaint(customer.id, category=ComplaintCategory.BILLING), uow(db), clock=clock)
    assert first.ticket.isdigit() and second.ticket.isdigit()
    assert len(first.ticket) >= 8
    assert first.ticket.startswith("260518")  # the centre's date (Shanghai)
    assert first.ticket != second.ticket


@pytest.mark.parametrize(
    ("flag", "reason"),
    [
        ("vip_high_spend", MajorReason.VIP_HIGH_SPEND),
        ("vip_official", MajorReason.VIP_OFFICIAL),
        ("vip_public_figure", MajorReason.VIP_PUBLIC_FIGURE),
        ("vip_journalist", MajorReason.VIP_JOURNALIST),
    ],
)
async def test_a_vip_customer_makes_the_complaint_major(
    db: Database, clock: FixedClock, flag: str, reason: MajorReason
) -> None:
    customer = await factories.customer(db, **{flag: True})
    opened = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    assert opened.major_reasons == (reason,)
    assert opened.severity == Severity.MAJOR
    assert opened.resolve_due_at == clock() + timedelta(hours=24)


async def test_a_highly_emotional_caller_makes_it_major(db: Database, clock: FixedClock) -> None:
    customer = await factories.customer(db)
    opened = await open_complaint(complaint(customer.id, emotional=True), uow(db), clock=clock)
    assert opened.major_reasons == (MajorReason.EMOTIONAL,)


async def test_compensation_over_the_threshold_makes_it_major(db: Database, clock: FixedClock) -> None:
    customer = await factories.customer(db)
    at_threshold = await open_complaint(
        complaint(customer.id, compensation_claimed=Decimal("5000")), uow(db), clock=clock
    )
    over = await open_complaint(
        complaint(customer.id, category=ComplaintCategory.BILLING, compensation_claimed=Decimal("5000.01")),
        uow(db), clock=clock,
    )
    assert at_threshold.major_reasons == ()
    assert over.major_reasons == (MajorReason.LARGE_COMPENSATION,)


async def test_a_repeat_about_the_same_problem_within_the_window_makes_it_major(
    db: Database, clock: FixedClock
) -> None:
    customer = await factories.customer(db)
    await open_complaint(complaint(customer.id), uow(db), clock=clock)
    clock.advance(days=29)
    repeat = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    other_problem = await open_complaint(
        complaint(customer.id, category=ComplaintCategory.ATTITUDE), uow(db), clock=clock
    )
    assert repeat.major_reasons == (MajorReason.REPEAT,)
    assert other_problem.major_reasons == ()


async def test_a_complaint_outside_the_repeat_window_is_not_a_repeat(db: Database, clock: FixedClock) -> None:
    customer = await factories.customer(db)
    await open_complaint(complaint(customer.id), uow(db), clock=clock)
    clock.advance(days=31)
    later = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    assert later.major_reasons == ()


async def test_contradictory_answers_make_it_major(db: Database, clock: FixedClock) -> None:
    customer = await factories.customer(db)
    opened = await open_complaint(complaint(customer.id, contradictory_answers=True), uow(db), clock=clock)
    assert opened.major_reasons == (MajorReason.CONTRADICTORY_ANSWERS,)


@pytest.mark.parametrize(
    "text",
    ["再不解决我就找记者曝光", "I will call the newspaper about this", "我要去电视台", "going to the TV"],
)
async def test_a_media_threat_makes_it_major(db: Database, clock: FixedClock, text: str) -> None:
    customer = await factories.customer(db)
    opened = await open_complaint(complaint(customer.id, description=text), uow(db), clock=clock)
    assert opened.major_reasons == (MajorReason.MEDIA_THREAT,)


async def test_a_media_threat_in_the_agents_notes_counts(db: Database, clock: FixedClock) -> None:
    customer = await factories.customer(db)
    opened = await open_complaint(
        complaint(customer.id, notes=("客户说要找媒体",)), uow(db), clock=clock
    )
    assert opened.major_reasons == (MajorReason.MEDIA_THREAT,)


async def test_the_owner_is_the_customers_department_manager_and_is_notified(
    db: Database, clock: FixedClock
) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    opened = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    assert opened.owner_id == people.service_manager.id
    assert opened.state == ComplaintState.ASSIGNED
    async with db.sessions() as session:
        notes = (await session.scalars(select(Notification))).all()
        history = (await session.scalars(select(ComplaintHistory).order_by(ComplaintHistory.id))).all()
    assert [(n.staff_id, n.kind, n.payload["ticket"]) for n in notes] == [
        (people.service_manager.id, "complaint_assigned", opened.ticket)
    ]
    assert [(h.action, h.from_state, h.to_state) for h in history] == [
        ("open", None, "new"), ("assign", "new", "assigned")
    ]


async def test_the_jobs_department_wins_over_the_customers(db: Database, clock: FixedClock) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.region.id)
    job = await factories.job(db, customer.id, department_id=people.service.id)
    opened = await open_complaint(complaint(customer.id, job_id=job.id), uow(db), clock=clock)
    assert (opened.department_id, opened.owner_id) == (people.service.id, people.service_manager.id)


async def test_a_category_mapping_routes_to_its_department(db: Database, clock: FixedClock) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    policy = ComplaintPolicy(category_departments={ComplaintCategory.BILLING: "REGION"})
    opened = await open_complaint(
        complaint(customer.id, category=ComplaintCategory.BILLING), uow(db), clock=clock, policy=policy
    )
    assert opened.owner_id == people.region_manager.id


async def test_without_any_department_the_complaint_waits_for_a_manager(db: Database, clock: FixedClock) -> None:
    customer = await factories.customer(db)
    opened = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    assert (opened.owner_id, opened.state) == (None, ComplaintState.NEW)


async def test_an_unknown_customer_is_refused(db: Database, clock: FixedClock) -> None:
    with pytest.raises(UnknownCustomer):
        await open_complaint(complaint(9999), uow(db), clock=clock)


async def test_an_empty_complaint_is_refused(db: Database, clock: FixedClock) -> None:
    customer = await factories.customer(db)
    with pytest.raises(InvalidComplaint):
        await open_complaint(complaint(customer.id, description="   "), uow(db), clock=clock)
