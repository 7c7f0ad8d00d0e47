"""Post-repair callbacks feed the problem list and after-sales (seed 000 §3.2, §3.4), both engines."""

from __future__ import annotations

from datetime import UTC, datetime

from callcenter.clock import FixedClock
from callcenter.reporting import builders
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Survey
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import ComplaintCategory, ComplaintChannel
from crm.services.callback_problems import CallbackProblemPolicy
from crm.services.callbacks import complete_callback, schedule_post_repair
from crm.services.complaints import get_complaint
from reports.operational import classify_disposition
from tests import factories
from tests.complaints.helpers import set_department_manager

AFTER_SALES = CallbackProblemPolicy(department_code="AFTERSALES")


async def _repaired(db: Database, clock: FixedClock, name: str = "王五", phone: str = "+8613800138000"):  # type: ignore[no-untyped-def]
    service = await factories.department(db, f"SVC-{phone[-4:]}")
    customer = await factories.customer(db, name=name, phones=(phone,), department_id=service.id)
    job = await factories.job(db, customer.id, f"J-{phone[-4:]}", department_id=service.id,
                              completed_at=datetime(2026, 5, 17, 8, 0, tzinfo=UTC))
    callback = await schedule_post_repair(job.id, SqlUnitOfWork(db), clock)
    return customer, job, callback


async def _after_sales(db: Database):  # type: ignore[no-untyped-def]
    department = await factories.department(db, "AFTERSALES")
    head = await factories.staff(db, "aftersales-head", ["manager"], department.id)
    await set_department_manager(db, department, head)
    return department, head


async def _survey(db: Database, job_id: int, customer_id: int, grades: str, at: datetime) -> None:
    t, q, a = grades
    await factories.add(db, Survey(job_id=job_id, customer_id=customer_id, surveyed_at=at, source="callback",
                                   timeliness=t, quality=q, attitude=a, complete=True, verification="first_hand"))


async def test_an_e_grade_on_the_automated_callback_survey_opens_an_after_sales_complaint(
    db: Database, clock: FixedClock
) -> None:
    _, head = await _after_sales(db)
    customer, job, callback = await _repaired(db, clock)
    await _survey(db, job.id, customer.id, "BEA", clock())
    done = await complete_callback(callback.id, "surveyed", "survey saved", None, SqlUnitOfWork(db), clock,
                                   problems=AFTER_SALES)
    assert done.disposition == "problem" and done.complaint_id is not None
    record = await get_complaint(done.complaint_id, SqlUnitOfWork(db), identity=None)
    assert record.channel == ComplaintChannel.CALLBACK and record.owner_id == head.id
    assert record.category == ComplaintCategory.REPAIR_QUALITY and record.job_id == job.id
    assert "quality E" in record.description
    assert record.resolve_due_at is not None  # the time to resolution is tracked
    again = await complete_callback(callback.id, "problem", done.feedback, None, SqlUnitOfWork(db), clock,
                                    problems=AFTER_SALES)
    assert again.complaint_id == done.complaint_id  # raised once


async def test_a_complaint_spoken_on_a_staffed_callback_opens_an_after_sales_complaint(
    db: Database, clock: FixedClock
) -> None:
    _, head = await _after_sales(db)
    customer, _, callback = await _repaired(db, clock)
    done = await complete_callback(callback.id, "complaint", "技术员没有清理现场", None, SqlUnitOfWork(db),
                                   clock, problems=AFTER_SALES)
    assert done.disposition == "complaint" and done.complaint_id is not None
    record = await get_complaint(done.complaint_id, SqlUnitOfWork(db), identity=None)
    assert record.owner_id == head.id and "技术员没有清理现场" in record.description


async def test_good_grades_and_unreached_callbacks_open_no_complaint(db: Database, clock: FixedClock) -> None:
    await _after_sales(db)
    customer, job, callback = await _repaired(db, clock)
    await _survey(db, job.id, customer.id, "ABC", clock())
    done = await complete_callback(callback.id, "surveyed", "survey saved", None, SqlUnitOfWork(db), clock,
                                   problems=AFTER_SALES)
    assert done.complaint_id is None and classify_disposition(done.disposition) == "satisfied"
    _, _, other = await _repaired(db, clock, "赵六", "+8613900139000")
    hung = await complete_callback(other.id, "hung_up", "hung up at greeting", None, SqlUnitOfWork(db), clock,
                                   problems=AFTER_SALES)
    assert hung.complaint_id is None
    for said in ("hung_up", "no answer", "no_response", "busy"):
        assert classify_disposition(said) == "unreached"


async def test_the_daily_problem_list_and_the_weekly_callback_list_show_the_callbacks(
    db: Database, clock: FixedClock, settings: Settings
) -> None:
    await _after_sales(db)
    bad_customer, bad_job, bad = await _repaired(db, clock, "王五", "+8613800138000")
    await _survey(db, bad_job.id, bad_customer.id, "DBB", clock())
    await complete_callback(bad.id, "surveyed", "survey saved", None, SqlUnitOfWork(db), clock, problems=AFTER_SALES)
    _, _, gone = await _repaired(db, clock, "赵六", "+8613900139000")
    await complete_callback(gone.id, "hung_up", None, None, SqlUnitOfWork(db), clock, problems=AFTER_SALES)
    now = datetime(2026, 5, 26, 1, 0, tzinfo=UTC)
    daily = await builders.build(db, settings, "daily", "2026-05-18", now)
    (problem,) = daily["problem_customers"]
    assert problem["customer_name"] == "王五" and problem["classification"] == "timeliness"
    assert problem["complaint"] is not None and daily["callbacks"]["by_class"]["unreached"] == 1
    weekly = await builders.build(db, settings, "weekly", "2026-W21", now)
    listed = {(c["customer_name"], c["outcome"]) for c in weekly["callback_list"]}
    assert listed == {("王五", "problem"), ("赵六", "unreached")}
