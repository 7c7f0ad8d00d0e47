"""Survey verification samples and campaign lists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from callcenter.storage.tables import Callback, DoNotCall, Survey, SurveyAudit
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import CallbackKind, Role
from crm.errors import InvalidCallWindow
from crm.identity import Identity
from crm.services.callback_lists import (
    parse_campaign_csv,
    parse_window,
    upload_campaign,
)
from crm.services.callbacks import CallbackConflict, complete_callback, record_verification
from crm.services.verification_samples import draw_verification_samples
from tests import factories
from tests.callbacks import builders

Uow = Callable[[], SqlUnitOfWork]
MAY = datetime(2026, 5, 11, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai: one sampling week


async def surveys(db: Database, department_id: int, customer_id: int, n: int,
                  source: str = "agent") -> list[int]:
    return [(await builders.survey(db, department_id=department_id, customer_id=customer_id,
                                   surveyed_at=MAY + timedelta(hours=i), source=source)).id
            for i in range(n)]


async def test_weekly_verification_sample_is_ten_percent_with_at_least_three_per_department(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    big = await factories.department(db, "BIG")
    small = await factories.department(db, "SMALL")
    customer = await factories.customer(db)
    await surveys(db, big.id, customer.id, 45)  # ceil(4.5) = 5
    await surveys(db, small.id, customer.id, 4)  # minimum 3
    await surveys(db, small.id, customer.id, 6, source="ivr")  # first-hand: never sampled
    (draw,) = [d for d in await draw_verification_samples(uow(), clock) if d.survey_ids]
    assert draw.label == "week:2026-05-11..2026-05-17"
    picked = draw.survey_ids
    assert len(picked) == 5 + 3
    async with db.sessions() as session:
        kinds = await session.scalar(select(func.count()).select_from(Callback).where(
            Callback.kind == CallbackKind.SURVEY_VERIFICATION))
    assert kinds == 8
    assert await draw_verification_samples(uow(), clock) == []  # the week is drawn already


async def test_confirmed_verification_marks_the_survey_verified_with_an_audit_row(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    customer = await factories.customer(db)
    (survey_id,) = await surveys(db, (await factories.department(db)).id, customer.id, 1)
    await draw_verification_samples(uow(), clock)
    async with db.sessions() as session:
        cb_id = await session.scalar(select(Callback.id).where(Callback.survey_id == survey_id))
    assert await record_verification(survey_id, True, uow(), clock, callback_id=cb_id) == "verified"
    assert await record_verification(survey_id, True, uow(), clock, callback_id=cb_id) == "verified"
    async with db.sessions() as session:
        survey = await session.get(Survey, survey_id)
        audits = await session.scalar(select(func.count()).select_from(SurveyAudit))
    assert survey is not None and survey.verification == "verified"
    assert audits == 1


async def test_customer_contradicting_the_grades_disputes_the_survey_from_the_callback(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    customer = await factories.customer(db)
    (survey_id,) = await surveys(db, (await factories.department(db)).id, customer.id, 1)
    await draw_verification_samples(uow(), clock)
    async with db.sessions() as session:
        cb_id = await session.scalar(select(Callback.id).where(Callback.survey_id == survey_id))
    assert cb_id is not None
    done = await complete_callback(cb_id, "disputed", "says attitude was D", None, uow(), clock)
    assert done.state == "completed"
    async with db.sessions() as session:
        survey = await session.get(Survey, survey_id)
    assert survey is not None and survey.verification == "disputed"


async def test_first_hand_survey_cannot_be_verified(db: Database, uow: Uow, clock: FixedClock) -> None:
    customer = await factories.customer(db)
    (survey_id,) = await surveys(db, (await factories.department(db)).id, customer.id, 1, "ivr")
    supervisor = Identity(99, "inspector", "inspector", frozenset({Role.SUPERVISOR}))
    with pytest.raises(CallbackConflict):
        await record_verification(survey_id, False, uow(), clock, staff=supervisor)


def test_campaign_csv_reports_every_bad_line() -> None:
    parsed = parse_campaign_csv("phone,customer_reference,name\n13800138000,,A\nabc,,B\n"
                                "138 0013 8000,,A again\n+12125550123,C-9,C\n")
    assert [r.phone for r in parsed.rows] == ["+8613800138000", "+12125550123"]
    assert [b.line for b in parsed.bad] == [3]


def test_campaign_window_may_not_reach_into_quiet_hours() -> None:
    with pytest.raises(InvalidCallWindow):
        parse_window("08:00-22:00")


async def test_uploading_a_campaign_twice_adds_each_number_once_and_skips_dnc(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    await factories.add(db, DoNotCall(e164="+8613900139000"))
    rows = parse_campaign_csv("phone,name\n13800138000,A\n13900139000,B\n").rows
    window = parse_window("10:00-18:00")
    campaign_id, _ = await upload_campaign("spring", "campaign", window, rows, uow(), clock)
    await upload_campaign("spring", "campaign", window, rows, uow(), clock)
    async with db.sessions() as session:
        states = sorted((await session.execute(
            select(Callback.state).where(Callback.campaign_id == campaign_id))).scalars())
    assert states == ["cancelled", "scheduled"]


async def test_every_campaign_list_is_looked_up_with_its_own_numbers_however_many_came_before(
    pg_url: str, clock: FixedClock
) -> None:
    """PostgreSQL may run a prepared statement on a generic plan: made once without its
    values, kept on the connection while the table grows. For a lookup of hundreds of
    numbers (`source_key IN (...)`, the do-not-call lists) that plan, made while the table
    was small, is a sequential scan comparing every row with every number one by one: the
    5th list of 10,000 took 20 s where the 1st took 1 s. Every statement of hundreds of
    values an upload sends is planned with its values (an index or a hashed list), list
    after list, re-sent or new, on the one connection that keeps them prepared
    (`pg_prepared_statements` counts the plans of each)."""
    db = Database.open(pg_url, connections=1)
    window = parse_window("09:00-20:00")

    async def upload(k: int) -> None:
        body = "phone,name\n" + "".join(f"+86138{k:03d}{i:05d},C{i}\n" for i in range(2000))
        await upload_campaign(f"list {k}", "post_repair_survey", window,
                              parse_campaign_csv(body).rows, SqlUnitOfWork(db), clock)

    try:
        for k in (1, 1, 1):  # a list, then sent again twice: its numbers are there
            await upload(k)
        async with db.sessions() as session:  # a year of post-repair callbacks
            await session.execute(text(
                "INSERT INTO callbacks (source_key, kind, state, phone, timezone, priority, due_at,"
                " next_attempt_at, window_start, window_end, attempts, max_attempts, data,"
                " created_at, updated_at)"
                " SELECT 'post-repair:' || n, 'post_repair', 'completed', '+86137' || n,"
                " 'Asia/Shanghai', 2, now(), now(), '09:00', '20:00', 1, 3, '{}', now(), now()"
                " FROM generate_series(10000000, 10039999) AS n"))
            await session.commit()
        for k in (2, 1, 3, 2):
            await upload(k)
        async with db.engine.connect() as conn:
            lookups = (await conn.execute(text(
                "SELECT split_part(statement, E'\\n', 2) AS source, generic_plans, custom_plans"
                " FROM pg_prepared_statements"
                " WHERE statement LIKE 'SELECT%' AND cardinality(parameter_types) >= 100"))).all()
    finally:
        await db.close()
    runs = {lookup.source: lookup.generic_plans + lookup.custom_plans for lookup in lookups}
    assert runs == {  # 4 chunks a list: the numbers there before (lists sent again), and the
        # do-not-call list and do-not-call customers' phones (new numbers)
        "FROM callbacks ": 4 * 4, "FROM do_not_call ": 3 * 4,
        "FROM customer_phones JOIN customers ON customers.id = customer_phones.customer_id ": 3 * 4,
    }, lookups
    assert [lookup for lookup in lookups if lookup.generic_plans] == [], \
        "looked up on a plan made without the numbers"
