"""What the stored surveys count for: one survey per repair job, in the month of the job's service.

Both engines; the report is built from the database exactly as the scheduled run builds it.
"""

from __future__ import annotations

from datetime import datetime

from callcenter.reporting import builders
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Survey
from reports.periods import Month
from tests import factories

from .helpers import Shop, grades, local, shop

MAY, JUNE = Month(2026, 5), Month(2026, 6)


async def _job(db: Database, s: Shop, reference: str, completed: datetime) -> int:
    job = await factories.job(db, s.customer_id, reference, technician_id=s.technician.id,
                              department_id=s.department_id, completed_at=completed)
    return int(job.id)


async def _survey(db: Database, s: Shop, job_id: int, letters: str, at: datetime, source: str,
                  verification: str) -> None:
    await factories.add(db, Survey(
        job_id=job_id, department_id=s.department_id, staff_id=s.technician.id,
        surveyed_at=at, source=source, verification=verification, complete=True,
        **{k: (v.value if v else None) for k, v in grades(letters).items()}))


async def _satisfaction(db: Database, settings: Settings, month: Month) -> dict:
    payload = await builders.supervision(db, settings, month)
    (department,) = payload["supervision"]["departments"]
    return department["satisfaction"]


async def test_a_job_rated_by_ivr_callback_and_paper_counts_once(
        db: Database, settings: Settings) -> None:
    s = await shop(db)
    job = await _job(db, s, "J-3WAY", local("2026-05-10 09:00"))
    await _survey(db, s, job, "EEE", local("2026-05-10 18:00"), "ivr", "first_hand")
    await _survey(db, s, job, "AAA", local("2026-05-12 10:00"), "callback", "first_hand")
    await _survey(db, s, job, "CCC", local("2026-05-13 10:00"), "paper", "pending")
    other = await _job(db, s, "J-ONCE", local("2026-05-11 09:00"))
    await _survey(db, s, other, "BBB", local("2026-05-11 19:00"), "ivr", "first_hand")
    satisfaction = await _satisfaction(db, settings, MAY)
    assert satisfaction["surveys"]["counted"] == 2  # two jobs, not four surveys
    assert satisfaction["points"] == 6 + 3  # the callback survey stands for the first job
    assert satisfaction["surveys"]["superseded"] == 2
    assert satisfaction["surveys"]["jobs_with_several_surveys"] == 1
    assert satisfaction["surveys"]["excluded"]["pending_verification"] == 0


async def test_a_survey_taken_in_june_about_a_may_repair_counts_in_may(
        db: Database, settings: Settings) -> None:
    s = await shop(db)
    job = await _job(db, s, "J-LATE", local("2026-05-30 16:00"))
    await _survey(db, s, job, "AAB", local("2026-06-02 10:00"), "callback", "first_hand")
    may = await _satisfaction(db, settings, MAY)
    june = await _satisfaction(db, settings, JUNE)
    assert (may["surveys"]["counted"], may["points"]) == (1, 5)
    assert june["surveys"]["counted"] == 0 and june["status"] == "no_data"
    assert june["previous_average"] == "5"  # June compares with May's late survey


async def test_the_previous_months_average_also_counts_each_job_once(
        db: Database, settings: Settings) -> None:
    s = await shop(db)
    april = await _job(db, s, "J-APR", local("2026-04-20 09:00"))
    await _survey(db, s, april, "EEE", local("2026-04-20 19:00"), "ivr", "first_hand")
    await _survey(db, s, april, "AAA", local("2026-04-21 10:00"), "callback", "first_hand")
    may = await _job(db, s, "J-MAY", local("2026-05-20 09:00"))
    await _survey(db, s, may, "AAA", local("2026-05-20 19:00"), "ivr", "first_hand")
    satisfaction = await _satisfaction(db, settings, MAY)
    assert satisfaction["previous_average"] == "6"  # April: one job, its callback survey
    assert satisfaction["outcome"] == "reward" and satisfaction["extra"] == "all_a_bonus"


async def test_a_department_with_no_surveys_gets_its_explanation_line(
        db: Database, settings: Settings) -> None:
    s = await shop(db)
    await _job(db, s, "J-NONE", local("2026-05-20 09:00"))
    satisfaction = await _satisfaction(db, settings, MAY)
    assert satisfaction["status"] == "no_data"
    assert satisfaction["explanation"].startswith("no data: no verified complete survey")


async def test_the_report_month_of_a_survey_is_its_jobs_service_month(
        db: Database, settings: Settings) -> None:
    from sqlalchemy import select

    from callcenter.reporting.loaders import survey_report_month

    s = await shop(db)
    job = await _job(db, s, "J-EDGE", local("2026-05-31 23:30"))
    await _survey(db, s, job, "AAA", local("2026-06-01 09:00"), "callback", "first_hand")
    async with db.sessions() as session:
        survey_id = await session.scalar(select(Survey.id).where(Survey.job_id == job))
    assert await survey_report_month(db, survey_id, settings.timezone) == MAY


async def _first_hand(db: Database, s: Shop, reference: str, letters: str, day: str) -> None:
    job = await _job(db, s, reference, local(f"{day} 09:00"))
    await _survey(db, s, job, letters, local(f"{day} 18:00"), "ivr", "first_hand")


async def test_two_consecutive_all_a_months_earn_the_reward_and_the_bonus_with_their_line(
        db: Database, settings: Settings) -> None:
    s = await shop(db)
    await _first_hand(db, s, "J-A1", "AAA", "2026-04-10")
    await _first_hand(db, s, "J-A2", "AAA", "2026-05-10")
    await _first_hand(db, s, "J-A3", "AAA", "2026-05-11")
    satisfaction = await _satisfaction(db, settings, MAY)
    assert (satisfaction["delta"], satisfaction["outcome"], satisfaction["amount"]) == \
        ("0", "reward", "1000")
    assert (satisfaction["extra"], satisfaction["extra_amount"]) == ("all_a_bonus", "1000")
    assert satisfaction["explanation"] == (
        "average 6 over 2 jobs minus previous 6 = 0: reward (6 is the highest average, so a "
        "second all-A month still earns the reward); every item of every survey is A: "
        "extra bonus 1000")


async def test_two_consecutive_all_e_months_cost_the_penalty_and_the_extra_with_their_line(
        db: Database, settings: Settings) -> None:
    s = await shop(db)
    await _first_hand(db, s, "J-E1", "EEE", "2026-04-10")
    await _first_hand(db, s, "J-E2", "EEE", "2026-05-10")
    satisfaction = await _satisfaction(db, settings, MAY)
    assert (satisfaction["outcome"], satisfaction["amount"], satisfaction["extra_amount"]) == \
        ("penalty", "-1000", "-1000")
    assert satisfaction["explanation"] == (
        "average -6 over 1 job minus previous -6 = 0: penalty (-6 is the lowest average, so a "
        "second all-E month still costs the penalty); every item of every survey is E: "
        "extra penalty 1000")


async def test_a_month_with_no_previous_month_says_so(db: Database, settings: Settings) -> None:
    s = await shop(db)
    await _first_hand(db, s, "J-N1", "ABC", "2026-05-10")
    satisfaction = await _satisfaction(db, settings, MAY)
    assert satisfaction["status"] == "no_previous_month" and satisfaction["amount"] == "0"
    assert satisfaction["explanation"] == (
        "average 3 over 1 job; no previous month to compare with, so no reward or penalty")
