"""The periodic verification sample is drawn once per period and never grows (000, 001)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import func, select

from callcenter.appkeys import JOB_LOOP
from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from callcenter.storage.tables import Callback, VerificationSampleSurvey
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import Role
from crm.identity import Identity
from crm.sampling import Cadence, period_of
from crm.services.surveys import verify_survey
from crm.services.verification_samples import draw_period, draw_verification_samples
from tests import factories
from tests.callbacks import builders
from tests.conftest import Served
from tests.reports.helpers import bearer

Uow = Callable[[], SqlUnitOfWork]
SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEK_20 = datetime(2026, 5, 11, 2, 0, tzinfo=UTC)  # Monday 10:00 local, week 2026-05-11..17
AFTER_WEEK_20 = FixedClock(datetime(2026, 5, 18, 2, 0, tzinfo=UTC))


async def _surveys(db: Database, department_id: int, n: int, at: datetime,
                   source: str = "agent") -> list[int]:
    customer = await factories.customer(db, phones=())
    return [(await builders.survey(db, department_id=department_id, customer_id=customer.id,
                                   surveyed_at=at + timedelta(minutes=i), source=source)).id
            for i in range(n)]


async def _drawn(db: Database) -> set[int]:
    async with db.sessions() as session:
        return set(await session.scalars(select(VerificationSampleSurvey.survey_id)))


def _week_20() -> object:
    return period_of(WEEK_20.astimezone(SHANGHAI).date(), Cadence.WEEK, SHANGHAI)


async def test_the_weekly_sample_drawn_twice_is_the_same_sample(db: Database, uow: Uow) -> None:
    department = await factories.department(db)
    await _surveys(db, department.id, 40, WEEK_20)
    first = await draw_period(_week_20(), uow(), AFTER_WEEK_20)  # type: ignore[arg-type]
    later = FixedClock(AFTER_WEEK_20() + timedelta(days=3))
    again = await draw_period(_week_20(), uow(), later)  # type: ignore[arg-type]
    assert len(first.survey_ids) == 4  # 10 % of 40
    assert again == first
    others = await draw_verification_samples(uow(), later)  # the weeks before: nothing there
    assert first.label not in {d.label for d in others}
    assert all(not d.survey_ids for d in others)
    assert await _drawn(db) == set(first.survey_ids)


async def test_settling_drawn_surveys_does_not_draw_others_in_their_place(
    db: Database, uow: Uow
) -> None:
    department = await factories.department(db)
    await _surveys(db, department.id, 40, WEEK_20)
    first = await draw_period(_week_20(), uow(), AFTER_WEEK_20)  # type: ignore[arg-type]
    person = await factories.staff(db, "inspector", ["supervisor"], None)
    inspector = Identity(person.id, person.username, person.name, frozenset({Role.SUPERVISOR}))
    for survey_id in first.survey_ids:
        await verify_survey(survey_id, True, inspector, AFTER_WEEK_20(), uow())
    again = await draw_period(_week_20(), uow(), AFTER_WEEK_20)  # type: ignore[arg-type]
    assert again.survey_ids == first.survey_ids
    assert await _drawn(db) == set(first.survey_ids)


async def test_a_form_handed_in_after_its_week_was_drawn_is_drawn_with_the_week_it_arrived(
    db: Database, uow: Uow
) -> None:
    department = await factories.department(db)
    customer = await factories.customer(db, phones=())
    await draw_verification_samples(uow(), AFTER_WEEK_20)
    late = await builders.survey(db, department_id=department.id, customer_id=customer.id,
                                 surveyed_at=WEEK_20, arrived_at=WEEK_20 + timedelta(days=8))
    week_21_over = FixedClock(datetime(2026, 5, 25, 2, 0, tzinfo=UTC))
    draws = await draw_verification_samples(uow(), week_21_over)
    assert [(d.label, d.survey_ids) for d in draws] == [("week:2026-05-18..2026-05-24", (late.id,))]


async def test_each_week_and_department_gets_its_own_percentage_and_minimum(
    db: Database, uow: Uow
) -> None:
    north = await factories.department(db, "NORTH")
    south = await factories.department(db, "SOUTH")
    await _surveys(db, north.id, 4, WEEK_20)
    await _surveys(db, north.id, 4, WEEK_20 - timedelta(days=7))
    await _surveys(db, south.id, 31, WEEK_20)
    draws = await draw_verification_samples(uow(), AFTER_WEEK_20)
    counted = {d.label: d.departments for d in draws if d.survey_ids}
    assert counted == {
        "week:2026-05-04..2026-05-10": {str(north.id): {"awaiting": 4, "drawn": 3}},
        "week:2026-05-11..2026-05-17": {str(north.id): {"awaiting": 4, "drawn": 3},
                                        str(south.id): {"awaiting": 31, "drawn": 4}},
    }


async def test_first_hand_ivr_surveys_are_never_drawn(db: Database, uow: Uow) -> None:
    department = await factories.department(db)
    await _surveys(db, department.id, 5, WEEK_20, source="ivr")
    await draw_verification_samples(uow(), AFTER_WEEK_20)
    assert await _drawn(db) == set()


async def test_the_week_in_progress_is_not_drawn_until_it_ends(db: Database, uow: Uow) -> None:
    department = await factories.department(db)
    await _surveys(db, department.id, 5, WEEK_20)
    wednesday = FixedClock(WEEK_20 + timedelta(days=2))
    assert all(not d.survey_ids for d in await draw_verification_samples(uow(), wednesday))
    assert await _drawn(db) == set()


async def test_a_monthly_cadence_draws_the_whole_month_once(db: Database, uow: Uow) -> None:
    department = await factories.department(db)
    await _surveys(db, department.id, 20, WEEK_20)
    await _surveys(db, department.id, 20, WEEK_20 - timedelta(days=7))
    june = FixedClock(datetime(2026, 6, 1, 2, 0, tzinfo=UTC))
    draws = await draw_verification_samples(uow(), june, cadence="month")
    (may,) = [d for d in draws if d.survey_ids]
    assert may.label == "month:2026-05-01..2026-05-31"
    assert may.departments == {str(department.id): {"awaiting": 40, "drawn": 4}}
    assert await draw_verification_samples(uow(), june, cadence="month") == []


async def test_two_processes_drawing_the_same_week_store_one_sample(db: Database, uow: Uow) -> None:
    department = await factories.department(db)
    await _surveys(db, department.id, 40, WEEK_20)
    one, two = await asyncio.gather(
        draw_period(_week_20(), uow(), AFTER_WEEK_20),  # type: ignore[arg-type]
        draw_period(_week_20(), uow(), AFTER_WEEK_20))  # type: ignore[arg-type]
    assert one.survey_ids == two.survey_ids
    assert await _drawn(db) == set(one.survey_ids)


async def test_each_drawn_survey_gets_one_verification_call(db: Database, uow: Uow) -> None:
    department = await factories.department(db)
    customer = await factories.customer(db)
    for i in range(40):
        await builders.survey(db, department_id=department.id, customer_id=customer.id,
                              surveyed_at=WEEK_20 + timedelta(minutes=i))
    await draw_verification_samples(uow(), AFTER_WEEK_20)
    await draw_period(_week_20(), uow(), AFTER_WEEK_20)  # type: ignore[arg-type]
    async with db.sessions() as session:
        calls = await session.scalar(select(func.count()).select_from(Callback))
    assert calls == 4


async def test_the_supervisor_sees_the_weeks_draws_and_the_scored_staff_do_not(
    served: Served, db: Database, uow: Uow
) -> None:
    department = await factories.department(db)
    await _surveys(db, department.id, 40, WEEK_20)
    draw = await draw_period(_week_20(), uow(), AFTER_WEEK_20)  # type: ignore[arg-type]
    supervisor = await factories.staff(db, "inspector", ["supervisor"], None)
    manager = await factories.staff(db, "boss", ["manager"], department.id)
    async with aiohttp.ClientSession() as http:
        async with http.get(served.base_url + "/api/reports/verification-sample?month=2026-05",
                            headers=await bearer(db, supervisor)) as response:
            assert response.status == 200
            body = await response.json()
        async with http.get(served.base_url + "/supervisor/sample?month=2026-05",
                            headers=await bearer(db, supervisor)) as response:
            page = await response.text()
        async with http.get(served.base_url + "/api/reports/verification-sample?month=2026-05",
                            headers=await bearer(db, manager)) as response:
            assert response.status == 403
    (week,) = [d for d in body["draws"] if d["surveys"]]
    assert week["period"] == "week:2026-05-11..2026-05-17"
    assert [s["survey_id"] for s in week["surveys"]] == list(draw.survey_ids)
    assert f"department {department.id}: 4 of 40" in page


async def test_the_service_job_loop_draws_the_weeks_that_ended(served: Served, db: Database) -> None:
    department = await factories.department(db)
    await _surveys(db, department.id, 40, WEEK_20)
    (job,) = [j for j in served.app[JOB_LOOP].jobs if j.name == "callbacks-survey-sample"]
    assert job.interval <= timedelta(hours=1)
    await job.run(AFTER_WEEK_20())
    await job.run(AFTER_WEEK_20() + timedelta(hours=1))
    assert len(await _drawn(db)) == 4
