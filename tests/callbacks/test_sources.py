"""Each source creates its callback once, with the deadline and priority the rules give."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from callcenter.storage.tables import DoNotCall
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import CallbackState, CallbackWindow
from crm.errors import WindowUnavailable
from crm.services.callbacks import (
    CannotSchedule,
    request_callback,
    schedule_complaint_followup,
    schedule_completed_jobs,
    schedule_post_repair,
)
from tests import factories
from tests.callbacks import builders

Uow = Callable[[], SqlUnitOfWork]


async def test_completed_repair_is_called_back_within_three_days(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    customer = await factories.customer(db)
    done = datetime(2026, 5, 17, 8, 0, tzinfo=UTC)
    job = await factories.job(db, customer.id, completed_at=done)
    cb = await schedule_post_repair(job.id, uow(), clock)
    assert cb.deadline_at == done + timedelta(days=3)
    assert cb.state is CallbackState.SCHEDULED
    assert cb.next_attempt_at == clock()  # 10:00 in Shanghai: callable now


async def test_scheduling_the_same_repair_twice_makes_one_callback(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    customer = await factories.customer(db)
    job = await factories.job(db, customer.id)
    first = await schedule_post_repair(job.id, uow(), clock)
    second = await schedule_post_repair(job.id, uow(), clock)
    assert first.id == second.id


async def test_periodic_scan_schedules_each_newly_completed_job_once(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    customer = await factories.customer(db)
    await factories.job(db, customer.id, "J-1")
    await factories.job(db, customer.id, "J-2")
    await factories.job(db, customer.id, "J-old", completed_at=clock() - timedelta(days=5))
    assert await schedule_completed_jobs(uow, clock) == 2
    assert await schedule_completed_jobs(uow, clock) == 0


async def test_uncompleted_job_gets_no_callback(db: Database, uow: Uow, clock: FixedClock) -> None:
    customer = await factories.customer(db)
    job = await factories.job(db, customer.id)
    async with db.sessions() as session:
        from callcenter.storage.tables import ServiceJob

        row = await session.get(ServiceJob, job.id)
        assert row is not None
        row.completed_at = None
        await session.commit()
    with pytest.raises(CannotSchedule):
        await schedule_post_repair(job.id, uow(), clock)


async def test_major_complaint_follow_up_goes_first(db: Database, uow: Uow, clock: FixedClock) -> None:
    customer = await factories.customer(db)
    ordinary = await builders.complaint(db, customer.id, ticket="C-1")
    major = await builders.complaint(db, customer.id, severity="major", ticket="C-2")
    a = await schedule_complaint_followup(ordinary.id, uow(), clock)
    b = await schedule_complaint_followup(major.id, uow(), clock)
    assert b.priority < a.priority
    assert a.deadline_at == datetime(2026, 5, 20, 1, 0, tzinfo=UTC)  # resolved + 2 days
    again = await schedule_complaint_followup(major.id, uow(), clock)
    assert again.id == b.id


async def test_caller_asking_for_tomorrow_morning_is_called_between_nine_and_noon(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    customer = await factories.customer(db)
    cb = await request_callback(customer.id, "+8613800138000", CallbackWindow.TOMORROW_MORNING,
                                None, uow(), clock, "Asia/Shanghai")
    assert cb.next_attempt_at == datetime(2026, 5, 19, 1, 0, tzinfo=UTC)  # 09:00 Shanghai
    assert cb.deadline_at == datetime(2026, 5, 19, 4, 0, tzinfo=UTC)  # 12:00
    assert (cb.window_start, cb.window_end) == ("09:00", "12:00")


async def test_today_is_refused_after_eight_pm(db: Database, uow: Uow) -> None:
    late = FixedClock(datetime(2026, 5, 18, 12, 30, tzinfo=UTC))  # 20:30 Shanghai
    with pytest.raises(WindowUnavailable):
        await request_callback(None, "+8613800138000", CallbackWindow.TODAY, None, uow(), late,
                               "Asia/Shanghai")


async def test_callback_to_a_number_on_the_dnc_list_is_cancelled_not_dialled(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    await factories.add(db, DoNotCall(e164="+8613800138000", reason="asked"))
    customer = await factories.customer(db)
    cb = await request_callback(customer.id, "+8613800138000", CallbackWindow.TODAY, None, uow(),
                                clock, "Asia/Shanghai")
    assert (cb.state, cb.disposition) == (CallbackState.CANCELLED, "do_not_call")


async def test_complaint_follow_up_of_a_do_not_call_customer_is_not_dialled(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    customer = await factories.customer(db, do_not_call=True)
    complaint = await builders.complaint(db, customer.id)
    cb = await schedule_complaint_followup(complaint.id, uow(), clock)
    assert (cb.state, cb.disposition) == (CallbackState.CANCELLED, "do_not_call")
