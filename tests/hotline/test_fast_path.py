"""The PostgreSQL fast path: batched raw statements store the same turns as the transactions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select

from callcenter.clock import FixedClock
from callcenter.hotline.ports import TurnSave
from callcenter.hotline.turns import FAST_TURNS, HotlineDriver, Turn
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, CallEvent, Survey, SurveyAudit
from callcenter.storage.turn_store_pg import PgTurnStore
from callcenter.storage.turn_store_sql import SqlTurnStore
from crm.enums import Carrier
from crm.services import calls as call_log
from ivr import events as ev
from tests.hotline.test_driver import CALLER, _setup

SURVEY = ["2", "1", "2", "1", "1", "2"]  # survey; A, B, A; confirm; goodbye


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[Database]:
    database = Database.open(pg_url)
    await _setup(database)
    yield database
    await database.close()


def _settings(db: Database, tmp_path: Path, fast: bool) -> Settings:
    return Settings(database_url=db.url, job_loop_enabled=False, fastagi_enabled=False,  # type: ignore[arg-type]
                    ami_enabled=False, ivr_fast_path=fast, log_json=False,
                    reports_dir=tmp_path / "reports", opening_hours="00:00-23:59")  # type: ignore[arg-type]


@pytest.fixture
async def store(pg: Database) -> AsyncIterator[PgTurnStore]:
    fast = PgTurnStore.for_database(pg, True)
    assert fast is not None
    yield fast
    await fast.close()


async def _run(driver: HotlineDriver, sid: str, keys: list[str]) -> list[Turn]:
    turns = [await driver.begin(Carrier.TWILIO, sid, from_number=CALLER, to_number="+864008001234")]
    for key in keys:
        turns.append(await driver.feed(Carrier.TWILIO, sid, ev.Digits(key),
                                       expected_version=turns[-1].version))
    return turns


async def _timeline(db: Database, sid: str) -> tuple[Any, list[tuple[Any, ...]]]:
    async with db.sessions() as session:
        call = await session.scalar(select(Call).where(Call.carrier_call_id == sid))
        assert call is not None
        events = await session.scalars(
            select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.id))
        return ((call.ivr_path, call.ivr_version),
                [(e.kind, e.node, e.detail, e.dedupe_key) for e in events])


def _media(turns: list[Turn]) -> list[Any]:
    return [(t.media, t.ended, t.version) for t in turns]


async def test_a_survey_stores_the_same_rows_and_media_on_the_fast_path(
        pg: Database, store: PgTurnStore, tmp_path: Path, clock: FixedClock) -> None:
    slow = HotlineDriver(SqlTurnStore(pg), _settings(pg, tmp_path, False), clock)
    fast = HotlineDriver(store, _settings(pg, tmp_path, True), clock)
    stored_before = FAST_TURNS.get(outcome="stored")

    slow_turns = await _run(slow, "CA-slow", SURVEY)
    fast_turns = await _run(fast, "CA-fast", SURVEY)

    assert _media(fast_turns) == _media(slow_turns)
    assert await _timeline(pg, "CA-fast") == await _timeline(pg, "CA-slow")
    # every key went the fast way: menus, the job lookup and the survey save
    assert FAST_TURNS.get(outcome="stored") - stored_before == len(SURVEY)
    async with pg.sessions() as session:
        surveys = list(await session.scalars(select(Survey).order_by(Survey.id)))
        audits = list(await session.scalars(select(SurveyAudit).order_by(SurveyAudit.id)))
    columns = [c.key for c in Survey.__table__.columns if c.key not in ("id", "call_id")]
    rows = [{c: getattr(s, c) for c in columns if c not in ("created_at", "updated_at")}
            for s in surveys]
    assert len(rows) == 2 and rows[0] == rows[1]
    assert (surveys[1].timeliness, surveys[1].quality, surveys[1].attitude,
            surveys[1].complete, surveys[1].source) == ("A", "B", "A", True, "ivr")
    assert [(a.survey_id, a.action, a.before, a.after, a.actor_id, a.at) for a in audits] == \
        [(s.id, "created", None, audits[0].after, None, clock()) for s in surveys]
    assert audits[0].after == audits[1].after
    # the session holds the id the survey was stored under
    stored_call = fast_turns[-2].call
    assert stored_call is not None and stored_call.ivr_state is not None
    session_state = json.loads(json.loads(stored_call.ivr_state)["session"])
    assert session_state["slots"]["survey_id"] == surveys[1].id


async def test_a_replayed_webhook_gets_the_same_media_and_writes_nothing(
        pg: Database, store: PgTurnStore, tmp_path: Path, clock: FixedClock) -> None:
    driver = HotlineDriver(store, _settings(pg, tmp_path, True), clock)
    turns = await _run(driver, "CA-replay", ["2", "1"])
    before = await _timeline(pg, "CA-replay")

    again = await driver.feed(Carrier.TWILIO, "CA-replay", ev.Digits("1"),
                              expected_version=turns[-2].version)

    assert again.replayed and again.media == turns[-1].media
    assert await _timeline(pg, "CA-replay") == before


async def test_two_webhooks_racing_on_one_version_advance_the_call_once(
        pg: Database, store: PgTurnStore, tmp_path: Path, clock: FixedClock) -> None:
    driver = HotlineDriver(store, _settings(pg, tmp_path, True), clock)
    turns = await _run(driver, "CA-race", ["2"])
    version = turns[-1].version

    async def press(key: str) -> Turn | Exception:
        try:
            return await driver.feed(Carrier.TWILIO, "CA-race", ev.Digits(key),
                                     expected_version=version)
        except call_log.StaleIvrState as exc:
            return exc

    first, second = await asyncio.gather(press("1"), press("3"))

    (path, stored_version), events = await _timeline(pg, "CA-race")
    assert stored_version == version + 1
    winners = [t for t in (first, second) if isinstance(t, Turn) and not t.replayed]
    assert len(winners) == 1
    # the loser is told it is stale (the webhook then answers with the stored step)
    assert sum(isinstance(t, call_log.StaleIvrState) or (isinstance(t, Turn) and t.replayed)
               for t in (first, second)) == 1
    assert len([e for e in events if e[3] and e[3].startswith(f"ivr:{version}.")]) >= 1


async def test_concurrent_turns_share_statements_and_a_bad_turn_fails_alone(
        pg: Database, store: PgTurnStore, tmp_path: Path, clock: FixedClock) -> None:
    driver = HotlineDriver(SqlTurnStore(pg), _settings(pg, tmp_path, False), clock)
    sids = [f"CA-batch-{i}" for i in range(30)]
    for sid in sids:
        await driver.begin(Carrier.TWILIO, sid, from_number=CALLER, to_number="+864008001234")

    calls = await asyncio.gather(*(store.load("twilio", sid) for sid in sids))
    assert all(c is not None and c.ivr_version == 1 for c in calls)
    saves = [TurnSave(c, '{"moved": true}', "main_menu", [call_log.IvrStep(  # type: ignore[union-attr]
        clock(), "main_menu", "9", "repeat", "1.0")]) for c in calls]
    saves[7] = replace(saves[7], steps=[call_log.IvrStep(clock(), "n" * 200, "9", "repeat", "1.0")])
    saver = store.batchers[1]
    flushes, items = saver.flushes, saver.items

    results = await asyncio.gather(*(store.save(s) for s in saves), return_exceptions=True)

    assert isinstance(results[7], asyncpg.StringDataRightTruncationError)
    assert all(r is not None and not isinstance(r, BaseException) and r.ivr_version == 2
               for i, r in enumerate(results) if i != 7)
    # one statement carried many turns; when it failed, each was stored alone
    assert saver.items - items > saver.flushes - flushes
    async with pg.sessions() as session:
        rows = {c.carrier_call_id: c.ivr_version for c in await session.scalars(select(Call))}
        steps = set(await session.scalars(
            select(Call.carrier_call_id).join(CallEvent, CallEvent.call_id == Call.id)
            .where(CallEvent.dedupe_key == "ivr:1.0")))
    assert rows[sids[7]] == 1 and sids[7] not in steps  # nothing of the bad turn
    assert all(rows[s] == 2 and s in steps for i, s in enumerate(sids) if i != 7)


async def test_a_dropped_connection_falls_back_to_a_transaction_and_loses_nothing(
        pg: Database, store: PgTurnStore, tmp_path: Path, clock: FixedClock) -> None:
    driver = HotlineDriver(store, _settings(pg, tmp_path, True), clock)
    turns = await _run(driver, "CA-drop", ["2", "1"])
    admin = await asyncpg.connect(store.dsn)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    finally:
        await admin.close()
    assert killed >= 2
    stored = FAST_TURNS.get(outcome="stored")

    for key in ["2", "1", "1", "2"]:
        turns.append(await driver.feed(Carrier.TWILIO, "CA-drop", ev.Digits(key),
                                       expected_version=turns[-1].version))

    # the fast path reconnected (or fell back once) and kept going: two keys and the goodbye
    assert FAST_TURNS.get(outcome="stored") - stored >= 2
    await pg.engine.dispose()  # this test's own pooled connections were cut too
    assert turns[-1].ended
    async with pg.sessions() as session:
        survey = await session.scalar(select(Survey))
    assert survey is not None and survey.complete


async def _settled(db: Database, sid: str) -> tuple[Any, ...]:
    from callcenter.storage.tables import Contact

    async with db.sessions() as session:
        call = await session.scalar(select(Call).where(Call.carrier_call_id == sid))
        assert call is not None
        contacts = list(await session.scalars(select(Contact).where(Contact.call_id == call.id)))
    return (call.ended_at, call.disposition, call.duration_s, call.carrier_status,
            call.status_rank, call.answered_at,
            [(c.kind, c.customer_id, c.disposition, c.summary) for c in contacts])


async def test_status_callbacks_settle_the_call_the_same_way_on_the_fast_path(
        pg: Database, store: PgTurnStore, tmp_path: Path, clock: FixedClock) -> None:
    slow = HotlineDriver(SqlTurnStore(pg), _settings(pg, tmp_path, False), clock)
    fast = HotlineDriver(store, _settings(pg, tmp_path, True), clock)
    settled = FAST_TURNS.get(outcome="settled")
    # in order, a duplicate final status, then a late one out of order
    statuses = [("in-progress", None), ("completed", 42.0), ("completed", 42.0), ("ringing", None)]
    for driver, sid in ((slow, "CA-st-slow"), (fast, "CA-st-fast")):
        await _run(driver, sid, SURVEY)
        for status, duration in statuses:
            await driver.carrier_status(Carrier.TWILIO, sid, status, duration_s=duration)

    assert await _settled(pg, "CA-st-fast") == await _settled(pg, "CA-st-slow")
    assert await _timeline(pg, "CA-st-fast") == await _timeline(pg, "CA-st-slow")
    assert FAST_TURNS.get(outcome="settled") - settled == len(statuses)
    slow_end = await _settled(pg, "CA-st-slow")
    assert slow_end[0] is not None and slow_end[3] == "completed" and len(slow_end[6]) == 1


async def test_a_hang_up_mid_flow_is_settled_in_a_transaction_that_keeps_the_answers(
        pg: Database, store: PgTurnStore, tmp_path: Path, clock: FixedClock) -> None:
    fast = HotlineDriver(store, _settings(pg, tmp_path, True), clock)
    await _run(fast, "CA-st-gone", ["2", "1", "2"])  # two grades given, then the caller is gone
    settled = FAST_TURNS.get(outcome="settled")

    await fast.carrier_status(Carrier.TWILIO, "CA-st-gone", "completed", duration_s=20.0)

    assert FAST_TURNS.get(outcome="settled") == settled  # the session needed its hang-up turn
    async with pg.sessions() as session:
        survey = await session.scalar(select(Survey))
    assert survey is not None and not survey.complete
    assert (survey.timeliness, survey.quality) == ("A", "B")


async def test_a_known_caller_is_logged_and_greeted_in_one_statement_and_a_retry_replays(
        pg: Database, store: PgTurnStore, tmp_path: Path, clock: FixedClock) -> None:
    slow = HotlineDriver(SqlTurnStore(pg), _settings(pg, tmp_path, False), clock)
    fast = HotlineDriver(store, _settings(pg, tmp_path, True), clock)
    opened = FAST_TURNS.get(outcome="opened")

    first = await _run(fast, "CA-open-fast", [])
    again = await fast.begin(Carrier.TWILIO, "CA-open-fast", from_number=CALLER,
                             to_number="+864008001234")
    reference = await _run(slow, "CA-open-slow", [])

    assert FAST_TURNS.get(outcome="opened") - opened == 1  # the retry went the long way
    assert again.replayed and again.media == first[0].media and again.version == 1
    assert _media(first) == _media(reference)
    assert await _timeline(pg, "CA-open-fast") == await _timeline(pg, "CA-open-slow")
    async with pg.sessions() as session:
        calls = {c.carrier_call_id: c for c in await session.scalars(select(Call))}
    a, b = calls["CA-open-fast"], calls["CA-open-slow"]
    assert (a.customer_id, a.language, a.direction, a.disposition, a.status_rank) == \
        (b.customer_id, b.language, b.direction, b.disposition, b.status_rank)


async def test_a_stranger_is_added_by_the_transaction_not_the_fast_path(
        pg: Database, store: PgTurnStore, tmp_path: Path, clock: FixedClock) -> None:
    from callcenter.storage.tables import Customer

    fast = HotlineDriver(store, _settings(pg, tmp_path, True), clock)
    opened = FAST_TURNS.get(outcome="opened")

    turn = await fast.begin(Carrier.TWILIO, "CA-stranger", from_number="+8613911112222",
                            to_number="+864008001234")

    assert FAST_TURNS.get(outcome="opened") == opened and turn.version == 1
    async with pg.sessions() as session:
        stranger = await session.scalar(select(Customer).where(Customer.verified.is_(False)))
    assert stranger is not None


async def test_a_batch_that_raises_fails_its_callers_and_the_batcher_keeps_serving(
        pg: Database) -> None:
    from callcenter.storage.turn_store_pg import Batcher

    seen: list[list[int]] = []

    async def flush(conn: asyncpg.Connection, items: list[int]) -> list[int]:
        seen.append(items)
        if 13 in items:
            raise TypeError("a bug in preparing the statement")
        return [int(await conn.fetchval("SELECT $1::int * 2", item)) for item in items]

    store = PgTurnStore(pg)
    batcher: Batcher[int, int] = Batcher("test", store.dsn, flush, connections=1)
    try:
        with pytest.raises(TypeError):
            await batcher.submit(13)
        assert await asyncio.wait_for(batcher.submit(4), 5) == 8  # still serving
    finally:
        await batcher.close()
    assert seen == [[13], [4]]


async def test_a_row_locked_past_the_time_limit_sends_the_turn_to_a_transaction(
        pg: Database, tmp_path: Path, clock: FixedClock) -> None:
    store = PgTurnStore(pg, timeout_s=1.0)
    driver = HotlineDriver(store, _settings(pg, tmp_path, True), clock)
    try:
        turns = await _run(driver, "CA-locked", ["2"])
        holder = await asyncpg.connect(store.dsn)
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM calls WHERE carrier_call_id = 'CA-locked' FOR UPDATE")
        errors = FAST_TURNS.get(outcome="error")

        async def release_later() -> None:
            await asyncio.sleep(2.0)
            await tx.rollback()
            await holder.close()

        releaser = asyncio.create_task(release_later())
        answers: list[Turn] = []
        for _ in range(3):  # what the webhook does (twilio.webhooks._feed): stale -> again
            try:
                answers.append(await asyncio.wait_for(driver.feed(
                    Carrier.TWILIO, "CA-locked", ev.Digits("1"),
                    expected_version=turns[-1].version), 30))
                break
            except call_log.StaleIvrState:
                continue
        await releaser
    finally:
        await store.close()

    assert FAST_TURNS.get(outcome="error") - errors == 1  # timed out, then the transaction
    # the timed-out statement may still land once the lock goes (the server had it): either
    # way exactly one turn is stored, and the caller hears that turn's media
    (_path, version), events = await _timeline(pg, "CA-locked")
    assert version == turns[-1].version + 1
    assert len(answers) == 1 and answers[0].version == version
    reference = await _run(HotlineDriver(SqlTurnStore(pg), _settings(pg, tmp_path, False), clock),
                           "CA-locked-ref", ["2", "1"])
    assert answers[0].media == reference[-1].media
    assert len([e for e in events if e[0] == "ivr_step"]) == \
        len([e for e in (await _timeline(pg, "CA-locked-ref"))[1] if e[0] == "ivr_step"])


async def test_many_calls_at_once_share_statements_for_opens_surveys_and_settles(
        pg: Database, store: PgTurnStore, tmp_path: Path, clock: FixedClock) -> None:
    from callcenter.storage.tables import Contact

    fast = HotlineDriver(store, _settings(pg, tmp_path, True), clock)
    slow = HotlineDriver(SqlTurnStore(pg), _settings(pg, tmp_path, False), clock)
    sids = [f"CA-many-{i}" for i in range(25)]
    before = {b.name: (b.flushes, b.items) for b in store.batchers}

    async def one(sid: str) -> list[Turn]:
        turns = await _run(fast, sid, SURVEY)
        await fast.carrier_status(Carrier.TWILIO, sid, "completed", duration_s=40.0)
        return turns

    results = await asyncio.gather(*(one(sid) for sid in sids))
    reference = await _run(slow, "CA-many-ref", SURVEY)
    await slow.carrier_status(Carrier.TWILIO, "CA-many-ref", "completed", duration_s=40.0)

    shared = {b.name: (b.flushes - before[b.name][0], b.items - before[b.name][1])
              for b in store.batchers}
    for name in ("call-opens", "turn-saves", "call-settles"):
        flushes, items = shared[name]
        assert items > flushes, f"{name}: {items} items in {flushes} statements"
    ref_events = [(k, n, d, key) for k, n, d, key in (await _timeline(pg, "CA-many-ref"))[1]]
    for sid, turns in zip(sids, results, strict=True):
        assert _media(turns) == _media(reference)
        assert (await _timeline(pg, sid))[1] == ref_events
        assert await _settled(pg, sid) == await _settled(pg, "CA-many-ref")
    async with pg.sessions() as session:
        surveys = list(await session.scalars(select(Survey)))
        audits = list(await session.scalars(select(SurveyAudit)))
        contacts = list(await session.scalars(select(Contact)))
    assert len(surveys) == len(sids) + 1 and all(s.complete for s in surveys)
    assert sorted(a.survey_id for a in audits) == sorted(s.id for s in surveys)
    assert len(contacts) == len(sids) + 1


async def test_a_stale_settle_in_a_shared_statement_fails_alone(
        pg: Database, store: PgTurnStore, tmp_path: Path, clock: FixedClock) -> None:
    from callcenter.hotline.ports import CallWrites
    from crm.services.calls import CallEventIn

    driver = HotlineDriver(SqlTurnStore(pg), _settings(pg, tmp_path, False), clock)
    for sid in ("CA-s-1", "CA-s-2", "CA-s-3"):
        await driver.begin(Carrier.TWILIO, sid, from_number=CALLER, to_number="+864008001234")
    calls = [await store.load("twilio", sid) for sid in ("CA-s-1", "CA-s-2", "CA-s-3")]
    stale = replace(calls[1], status_rank=3)  # read before another status moved it on

    def writes(i: int) -> CallWrites:
        return CallWrites({"carrier_status": "ringing", "status_rank": 1},
                          [CallEventIn(clock(), "status", None, {"status": "ringing"},
                                       f"status:ringing:{i}")])

    done = await asyncio.gather(*(store.settle(c, writes(i))  # type: ignore[arg-type]
                                  for i, c in enumerate([calls[0], stale, calls[2]])))

    assert done == [True, False, True]
    async with pg.sessions() as session:
        rows = {c.carrier_call_id: c.carrier_status for c in await session.scalars(select(Call))}
        keys = set(await session.scalars(select(CallEvent.dedupe_key)))
    assert rows == {"CA-s-1": "ringing", "CA-s-2": None, "CA-s-3": "ringing"}
    assert "status:ringing:1" not in keys and {"status:ringing:0", "status:ringing:2"} <= keys


async def test_a_warmed_up_store_holds_no_lock_that_blocks_a_migration(pg: Database) -> None:
    """The store connects at start-up; an idle connection must hold no table lock (a
    migration's ALTER TABLE, or a test's LOCK TABLE, would wait for the first call), and
    closing it mid-warm-up must leave nothing behind either."""
    admin = await asyncpg.connect(PgTurnStore(pg).dsn)
    try:
        await admin.execute("SET lock_timeout = '5s'")
        for pause in [1.0] + [i / 1000 for i in range(0, 60, 6)]:
            store = PgTurnStore(pg)
            store.start()
            await asyncio.sleep(pause)
            opened = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            async with admin.transaction():  # fails after 5 s if a lock is held
                await admin.execute("LOCK TABLE calls, customer_phones, service_jobs, surveys "
                                    "IN ACCESS EXCLUSIVE MODE")
            await store.close()
            if pause == 1.0:
                assert opened >= len(store.batchers)  # it did connect ahead of the first call
    finally:
        await admin.close()
