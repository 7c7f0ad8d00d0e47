"""First-hand means from the customer: an IVR survey counts unverified only from the customer's number.

Both engines through the transaction, and the PostgreSQL fast path against it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from callcenter.clock import FixedClock
from callcenter.hotline.turns import FAST_TURNS, HotlineDriver
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, Customer, ServiceJob, Survey
from callcenter.storage.turn_store_pg import PgTurnStore
from callcenter.storage.turn_store_sql import SqlTurnStore
from tests import factories
from tests.hotline.test_driver import _call, _setup
from tests.hotline.test_fast_path import _settings, pg, store  # noqa: F401 (fixtures)

STRANGER = "+8613911112222"
BY_REFERENCE = ["2", "20260517", "1", "2", "1", "1"]  # survey; job 20260517; A, B, A; confirm


async def _numbered_job(db: Database) -> None:
    """A job whose reference can be keyed on a phone, for the customer of `_setup`."""
    async with db.sessions() as session:
        customer = await session.scalar(select(Customer))
        job = await session.scalar(select(ServiceJob))
        assert customer is not None and job is not None
        department_id, technician_id = job.department_id, job.technician_id
    await factories.job(db, customer.id, "20260517", technician_id=technician_id,
                        department_id=department_id,
                        completed_at=datetime(2026, 5, 17, 8, tzinfo=UTC))


async def _surveys(db: Database) -> list[Survey]:
    async with db.sessions() as session:
        return list(await session.scalars(select(Survey).order_by(Survey.id)))


async def test_an_ivr_survey_keyed_from_a_strangers_number_is_pending(
        db: Database, settings: Settings, clock: FixedClock) -> None:
    await _setup(db)
    await _numbered_job(db)
    await _call(HotlineDriver(SqlTurnStore(db), settings, clock), "CA-stranger", BY_REFERENCE, caller=STRANGER)
    (survey,) = await _surveys(db)
    assert (survey.source, survey.complete, survey.verification) == ("ivr", True, "pending")
    assert survey.pending_reason == (
        "IVR survey keyed for job 20260517 from +86139****2222, which is not a number on "
        "that job's customer record")


async def test_the_fast_path_stores_a_strangers_survey_pending_as_the_transaction_does(
        pg: Database, store: PgTurnStore, tmp_path: Path, clock: FixedClock) -> None:  # noqa: F811
    await _numbered_job(pg)
    slow = HotlineDriver(SqlTurnStore(pg), _settings(pg, tmp_path, False), clock)
    fast = HotlineDriver(store, _settings(pg, tmp_path, True), clock)
    await _call(slow, "CA-stranger-slow", BY_REFERENCE, caller=STRANGER)
    stored = FAST_TURNS.get(outcome="stored")
    await _call(fast, "CA-stranger-fast", BY_REFERENCE, caller=STRANGER)
    assert FAST_TURNS.get(outcome="stored") - stored == len(BY_REFERENCE)  # the save too
    by_slow, by_fast = await _surveys(pg)
    columns = ("job_id", "source", "timeliness", "quality", "attitude", "complete",
               "verification", "pending_reason", "department_id", "staff_id")
    assert [getattr(by_fast, c) for c in columns] == [getattr(by_slow, c) for c in columns]
    assert by_fast.verification == "pending" and "+86139****2222" in by_fast.pending_reason


async def test_a_job_not_completed_yet_cannot_be_rated_by_its_reference(
        db: Database, settings: Settings, clock: FixedClock) -> None:
    await _setup(db)
    async with db.sessions() as session:
        customer = await session.scalar(select(Customer))
        assert customer is not None
    await factories.job(db, customer.id, "20260601",
                        completed_at=datetime(2026, 6, 1, 8, tzinfo=UTC))  # after the call
    await _call(HotlineDriver(SqlTurnStore(db), settings, clock), "CA-early",
                ["2", "20260601", "1", "2", "1", "1"], caller=STRANGER)
    assert await _surveys(db) == []
    async with db.sessions() as session:
        call = await session.scalar(select(Call).where(Call.carrier_call_id == "CA-early"))
    assert call is not None and call.ivr_path is not None
    assert "survey_lookup_reference>survey_reference" in call.ivr_path  # "not found", asked again
    assert "survey_save" not in call.ivr_path


async def test_keyed_digits_that_name_two_jobs_are_asked_again_and_rate_neither(
        db: Database, settings: Settings, clock: FixedClock) -> None:
    await _setup(db)
    async with db.sessions() as session:
        customer = await session.scalar(select(Customer))
        assert customer is not None
    for reference in ("J-20261107", "J20261107"):
        await factories.job(db, customer.id, reference, completed_at=datetime(2026, 5, 17, 8, tzinfo=UTC))
    await _call(HotlineDriver(SqlTurnStore(db), settings, clock), "CA-twice",
                ["2", "20261107", "1", "2", "1", "1"], caller=STRANGER)
    assert await _surveys(db) == []
    async with db.sessions() as session:
        call = await session.scalar(select(Call).where(Call.carrier_call_id == "CA-twice"))
    assert call is not None and call.ivr_path is not None
    assert "survey_lookup_reference>survey_reference" in call.ivr_path  # asked again


async def test_the_fast_path_finds_a_lettered_job_by_its_keyed_digits_as_the_transaction_does(
        pg: Database, store: PgTurnStore, tmp_path: Path, clock: FixedClock) -> None:  # noqa: F811
    async with pg.sessions() as session:
        customer = await session.scalar(select(Customer))
        assert customer is not None
    job = await factories.job(pg, customer.id, "J-20261105", completed_at=datetime(2026, 5, 17, 8, tzinfo=UTC))
    keys = ["2", "20261105", "1", "2", "1", "1"]
    await _call(HotlineDriver(SqlTurnStore(pg), _settings(pg, tmp_path, False), clock), "CA-keyed-slow", keys,
                caller=STRANGER)
    stored = FAST_TURNS.get(outcome="stored")
    await _call(HotlineDriver(store, _settings(pg, tmp_path, True), clock), "CA-keyed-fast", keys, caller=STRANGER)
    assert FAST_TURNS.get(outcome="stored") - stored == len(keys)  # the lookup on the fast path too
    assert [s.job_id for s in await _surveys(pg)] == [job.id, job.id]
