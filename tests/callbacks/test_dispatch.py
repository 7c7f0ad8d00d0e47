"""One dispatcher, in process, on both engines: exactly once, retries, lost claims, pacing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from callcenter.callbacks.loop import Dispatcher
from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from callcenter.storage.tables import Campaign, DoNotCall
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import CallbackKind, CallbackState, DialOutcome
from crm.services.callback_dispatch import DispatchConfig
from crm.services.callbacks import past_deadline, record_dial_result
from tests import factories
from tests.callbacks import builders
from tests.callbacks.fake_carrier import ScriptedCarrier

Uow = Callable[[], SqlUnitOfWork]
S = CallbackState


def dispatcher(db: Database, carrier: ScriptedCarrier, clock: FixedClock, **kw: object) -> Dispatcher:
    config = DispatchConfig(**{"worker": "w1", "batch": 10, **kw})  # type: ignore[arg-type]
    return Dispatcher(db, carrier, config, clock=clock)


async def drain(d: Dispatcher) -> int:
    sent = 0
    while n := await d.dispatch():
        sent += n
    return sent


async def state_of(uow: Uow, callback_id: int) -> S:
    async with uow() as u:
        cb = await u.callbacks.get(callback_id)
        assert cb is not None
        return cb.state


async def test_every_due_callback_is_dialled_exactly_once(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    made = [await builders.new_callback(uow(), phone=f"+861380013{i:04d}", due=clock())
            for i in range(25)]
    carrier = ScriptedCarrier()
    d = dispatcher(db, carrier, clock)
    assert await drain(d) == 25
    assert sorted(r.callback_id for r in carrier.dials) == sorted(cb.id for cb in made)
    assert await drain(d) == 0
    assert {await state_of(uow, cb.id) for cb in made} == {S.DIALING}


async def test_the_attempt_is_committed_as_dialing_before_the_carrier_hears_of_it(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    cb = await builders.new_callback(uow(), due=clock())
    seen: list[tuple[S, str | None]] = []

    class Peeking(ScriptedCarrier):
        async def dial(self, req):  # type: ignore[no-untyped-def]
            async with uow() as u:  # a separate connection: sees only committed rows
                row = await u.callbacks.get(cb.id)
                attempt = await u.callbacks.attempt(req.attempt_id)
            assert row is not None and attempt is not None
            seen.append((row.state, row.current_attempt_id))
            return await super().dial(req)

    carrier = Peeking()
    await drain(dispatcher(db, carrier, clock))
    assert seen == [(S.DIALING, carrier.dials[0].attempt_id)]


async def test_major_complaint_follow_up_is_dialled_before_a_campaign_call(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    await builders.new_callback(uow(), phone="+8613800000001", due=clock(), priority=3)
    major = await builders.new_callback(uow(), phone="+8613800000002", due=clock(), priority=0,
                                        kind=CallbackKind.COMPLAINT_FOLLOWUP)
    carrier = ScriptedCarrier()
    await dispatcher(db, carrier, clock, batch=1).dispatch()
    assert [r.callback_id for r in carrier.dials] == [major.id]


async def test_busy_line_is_retried_after_the_backoff_then_given_up(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    cb = await builders.new_callback(uow(), due=clock(), deadline=clock() + timedelta(days=3))
    carrier = ScriptedCarrier()
    d = dispatcher(db, carrier, clock)
    waits = []
    for _ in range(3):
        await drain(d)
        result = await record_dial_result(carrier.dials[-1].attempt_id, DialOutcome.BUSY, None,
                                          uow(), clock)
        async with uow() as u:
            row = await u.callbacks.get(cb.id)
        assert row is not None
        waits.append(row.next_attempt_at - clock())
        if result is S.RETRY_WAIT:
            clock.now = row.next_attempt_at
            assert await drain(d) == 0  # still retry_wait until a sweep promotes it
            await d.sweep()
    assert result is S.FAILED
    assert waits[:2] == [timedelta(minutes=15), timedelta(hours=2)]
    assert len(carrier.dials) == 3


async def test_same_result_twice_or_late_changes_nothing(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    cb = await builders.new_callback(uow(), due=clock())
    carrier = ScriptedCarrier()
    await drain(dispatcher(db, carrier, clock))
    attempt = carrier.dials[0].attempt_id
    assert await record_dial_result(attempt, DialOutcome.ANSWERED, "CA1", uow(), clock) is S.IN_CALL
    assert await record_dial_result(attempt, DialOutcome.ANSWERED, "CA1", uow(), clock) is None
    assert await record_dial_result(attempt, DialOutcome.BUSY, "CA1", uow(), clock) is None
    assert await state_of(uow, cb.id) is S.IN_CALL


async def test_worker_lost_mid_dial_is_settled_from_the_carrier_record_not_redialled(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    cb = await builders.new_callback(uow(), due=clock())
    carrier = ScriptedCarrier()
    carrier.will("+8613800138000", [DialOutcome.ANSWERED])
    d = dispatcher(db, carrier, clock)
    await drain(d)  # dialled, then the worker "dies": no report ever arrives
    clock.advance(seconds=121)
    await d.sweep()
    assert await state_of(uow, cb.id) is S.COMPLETED
    assert await drain(d) == 0
    assert len(carrier.dials) == 1


async def test_dial_that_never_reached_the_carrier_is_scheduled_again_and_dialled_once(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    cb = await builders.new_callback(uow(), due=clock())
    carrier = ScriptedCarrier()
    d = dispatcher(db, carrier, clock)
    await drain(d)
    carrier.records.clear()  # as if the process died between the commit and the dial
    clock.advance(seconds=121)
    await d.sweep()  # dialing -> unknown -> carrier has nothing -> retry_wait (attempt not counted)
    await d.sweep()  # retry due now -> scheduled
    assert await drain(d) == 1
    async with uow() as u:
        row = await u.callbacks.get(cb.id)
        attempts = await u.callbacks.attempts_of(cb.id)
    assert row is not None and row.attempts == 1
    assert [a.result for a in attempts] == ["not_placed", None]


async def test_number_put_on_the_dnc_list_after_scheduling_is_never_dialled(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    cb = await builders.new_callback(uow(), due=clock())
    await factories.add(db, DoNotCall(e164=cb.phone))
    carrier = ScriptedCarrier()
    await drain(dispatcher(db, carrier, clock))
    assert carrier.dials == []
    async with uow() as u:
        row = await u.callbacks.get(cb.id)
    assert row is not None and (row.state, row.disposition) == (S.CANCELLED, "do_not_call")


async def test_customer_flagged_do_not_call_is_never_dialled(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    customer = await factories.customer(db, phones=("+8613900139000",), do_not_call=True)
    await builders.new_callback(uow(), phone="+8613900139000", due=clock())
    await builders.new_callback(uow(), phone="+8613700137000", due=clock(), key="other",
                                customer_id=customer.id)
    carrier = ScriptedCarrier()
    await drain(dispatcher(db, carrier, clock))
    assert carrier.dials == []


async def test_campaign_never_has_more_calls_than_its_pacing(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    (campaign,) = await factories.add(db, Campaign(name="spring", flow="campaign",
                                                   max_concurrent=2))
    for i in range(5):
        await builders.new_callback(uow(), phone=f"+861380000{i:04d}", due=clock(), priority=3,
                                    kind=CallbackKind.CAMPAIGN, campaign_id=campaign.id)
    carrier = ScriptedCarrier()
    d = dispatcher(db, carrier, clock)
    assert await drain(d) == 2
    await record_dial_result(carrier.dials[0].attempt_id, DialOutcome.NO_ANSWER, None, uow(), clock)
    assert await drain(d) == 1


async def test_callback_past_its_deadline_is_reported_and_expired(
    db: Database, uow: Uow, clock: FixedClock
) -> None:
    late = await builders.new_callback(uow(), due=clock() - timedelta(days=4),
                                       deadline=clock() - timedelta(days=1))
    await builders.new_callback(uow(), phone="+8613800000009", due=clock(),
                                deadline=clock() + timedelta(days=1))
    assert [cb.id for cb in await past_deadline(uow(), clock)] == [late.id]
    await dispatcher(db, ScriptedCarrier(), clock).sweep()
    assert await state_of(uow, late.id) is S.EXPIRED
    assert [cb.id for cb in await past_deadline(uow(), clock)] == [late.id]


async def test_three_day_deadline_expires_an_unreached_post_repair_callback(
    db: Database, uow: Uow
) -> None:
    clock = FixedClock(datetime(2026, 5, 20, 11, 0, tzinfo=UTC))  # 19:00 Shanghai, day 3
    await builders.new_callback(uow(), due=clock(), deadline=clock() + timedelta(hours=1))
    carrier = ScriptedCarrier()
    d = dispatcher(db, carrier, clock)
    await drain(d)
    # no answer: the next try (15 min later) is still before the deadline + grace
    assert await record_dial_result(carrier.dials[0].attempt_id, DialOutcome.NO_ANSWER, None,
                                    uow(), clock) is S.RETRY_WAIT
    clock.advance(minutes=15)
    await d.sweep()
    await drain(d)
    # second no answer: the next try would be 2 h later, past deadline + 1 h grace
    assert await record_dial_result(carrier.dials[1].attempt_id, DialOutcome.NO_ANSWER, None,
                                    uow(), clock) is S.EXPIRED
