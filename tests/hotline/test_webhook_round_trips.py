"""What each webhook of a known caller costs PostgreSQL, counted on the wire (`tests.pg_wire`):
one round trip and one commit each, the state committed before the answer; and what a
wrong guess costs (another process moved the call on, a caller of another kind): a
second statement, the right answer, and nothing wrong written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from callcenter.clock import FixedClock
from callcenter.hotline.turns import HotlineDriver, Turn
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, CallEvent, Customer, Survey
from callcenter.storage.turn_store_pg import PgTurnStore
from crm.enums import Carrier
from ivr import events as ev
from tests import factories
from tests.hotline.test_driver import CALLER, _setup
from tests.pg_wire import Counts, WireCounter

SURVEY = ["2", "1", "2", "1", "1", "2"]  # survey; A, B, A; confirm; goodbye
ONE = Counts(round_trips=1, commits=1)


@dataclass
class Service:
    """One service process: its store and driver, its database reached through the counter."""

    db: Database
    store: PgTurnStore
    driver: HotlineDriver


@pytest.fixture
async def wire() -> AsyncIterator[WireCounter]:
    counter = WireCounter()
    await counter.start()
    yield counter
    await counter.close()


def _settings(url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=url, job_loop_enabled=False, fastagi_enabled=False,  # type: ignore[arg-type]
                    ami_enabled=False, ivr_fast_path=True, log_json=False,
                    reports_dir=tmp_path / "reports", opening_hours="00:00-23:59")  # type: ignore[arg-type]


@pytest.fixture
async def services(pg_url: str, wire: WireCounter, tmp_path: Path,
                   clock: FixedClock) -> AsyncIterator[list[Service]]:
    """Two service processes on one database, both through the counter."""
    assert wire._server is not None
    port = wire._server.sockets[0].getsockname()[1]
    url = make_url(pg_url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    made = []
    for _ in range(2):
        db = Database.open(url)
        store = PgTurnStore(db)
        made.append(Service(db, store, HotlineDriver(store, _settings(url, tmp_path), clock)))
    await _setup(made[0].db)
    yield made
    for service in made:
        await service.store.close()
        await service.db.close()


async def _webhooks(service: Service, wire: WireCounter, sid: str, number: str = CALLER,
                    ) -> tuple[list[Turn], list[tuple[str, Counts]]]:
    """A whole survey call and its status callback: the turns, and each webhook's cost."""
    driver, costs, turns = service.driver, [], []

    async def counted(name: str, webhook: object) -> object:
        before = wire.snapshot()
        result = await webhook  # type: ignore[misc]
        costs.append((name, wire.snapshot() - before))
        return result

    turns.append(await counted("voice", driver.begin(  # type: ignore[arg-type]
        Carrier.TWILIO, sid, from_number=number, to_number="+864008001234")))
    for key in SURVEY:
        turns.append(await counted(f"gather?v={turns[-1].version}", driver.feed(  # type: ignore[arg-type]
            Carrier.TWILIO, sid, ev.Digits(key), expected_version=turns[-1].version)))
    await counted("status", driver.carrier_status(Carrier.TWILIO, sid, "completed",
                                                  duration_s=42.0))
    return turns, costs


async def _stored(db: Database, sid: str) -> tuple[object, ...]:
    async with db.sessions() as session:
        call = await session.scalar(select(Call).where(Call.carrier_call_id == sid))
        assert call is not None
        keys = list(await session.scalars(select(CallEvent.dedupe_key).where(
            CallEvent.call_id == call.id).order_by(CallEvent.id)))
        return call.ivr_version, call.ivr_state, call.ivr_path, keys


async def test_every_webhook_of_a_known_callers_survey_is_one_round_trip_and_one_commit(
        services: list[Service], wire: WireCounter) -> None:
    service = services[0]
    await _webhooks(service, wire, "CA-warm")  # fresh connections prepare their statements

    turns, costs = await _webhooks(service, wire, "CA-counted")

    assert costs == [(name, ONE) for name, _cost in costs], costs
    assert [name for name, _cost in costs] == [
        "voice", *(f"gather?v={v}" for v in range(1, 7)), "status"]
    assert turns[-1].ended
    async with service.db.sessions() as session:
        surveys = list(await session.scalars(select(Survey).order_by(Survey.id)))
        call = await session.scalar(select(Call).where(Call.carrier_call_id == "CA-counted"))
    assert len(surveys) == 2 and surveys[-1].call_id == call.id if call else False
    assert (surveys[-1].timeliness, surveys[-1].quality, surveys[-1].attitude,
            surveys[-1].verification) == ("A", "B", "A", "first_hand")
    assert call is not None and call.ended_at is not None and call.disposition == "ivr_only"


