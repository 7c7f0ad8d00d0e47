"""One webhook turn is one transaction: its round trips, its effects, and a lost race."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, func, select, update

from callcenter.clock import FixedClock
from callcenter.hotline.effects import CallContext
from callcenter.hotline.turns import HotlineDriver
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.joined_uow import JoinedUnitOfWork
from callcenter.storage.tables import Call, CallEvent, Survey
from callcenter.storage.turn_store_sql import SqlTurnStore
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import Carrier, Direction
from crm.services import calls as call_log
from ivr import actions as act
from ivr import events as ev
from tests.hotline.test_driver import CALLER, _setup

SURVEY_UP_TO_CONFIRM = ["2", "1", "2", "1"]  # survey; A, B, A: the next "1" saves it


@contextmanager
def sql_sent(db: Database) -> Iterator[Counter[str]]:
    """What the engine sends while the block runs: statements by verb, begins, commits."""
    seen: Counter[str] = Counter()

    def statement(_conn: object, _cursor: object, sql: str, *_rest: object) -> None:
        seen[sql.split(None, 1)[0].upper()] += 1

    def begin(_conn: object) -> None:
        seen["begin"] += 1

    def commit(_conn: object) -> None:
        seen["commit"] += 1

    sync = db.engine.sync_engine
    listeners = [("before_cursor_execute", statement), ("begin", begin), ("commit", commit)]
    for name, fn in listeners:
        event.listen(sync, name, fn)
    try:
        yield seen
    finally:
        for name, fn in listeners:
            event.remove(sync, name, fn)


async def _surveys(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Survey)) or 0)


async def test_a_menu_key_is_one_transaction_of_three_statements(
        db: Database, settings: Settings, clock: FixedClock) -> None:
    await _setup(db)
    driver = HotlineDriver(SqlTurnStore(db), settings, clock)
    first = await driver.begin(Carrier.TWILIO, "CA-rt", from_number=CALLER, to_number=None)
    with sql_sent(db) as seen:
        await driver.feed(Carrier.TWILIO, "CA-rt", ev.Digits("9"), expected_version=first.version)
    # read the call, write state + version + path, write the steps: nothing else
    assert (seen["begin"], seen["commit"]) == (1, 1)
    assert (seen["SELECT"], seen["UPDATE"], seen["INSERT"]) == (1, 1, 1)
    assert sum(seen.values()) - seen["begin"] - seen["commit"] == 3


async def test_a_call_is_logged_and_started_in_one_transaction(
        db: Database, settings: Settings, clock: FixedClock) -> None:
    await _setup(db)
    driver = HotlineDriver(SqlTurnStore(db), settings, clock)
    with sql_sent(db) as seen:
        await driver.begin(Carrier.TWILIO, "CA-start", from_number=CALLER, to_number=None)
    assert (seen["begin"], seen["commit"]) == (1, 1)
    async with db.sessions() as session:
        kinds = list(await session.scalars(select(CallEvent.kind).order_by(CallEvent.id)))
    assert kinds[0] == "started" and kinds.count("started") == 1 and "ivr_step" in kinds


class _OvertakenDriver(HotlineDriver):
    """Another process advances the call right after this one stored the survey."""

    def __init__(self, db: Database, settings: Settings, clock: FixedClock) -> None:
        super().__init__(SqlTurnStore(db), settings, clock)
        self.db = db

    async def _perform(self, scope: Any, ctx: CallContext,
                       effect: act.Effect) -> ev.Event | None:
        result = await super()._perform(scope, ctx, effect)
        if isinstance(effect, act.SaveSurvey):
            async with self.db.engine.begin() as other_process:
                await other_process.execute(update(Call).where(Call.id == ctx.call.id)
                                            .values(ivr_version=Call.ivr_version + 1))
        return result


async def test_a_turn_that_loses_the_race_leaves_no_survey_behind(
        pg_url: str, settings: Settings, clock: FixedClock) -> None:
    db = Database.open(pg_url)
    try:
        await _setup(db)
        plain = HotlineDriver(SqlTurnStore(db), settings, clock)
        turn = await plain.begin(Carrier.TWILIO, "CA-race", from_number=CALLER, to_number=None)
        for key in SURVEY_UP_TO_CONFIRM:
            turn = await plain.feed(Carrier.TWILIO, "CA-race", ev.Digits(key),
                                    expected_version=turn.version)
        overtaken = _OvertakenDriver(db, settings, clock)
        with pytest.raises(call_log.StaleIvrState):
            await overtaken.feed(Carrier.TWILIO, "CA-race", ev.Digits("1"),
                                 expected_version=turn.version)
        assert await _surveys(db) == 0
    finally:
        await db.close()


async def test_a_failed_use_case_inside_a_turn_is_undone_and_the_turn_goes_on(
        db: Database, clock: FixedClock) -> None:
    now = clock()
    call, _ = await call_log.start_call(call_log.StartCall(
        Carrier.TWILIO, "CA-joined", Direction.INBOUND, CALLER, None, now), SqlUnitOfWork(db))
    async with SqlUnitOfWork(db) as turn:
        with pytest.raises(RuntimeError):
            async with JoinedUnitOfWork(turn) as effect:
                await effect.calls.add_event(call.id, call_log.CallEventIn(now, "doomed"))
                raise RuntimeError("the effect failed half way")
        await turn.calls.add_event(call.id, call_log.CallEventIn(now, "kept"))
        await turn.commit()
    async with db.sessions() as session:
        kinds = set(await session.scalars(select(CallEvent.kind)))
    assert "kept" in kinds and "doomed" not in kinds


async def test_a_committed_use_case_is_undone_with_its_turn(db: Database, clock: FixedClock) -> None:
    now = clock()
    call, _ = await call_log.start_call(call_log.StartCall(
        Carrier.TWILIO, "CA-joined-2", Direction.INBOUND, CALLER, None, now), SqlUnitOfWork(db))
    async with SqlUnitOfWork(db) as turn:
        async with JoinedUnitOfWork(turn) as effect:
            await effect.calls.add_event(call.id, call_log.CallEventIn(now, "effect"))
            await effect.commit()
        # the turn's own save fails (stale state): leaving without commit rolls back all
    async with db.sessions() as session:
        kinds = set(await session.scalars(select(CallEvent.kind)))
    assert "effect" not in kinds


async def test_a_dropped_database_connection_between_two_keys_costs_the_caller_nothing(
        pg_url: str, settings: Settings, clock: FixedClock) -> None:
    db = Database.open(pg_url)
    try:
        await _setup(db)
        driver = HotlineDriver(SqlTurnStore(db), settings, clock)
        first = await driver.begin(Carrier.TWILIO, "CA-cut", from_number=CALLER, to_number=None)
        admin = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:  # what a server restart does to the pooled connections
            cut = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        finally:
            await admin.close()
        assert cut >= 1
        turn = await driver.feed(Carrier.TWILIO, "CA-cut", ev.Digits("2"),
                                 expected_version=first.version)
        assert turn.version == first.version + 1 and not turn.replayed
    finally:
        await db.close()
