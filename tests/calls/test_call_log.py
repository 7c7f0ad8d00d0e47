"""The call log on both engines: idempotent starts, order-proof statuses, settled outcomes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, CallEvent, Contact
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import CallDisposition, Carrier, Direction
from crm.services import calls
from tests import factories

T0 = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)


def _start(call_id: str = "CA1", customer_id: int | None = None, direction: Direction = Direction.INBOUND) -> calls.StartCall:
    return calls.StartCall(Carrier.TWILIO, call_id, direction, "+8613800138000", "+864008001234", T0, customer_id)


async def _count(db: Database, model: type) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_same_call_started_twice_is_logged_once(db: Database) -> None:
    first, created = await calls.start_call(_start(), SqlUnitOfWork(db))
    again, created_again = await calls.start_call(_start(), SqlUnitOfWork(db))
    assert created and not created_again and first.id == again.id
    assert await _count(db, Call) == 1


async def test_two_processes_starting_the_same_call_at_once_make_one_row(db: Database) -> None:
    other = Database.open(db.url)
    try:
        results = await asyncio.gather(
            *(calls.start_call(_start("CA-race"), SqlUnitOfWork(d)) for d in (db, other, db, other))
        )
    finally:
        await other.close()
    assert len({call.id for call, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert await _count(db, Call) == 1


async def test_a_call_that_ends_in_the_ivr_is_ivr_only_and_on_the_customer_record(db: Database) -> None:
    customer = await factories.customer(db)
    call, _ = await calls.start_call(_start(customer_id=customer.id), SqlUnitOfWork(db))
    await calls.record_ivr_step(call.id, T0, "main", "1", "complaint", SqlUnitOfWork(db), seq=1)
    await calls.record_ivr_step(call.id, T0, "complaint_category", "2", "attitude", SqlUnitOfWork(db), seq=2)
    await calls.record_ivr_step(call.id, T0, "complaint_category", "2", "attitude", SqlUnitOfWork(db), seq=2)
    ended = await calls.end_call(call.id, T0 + timedelta(seconds=50), SqlUnitOfWork(db))
    assert ended.disposition == CallDisposition.IVR_ONLY
    assert ended.ivr_path == "main>complaint_category"
    await calls.end_call(call.id, T0 + timedelta(seconds=60), SqlUnitOfWork(db))
    assert await _count(db, Contact) == 1
    assert await _count(db, CallEvent) == 4  # started, 2 steps, ended


async def test_queued_then_hung_up_before_an_agent_is_an_abandon(db: Database) -> None:
    call, _ = await calls.start_call(_start(), SqlUnitOfWork(db))
    await calls.mark_queued(call.id, T0 + timedelta(seconds=20), "hotline-agents", SqlUnitOfWork(db))
    ended = await calls.end_call(call.id, T0 + timedelta(seconds=40), SqlUnitOfWork(db))
    assert ended.disposition == CallDisposition.ABANDONED


async def test_queued_and_answered_is_answered(db: Database) -> None:
    agent = await factories.staff(db, "agent-wu", ["agent"])
    call, _ = await calls.start_call(_start(), SqlUnitOfWork(db))
    await calls.mark_queued(call.id, T0 + timedelta(seconds=20), "hotline-agents", SqlUnitOfWork(db))
    await calls.mark_answered(call.id, T0 + timedelta(seconds=31), agent.id, SqlUnitOfWork(db))
    ended = await calls.end_call(call.id, T0 + timedelta(seconds=200), SqlUnitOfWork(db))
    assert ended.disposition == CallDisposition.ANSWERED and ended.agent_id == agent.id


async def test_status_callbacks_out_of_order_and_twice_leave_one_correct_state(db: Database) -> None:
    call, _ = await calls.start_call(_start("CA-out", direction=Direction.OUTBOUND), SqlUnitOfWork(db))
    for status, sec in (("ringing", 1), ("completed", 30), ("in-progress", 5), ("completed", 30), ("ringing", 1)):
        await calls.apply_carrier_status("twilio", "CA-out", status, T0 + timedelta(seconds=sec),
                                         SqlUnitOfWork(db), duration_s=25.0 if status == "completed" else None)
    final = await calls.get_call("twilio", "CA-out", SqlUnitOfWork(db))
    assert final.carrier_status == "completed" and final.status_rank == 4
    assert final.ended_at == T0 + timedelta(seconds=30)
    assert final.disposition == CallDisposition.NO_ANSWER  # never saw in-progress before completed


async def test_an_outbound_busy_call_is_busy(db: Database) -> None:
    await calls.start_call(_start("CA-busy", direction=Direction.OUTBOUND), SqlUnitOfWork(db))
    final = await calls.apply_carrier_status("twilio", "CA-busy", "busy", T0, SqlUnitOfWork(db))
    assert final.disposition == CallDisposition.BUSY


async def test_ivr_state_cannot_be_saved_from_a_stale_version(db: Database) -> None:
    call, _ = await calls.start_call(_start(), SqlUnitOfWork(db))
    version = await calls.save_ivr_state(call.id, '{"node": "main"}', call.ivr_version, SqlUnitOfWork(db))
    assert version == call.ivr_version + 1
    try:
        await calls.save_ivr_state(call.id, '{"node": "other"}', call.ivr_version, SqlUnitOfWork(db))
    except calls.StaleIvrState:
        pass
    else:
        raise AssertionError("a stale save must be refused")
    stored = await calls.get_call("twilio", "CA1", SqlUnitOfWork(db))
    assert stored.ivr_state == '{"node": "main"}'