async def test_the_call_a_process_remembers_is_the_call_as_stored_after_every_webhook(
        services: list[Service]) -> None:
    service = services[0]
    driver = service.driver
    turns = [await driver.begin(Carrier.TWILIO, "CA-same", from_number=CALLER,
                                to_number="+864008001234")]
    for key in SURVEY[:-1]:
        assert driver.recent.get("twilio", "CA-same") == \
            await service.store.load("twilio", "CA-same")
        turns.append(await driver.feed(Carrier.TWILIO, "CA-same", ev.Digits(key),
                                       expected_version=turns[-1].version))
    await driver.carrier_status(Carrier.TWILIO, "CA-same", "ringing")
    assert driver.recent.get("twilio", "CA-same") == await service.store.load("twilio", "CA-same")


async def test_a_call_another_process_moved_on_costs_a_read_and_gets_the_stored_step(
        services: list[Service], wire: WireCounter) -> None:
    """Twilio retried a key and the retry reached another process, which stored it: the
    process that remembers the call at the version before loses its write (nothing is
    written), reads the call, and answers with the step the other one stored."""
    mine, other = services
    await _webhooks(mine, wire, "CA-warm")
    await _webhooks(other, wire, "CA-warm-2")
    first = await mine.driver.begin(Carrier.TWILIO, "CA-race", from_number=CALLER,
                                    to_number="+864008001234")
    theirs = await other.driver.feed(Carrier.TWILIO, "CA-race", ev.Digits("2"),
                                     expected_version=first.version)
    stored = await _stored(mine.db, "CA-race")
    before = wire.snapshot()

    again = await mine.driver.feed(Carrier.TWILIO, "CA-race", ev.Digits("2"),
                                   expected_version=first.version)
    cost = wire.snapshot() - before

    assert again.replayed and again.media == theirs.media and again.version == theirs.version
    assert await _stored(mine.db, "CA-race") == stored
    # the refused save (its own transaction, nothing written), then the read
    assert cost == Counts(round_trips=2, commits=2)
    # the next key, at the version the other process stored, is read once and then known
    nxt = await mine.driver.feed(Carrier.TWILIO, "CA-race", ev.Digits("1"),
                                 expected_version=theirs.version)
    assert not nxt.replayed and nxt.version == theirs.version + 1
    before = wire.snapshot()
    await mine.driver.feed(Carrier.TWILIO, "CA-race", ev.Digits("2"),
                           expected_version=nxt.version)
    assert wire.snapshot() - before == ONE


async def test_a_caller_of_another_kind_than_the_last_costs_one_more_statement(
        services: list[Service], wire: WireCounter) -> None:
    """The first turn is run for the kind of caller seen last (verified, language, zone):
    an English caller after a Chinese one is found by the statement that would have logged
    the call, which writes nothing; their call is then logged with an English first turn."""
    service = services[0]
    await _webhooks(service, wire, "CA-warm")
    english = "+8613900139000"
    await factories.customer(service.db, "Ann", (english,), language="en")

    before = wire.snapshot()
    first = await service.driver.begin(Carrier.TWILIO, "CA-en", from_number=english,
                                       to_number="+864008001234")
    cost = wire.snapshot() - before
    before = wire.snapshot()
    second = await service.driver.begin(Carrier.TWILIO, "CA-en-2", from_number=english,
                                        to_number="+864008001234")

    assert cost == Counts(round_trips=2, commits=2)
    assert wire.snapshot() - before == ONE  # the next English caller is the kind expected
    assert first.language == second.language == "en" and not first.replayed
    async with service.db.sessions() as session:
        calls = {c.carrier_call_id: c for c in await session.scalars(select(Call))}
        ann = await session.scalar(select(Customer).where(Customer.name == "Ann"))
    assert ann is not None
    assert calls["CA-en"].customer_id == calls["CA-en-2"].customer_id == ann.id
    assert calls["CA-en"].language == "en" and calls["CA-en"].ivr_version == 1


async def test_the_sql_store_serves_a_remembered_call_without_reading_it(
        db: Database, settings: Settings, clock: FixedClock) -> None:
    """SQLite and PostgreSQL through SQLAlchemy, batching: a menu key and a status callback
    of a call this process stored are each one transaction of writes, with no read."""
    from callcenter.storage.turn_store_sql import BATCHABLE, SqlTurnStore
    from tests.hotline.test_turn_transaction import sql_sent

    await _setup(db)
    driver = HotlineDriver(SqlTurnStore(db, batches=BATCHABLE), settings, clock)
    first = await driver.begin(Carrier.TWILIO, "CA-sql", from_number=CALLER,
                               to_number="+864008001234")

    with sql_sent(db) as key:
        turn = await driver.feed(Carrier.TWILIO, "CA-sql", ev.Digits("9"),
                                 expected_version=first.version)
    with sql_sent(db) as status:
        await driver.carrier_status(Carrier.TWILIO, "CA-sql", "ringing")

    assert turn.version == first.version + 1 and not turn.replayed
    assert (key["SELECT"], key["UPDATE"], key["INSERT"], key["commit"]) == (0, 1, 1, 1)
    assert (status["SELECT"], status["UPDATE"], status["commit"]) == (0, 1, 1)
    assert driver.recent.get("twilio", "CA-sql") == \
        await SqlTurnStore(db).load("twilio", "CA-sql")
