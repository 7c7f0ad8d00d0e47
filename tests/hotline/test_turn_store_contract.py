"""One contract for every `TurnStore`: the in-memory fake, SQLAlchemy on SQLite and on
PostgreSQL, and the batched PostgreSQL store hold to the same rules."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from callcenter.hotline.ports import (
    Caller,
    CallOpen,
    CallWrites,
    SurveyWrite,
    TurnSave,
    TurnStore,
)
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, CallEvent, Contact, ServiceJob, Survey, SurveyAudit
from callcenter.storage.turn_store_pg import PgTurnStore
from callcenter.storage.turn_store_sql import SqlTurnStore
from crm.calls import CallRecord
from crm.enums import CallDisposition, Carrier, Direction
from crm.services.calls import CallEventIn, IvrStep, StartCall, started_event_for
from crm.surveys import JobRef
from tests import factories
from tests.hotline.fake_turn_store import FakeTurnStore

NUMBER = "+8613800138000"
STRANGER = "+8613911112222"
NOW = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)
COMPLETED = datetime(2026, 5, 17, 8, tzinfo=UTC)


@dataclass
class Subject:
    """A store under test, what it was seeded with, and how to look inside it."""

    store: TurnStore
    customer_id: int
    job_id: int
    keys: Callable[[int], Awaitable[list[str | None]]]  # the call's timeline dedupe keys
    surveys: Callable[[], Awaitable[list[tuple[int, int, str]]]]  # (id, audit entries, action)
    contacts: Callable[[int], Awaitable[int]]
    #: another process changes the job (a technician reassigned)
    change_job: Callable[[int], Awaitable[None]]
    #: another process writes to the call without moving its IVR version (an agent answers)
    answer: Callable[[int], Awaitable[None]]


async def _fake() -> Subject:
    store = FakeTurnStore()
    store.callers[NUMBER] = Caller(7, True, "zh-CN", "Asia/Shanghai")
    store.jobs[3] = JobRef(3, "J-1", 7, None, None, COMPLETED, frozenset({NUMBER}))
    store.jobs[4] = JobRef(4, "J-0", 7, None, None, COMPLETED - timedelta(days=3))

    async def keys(call_id: int) -> list[str | None]:
        return store.keys(call_id)

    async def surveys() -> list[tuple[int, int, str]]:
        return [(sid, sum(a["survey_id"] == sid for a in store.audits), row["source"])
                for sid, row in sorted(store.surveys.items())]

    async def contacts(call_id: int) -> int:
        return int(call_id in store.contacts)

    async def change_job(job_id: int) -> None:
        store.jobs[job_id] = replace(store.jobs[job_id], technician_id=99)

    async def answer(call_id: int) -> None:
        store.rows[call_id]["answered_at"] = NOW

    return Subject(store, 7, 3, keys, surveys, contacts, change_job, answer)


async def _database(db: Database, store: TurnStore) -> Subject:
    dep = await factories.department(db, "SVC")
    customer = await factories.customer(db, "张三", (NUMBER,), department_id=dep.id,
                                        verified=True)
    await factories.job(db, customer.id, "J-0", department_id=dep.id,
                        completed_at=COMPLETED - timedelta(days=3))
    job = await factories.job(db, customer.id, "J-1", department_id=dep.id,
                              completed_at=COMPLETED)

    async def keys(call_id: int) -> list[str | None]:
        async with db.sessions() as session:
            return list(await session.scalars(select(CallEvent.dedupe_key).where(
                CallEvent.call_id == call_id).order_by(CallEvent.id)))

    async def surveys() -> list[tuple[int, int, str]]:
        async with db.sessions() as session:
            rows = (await session.execute(
                select(Survey.id, func.count(SurveyAudit.id), Survey.source)
                .outerjoin(SurveyAudit, SurveyAudit.survey_id == Survey.id)
                .group_by(Survey.id, Survey.source).order_by(Survey.id))).all()
        return [(r[0], r[1], r[2]) for r in rows]

    async def contacts(call_id: int) -> int:
        async with db.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Contact).where(
                Contact.call_id == call_id)) or 0)

    async def change_job(job_id: int) -> None:
        tech = await factories.staff(db, "tech-2", ["technician"], department_id=dep.id)
        async with db.sessions() as session:
            await session.execute(update(ServiceJob).where(ServiceJob.id == job_id)
                                  .values(technician_id=tech.id))
            await session.commit()

    async def answer(call_id: int) -> None:
        async with db.sessions() as session:
            await session.execute(update(Call).where(Call.id == call_id).values(answered_at=NOW))
            await session.commit()

    return Subject(store, customer.id, job.id, keys, surveys, contacts, change_job, answer)


@pytest.fixture(params=["fake", "sqlalchemy-sqlite", "sqlalchemy-pg", "batched-pg"])
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """Which store, on which (migrated, empty) database."""
    if request.param == "fake":
        return "fake", ""
    if request.param == "sqlalchemy-sqlite":
        target = tmp_path / "callcenter.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return request.param, f"sqlite+aiosqlite:///{target}"
    return request.param, request.getfixturevalue("pg_url")


@pytest.fixture(name="s")
async def subject(kind: tuple[str, str]) -> AsyncIterator[Subject]:
    name, url = kind
    if name == "fake":
        yield await _fake()
        return
    db = Database.open(url)
    store = PgTurnStore(db) if name == "batched-pg" else SqlTurnStore(db)
    try:
        yield await _database(db, store)
    finally:
        await store.close()
        await db.close()


def _cmd(sid: str, customer_id: int | None) -> StartCall:
    return StartCall(Carrier.TWILIO, sid, Direction.INBOUND, NUMBER, "+864008001234", NOW,
                     customer_id, "zh-CN")


async def _opened(s: Subject, sid: str = "CA-1") -> CallRecord:
    cmd = _cmd(sid, s.customer_id)
    step = IvrStep(NOW, "main_menu", "", "entered", "0.0")
    from crm.services.calls import step_event

    call = await s.store.open(CallOpen(cmd, '{"v": 1}', "main_menu",
                                       [started_event_for(cmd), step_event(step)]))
    assert call is not None
    return call


def _step(version: int, node: str = "survey") -> IvrStep:
    return IvrStep(NOW, node, "2", "chosen", f"{version}.0")


async def test_a_call_opened_with_its_first_turn_reads_back_at_version_one(s: Subject) -> None:
    opened = await _opened(s)

    loaded = await s.store.load("twilio", "CA-1")

    assert loaded == opened
    assert (loaded.ivr_version, loaded.ivr_state, loaded.ivr_path, loaded.customer_id,
            loaded.disposition, loaded.direction) == \
        (1, '{"v": 1}', "main_menu", s.customer_id, CallDisposition.IN_PROGRESS,
         Direction.INBOUND)
    assert await s.keys(loaded.id) == ["started", "ivr:0.0"]


async def test_a_call_logged_already_is_not_opened_again(s: Subject) -> None:
    first = await _opened(s)
    cmd = _cmd("CA-1", s.customer_id)

    again = await s.store.open(CallOpen(cmd, '{"v": 2}', "other", [started_event_for(cmd)]))

    assert again is None
    assert await s.store.load("twilio", "CA-1") == first


async def test_an_unknown_call_reads_as_none(s: Subject) -> None:
    assert await s.store.load("twilio", "CA-nobody") is None


async def test_a_turn_saved_at_the_version_read_moves_the_call_on(s: Subject) -> None:
    call = await _opened(s)

    saved = await s.store.save(TurnSave(call, '{"v": 2}', "main_menu>survey", [_step(1)]))

    assert saved is not None and saved.ivr_version == 2
    assert await s.store.load("twilio", "CA-1") == saved
    assert saved.ivr_state == '{"v": 2}' and saved.ivr_path == "main_menu>survey"
    assert await s.keys(call.id) == ["started", "ivr:0.0", "ivr:1.0"]


async def test_a_turn_saved_at_a_stale_version_writes_nothing(s: Subject) -> None:
    call = await _opened(s)
    assert await s.store.save(TurnSave(call, '{"v": 2}', "a", [_step(1)])) is not None

    late = await s.store.save(TurnSave(call, '{"v": "late"}', "b", [_step(1, "late")]))

    assert late is None
    stored = await s.store.load("twilio", "CA-1")
    assert stored is not None and (stored.ivr_version, stored.ivr_state) == (2, '{"v": 2}')
    assert await s.keys(call.id) == ["started", "ivr:0.0", "ivr:1.0"]


def _survey(s: Subject, survey_id: int, call_id: int) -> SurveyWrite:
    return SurveyWrite(
        {"id": survey_id, "job_id": s.job_id, "customer_id": s.customer_id, "call_id": call_id,
         "surveyed_at": NOW, "source": "ivr", "timeliness": "A", "quality": "B",
         "attitude": "A", "complete": True, "verification": "first_hand"},
        {"at": NOW, "actor_id": None, "action": "created", "before": None,
         "after": {"timeliness": "A"}})


async def test_a_survey_is_stored_with_its_turn_and_not_with_a_stale_one(s: Subject) -> None:
    call = await _opened(s)
    first, second = await s.store.next_survey_id(), await s.store.next_survey_id()

    kept = await s.store.save(TurnSave(call, "{}", None, [_step(1)], _survey(s, first, call.id)))
    dropped = await s.store.save(TurnSave(call, "{}", None, [_step(1)],
                                          _survey(s, second, call.id)))

    assert kept is not None and dropped is None
    assert await s.surveys() == [(first, 1, "ivr")]


async def test_survey_ids_are_fresh(s: Subject) -> None:
    ids = [await s.store.next_survey_id() for _ in range(3)]
    assert len(set(ids)) == 3 and min(ids) > 0


def _writes(status: str, rank: int, *, ended: bool = False) -> CallWrites:
    values: dict[str, object] = {"carrier_status": status, "status_rank": rank}
    if ended:
        values.update(ended_at=NOW, disposition="abandoned", duration_s=12.0)
    return CallWrites(values, [CallEventIn(NOW, "status", None, {"status": status},
                                           f"status:{status}")])


async def test_a_settling_is_stored_only_while_the_call_is_as_it_was_read(s: Subject) -> None:
    call = await _opened(s)
    ringing = _writes("ringing", 1)
    ended = _writes("completed", 4, ended=True)

    assert await s.store.settle(call, ringing)
    # read before the ringing was stored: its rank moved on, so this settling is dropped
    assert not await s.store.settle(call, ended)
    moved = await s.store.load("twilio", "CA-1")
    assert moved is not None and (moved.carrier_status, moved.status_rank) == ("ringing", 1)

    ended.contact = replace(moved, ended_at=NOW)
    assert await s.store.settle(moved, ended)
    final = await s.store.load("twilio", "CA-1")
    assert final is not None and (final.ended_at, final.disposition, final.status_rank) == \
        (NOW, CallDisposition.ABANDONED, 4)
    assert await s.keys(call.id) == ["started", "ivr:0.0", "status:ringing", "status:completed"]
    assert await s.contacts(call.id) == 1


async def test_settlings_of_one_call_racing_store_one(s: Subject) -> None:
    call = await _opened(s)

    done = await asyncio.gather(s.store.settle(call, _writes("ringing", 1)),
                                s.store.settle(call, _writes("in-progress", 2)))

    assert sorted(done) == [False, True]


async def test_the_caller_is_found_by_their_number_and_a_stranger_is_not(s: Subject) -> None:
    caller = await s.store.caller(NUMBER)

    assert caller is not None and (caller.customer_id, caller.verified) == (s.customer_id, True)
    assert await s.store.caller(STRANGER) is None


async def test_jobs_are_found_by_id_by_reference_and_as_the_last_completed(s: Subject) -> None:
    by_id = (await s.store.read_job("id", s.job_id)).job
    by_reference = (await s.store.read_job("reference", "J-1")).job
    last = (await s.store.read_job("customer", s.customer_id)).job

    assert by_id is not None and by_id == by_reference == last
    assert (by_id.reference, by_id.customer_id, by_id.completed_at) == \
        ("J-1", s.customer_id, COMPLETED)
    assert NUMBER in by_id.customer_phones
    assert (await s.store.read_job("reference", "J-404")).job is None
    assert (await s.store.read_job("customer", s.customer_id + 1000)).job is None


async def test_a_turn_whose_job_changed_since_it_was_read_writes_nothing(s: Subject) -> None:
    call = await _opened(s)
    reads = [await s.store.read_job("customer", s.customer_id),
             await s.store.read_job("id", s.job_id)]
    await s.change_job(s.job_id)

    stale = await s.store.save(TurnSave(call, "{}", None, [_step(1)],
                                        _survey(s, await s.store.next_survey_id(), call.id),
                                        reads))
    again = [await s.store.read_job("customer", s.customer_id),
             await s.store.read_job("id", s.job_id)]
    saved = await s.store.save(TurnSave(call, "{}", None, [_step(1)], None, again))

    assert stale is None and saved is not None and saved.ivr_version == 2
    assert again[0].job is not None and again[0].job.technician_id != \
        (reads[0].job.technician_id if reads[0].job else None)
    assert await s.surveys() == []
    assert await s.keys(call.id) == ["started", "ivr:0.0", "ivr:1.0"]


async def test_a_turn_that_found_no_job_writes_nothing_once_one_is_completed(
        s: Subject) -> None:
    call = await _opened(s)
    none = await s.store.read_job("customer", s.customer_id + 1000)
    assert none.job is None

    saved = await s.store.save(TurnSave(call, "{}", None, [_step(1)], None, [none]))

    assert saved is not None  # still none: the turn is stored


async def test_a_write_is_refused_when_the_call_changed_in_any_column(s: Subject) -> None:
    """An agent answered (no IVR version moved): a save or a settling given the call as it
    was before writes nothing; given the call as it is now, it is stored."""
    call = await _opened(s)
    await s.answer(call.id)

    assert await s.store.save(TurnSave(call, "{}", None, [_step(1)])) is None
    assert not await s.store.settle(call, _writes("ringing", 1))
    now = await s.store.load("twilio", "CA-1")
    assert now is not None and now.answered_at == NOW
    assert await s.store.settle(now, _writes("ringing", 1))
    ringing = replace(now, carrier_status="ringing", status_rank=1)
    assert await s.store.save(TurnSave(ringing, "{}", None, [_step(1)])) is not None


async def test_a_known_caller_is_logged_with_their_first_turn_in_one_step(s: Subject) -> None:
    cmd = _cmd("CA-1", None)
    like = Caller(0, True, "zh-CN", "Asia/Shanghai")

    opened = await s.store.open_for(CallOpen(cmd, '{"v": 1}', "main_menu",
                                             [started_event_for(cmd)]), NUMBER, like)
    again = await s.store.open_for(CallOpen(cmd, '{"v": 9}', "x", []), NUMBER, like)

    assert opened.call is not None and opened.caller is not None
    assert (opened.call.customer_id, opened.call.ivr_version, opened.call.ivr_state) == \
        (s.customer_id, 1, '{"v": 1}')
    assert opened.caller.customer_id == s.customer_id and opened.caller.like(like)
    assert again.call is None and again.caller == opened.caller  # logged already
    assert await s.store.load("twilio", "CA-1") == opened.call
    assert await s.keys(opened.call.id) == ["started"]


async def test_a_caller_of_another_kind_or_a_stranger_is_told_and_nothing_is_logged(
        s: Subject) -> None:
    cmd = _cmd("CA-1", None)
    new = CallOpen(cmd, '{"v": 1}', "main_menu", [started_event_for(cmd)])

    english = await s.store.open_for(new, NUMBER, Caller(0, True, "en", "Asia/Shanghai"))
    stranger = await s.store.open_for(new, STRANGER, Caller(0, True, "zh-CN", "Asia/Shanghai"))

    assert english.call is None and english.caller is not None
    assert (english.caller.customer_id, english.caller.language) == (s.customer_id, "zh-CN")
    assert stranger == type(stranger)(None, None)
    assert await s.store.load("twilio", "CA-1") is None


async def test_a_transaction_stores_nothing_without_its_commit(s: Subject) -> None:
    call = await _opened(s)
    async with s.store.transaction() as tx:
        await tx.calls.add_event(call.id, CallEventIn(NOW, "note", dedupe_key="dropped"))
    async with s.store.transaction() as tx:
        await tx.calls.add_event(call.id, CallEventIn(NOW, "note", dedupe_key="kept"))
        await tx.commit()

    assert await s.keys(call.id) == ["started", "ivr:0.0", "kept"]
