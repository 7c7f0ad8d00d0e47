"""The AMI call log writes in batches (issue 19): what one flush window decides is one
transaction, while the screen-pop hooks are called as their events arrive, once the
call's row is committed. A fake AMI on real TCP, both engines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, func, select

from callcenter.storage.engine import Database
from callcenter.storage.repositories.customers import SqlCustomerRepository, add_unknown_callers_pg
from callcenter.storage.tables import Call, CallEvent, Customer, CustomerPhone
from callcenter.telephony.asterisk.ami_protocol import AmiEvent
from tests.asterisk.conftest import back_office, until
from tests.asterisk.fake_ami import FakeAmi, message, recorded_events
from tests.asterisk.test_ami import QUEUE_CALL, ami_world  # noqa: F401  (the fixture)
from tests.asterisk.test_ami_hold import HELD_CALL

WINDOW = {"flush_interval_s": 60.0}  # nothing is written unless the test flushes


def count_commits(db: Database) -> list[int]:
    commits = [0]

    def on_commit(_conn: Any) -> None:
        commits[0] += 1

    event.listen(db.engine.sync_engine, "commit", on_commit)
    return commits


async def delivered_all(fake: FakeAmi, client: Any) -> list[AmiEvent]:
    """Wait until every event of the fake has gone through the listeners (the call log's
    first: it was attached before this one)."""
    seen: list[AmiEvent] = []

    async def note(item: AmiEvent) -> None:
        seen.append(item)

    client.on_event(None, note)
    await until(lambda: fake.cursor == len(fake.events) and len(seen) == len(fake.events))
    return seen


async def count(db: Database, table: Any) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def test_what_one_flush_window_decides_is_committed_in_one_transaction(
        db: Database, ami_world: Any) -> None:  # noqa: F811
    await back_office(db)
    commits = count_commits(db)
    fake, client, call_log = await ami_world(FakeAmi(recorded_events() + QUEUE_CALL), WINDOW)
    await delivered_all(fake, client)
    assert commits[0] == 0 and await count(db, Call) == 0, "nothing written inside the window"
    assert sorted(call_log.open_calls) == ["call-1", "call-2", "q-1"], "ended, not committed"
    await call_log.flush()
    assert commits[0] == 1
    assert await count(db, Call) == 3 and not call_log.open_calls
    async with db.sessions() as session:
        ended = await session.scalar(select(func.count()).select_from(CallEvent).where(
            CallEvent.kind == "ended"))
    assert ended == 3


async def test_the_screen_pop_offer_finds_the_calls_row_committed(
        db: Database, ami_world: Any) -> None:  # noqa: F811
    await back_office(db)
    found: list[int | None] = []

    async def offer(o: Any) -> None:  # as the screen-pop does: it reads the call row
        async with db.sessions() as session:
            found.append(await session.scalar(select(Call.id).where(
                Call.carrier_call_id == o.carrier_call_id)))

    fake, client, _ = await ami_world(FakeAmi(QUEUE_CALL), {**WINDOW, "offer_call": offer})
    await delivered_all(fake, client)
    assert len(found) == 1 and found[0] is not None


async def test_a_hold_reaches_the_screen_pop_without_waiting_for_the_flush_window(
        db: Database, ami_world: Any) -> None:  # noqa: F811
    await back_office(db)
    holds: list[tuple[str, bool]] = []

    async def held(_carrier: str, call_id: str, on_hold: bool, _at: Any) -> None:
        holds.append((call_id, on_hold))

    fake, client, call_log = await ami_world(FakeAmi(HELD_CALL), {**WINDOW, "call_held": held})
    await delivered_all(fake, client)  # within seconds; the window is a minute
    assert holds == [("q-1", True), ("q-1", False)]
    assert "q-1" in call_log.open_calls, "its end is still waiting for the flush"


def _call(linkedid: str, number: str, at: float) -> list[bytes]:
    def ev(name: str, t: float, *pairs: tuple[str, str]) -> bytes:
        return message(("Event", name), ("Timestamp", f"{t:.1f}"),
                       ("Channel", f"PJSIP/trunk-{linkedid}"), ("Uniqueid", linkedid),
                       ("Linkedid", linkedid), *pairs)

    return [ev("Newchannel", at, ("ChannelStateDesc", "Ring"), ("CallerIDNum", number),
               ("Exten", "4000")),
            ev("Hangup", at + 30, ("CallerIDNum", number), ("Cause-txt", "Normal Clearing")),
            message(("Event", "CEL"), ("Timestamp", f"{at + 30.5:.1f}"),
                    ("EventName", "LINKEDID_END"), ("UniqueID", linkedid), ("LinkedID", linkedid))]


async def test_a_new_number_calling_twice_in_one_window_makes_one_unverified_customer(
        db: Database, ami_world: Any) -> None:  # noqa: F811
    await back_office(db)
    customers_before = await count(db, Customer)
    stream = _call("n-1", "13700137000", 1795432900.0) + _call("n-2", "13700137000", 1795432905.0)
    fake, client, call_log = await ami_world(FakeAmi(stream), WINDOW)
    await delivered_all(fake, client)
    await call_log.flush()
    async with db.sessions() as session:
        owners = (await session.scalars(select(CustomerPhone.customer_id).where(
            CustomerPhone.e164 == "+8613700137000"))).all()
        callers = set((await session.scalars(select(Call.customer_id))).all())
    assert await count(db, Customer) == customers_before + 1
    assert len(owners) == 1 and callers == {owners[0]}


async def test_unknown_callers_made_in_one_batch_on_postgresql_are_the_orms_customers(
        pg_url: str) -> None:
    """The call log's PostgreSQL batch makes unknown callers' customers with its own
    statements: the same row as the ORM's (every default), and a number someone else
    owns goes to its owner, the customer made for it deleted again."""
    db = Database.open(pg_url)
    try:
        async with db.sessions() as session:
            taken = (await SqlCustomerRepository(session).add_unknown_callers(
                {"+8613700000001"}, "Asia/Shanghai"))["+8613700000001"]
            await session.commit()
        async with db.sessions() as session:
            connection = await session.connection()
            driver = (await connection.get_raw_connection()).driver_connection
            async with driver.transaction():  # type: ignore[union-attr]
                made = await add_unknown_callers_pg(
                    driver, {"+8613700000002", "+8613700000001"}, "Asia/Shanghai")
        async with db.sessions() as session:
            rows = {r.id: r for r in (await session.scalars(select(Customer))).all()}
            owners = dict((await session.execute(
                select(CustomerPhone.e164, CustomerPhone.customer_id))).all())
    finally:
        await db.close()
    assert made["+8613700000001"] == taken, "the number's owner, not a second customer"
    assert owners == made and set(rows) == {taken, made["+8613700000002"]}

    def columns(row: Customer) -> dict[str, object]:
        return {c.name: getattr(row, c.key) for c in Customer.__table__.columns
                if c.name not in ("id", "created_at", "updated_at")}

    assert columns(rows[made["+8613700000002"]]) == columns(rows[taken])
    assert rows[made["+8613700000002"]].created_at is not None
