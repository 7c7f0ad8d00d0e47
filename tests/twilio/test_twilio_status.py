"""Status callbacks: the same one twice, or out of order, leaves one correct state."""

from __future__ import annotations

from sqlalchemy import func, select

from callcenter.demo.simulated_twilio import SimulatedCaller
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, CallEvent, Contact, Survey
from callcenter.telephony.twilio import callback_flow_url
from crm.enums import CallDisposition
from tests.twilio.conftest import CALLER, Hotline, NewCaller


async def _call(db: Database) -> Call:
    async with db.sessions() as session:
        call = await session.scalar(select(Call))
    assert call is not None
    return call


async def _events(db: Database, kind: str) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(
            select(func.count()).select_from(CallEvent).where(CallEvent.kind == kind)) or 0)


async def test_duplicate_and_late_status_callbacks_leave_one_ended_call(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    sim = caller()
    await sim.call(["2", "1", "1", "1", "1", "2"], send_status=False)
    for status, duration in (("completed", 45), ("ringing", None), ("completed", 45),
                             ("in-progress", None), ("completed", 45)):
        answer = await sim.status(status, duration_s=duration)
        assert answer.status == 200
    call = await _call(db)
    assert call.carrier_status == "completed" and call.status_rank == 4
    assert call.disposition == CallDisposition.IVR_ONLY and call.duration_s == 45
    assert await _events(db, "ended") == 1
    assert await _events(db, "status") == 3  # completed, ringing, in-progress: each once
    async with db.sessions() as session:
        contacts = int(await session.scalar(select(func.count()).select_from(Contact)) or 0)
    assert contacts == 1


async def test_a_status_callback_before_the_last_keys_keeps_the_partial_survey_once(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    sim = caller()
    first = await sim.call(["2", "1"], send_status=False)
    await sim.status("completed", duration_s=20)
    late = await sim.post(_gather_action(first.exchanges[-1].body), sim.params(Digits="3"))
    await sim.status("completed", duration_s=20)
    assert late.status == 200
    async with db.sessions() as session:
        surveys = list(await session.scalars(select(Survey)))
    assert len(surveys) == 1 and surveys[0].complete is False
    assert (surveys[0].timeliness, surveys[0].quality) == ("A", None)


async def test_a_status_for_a_call_we_never_saw_is_a_404_and_writes_nothing(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    answer = await caller().status("completed", duration_s=3)
    assert answer.status == 404
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Call)) == 0


async def test_an_unknown_call_status_is_refused_with_422(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    sim = caller()
    await sim.call(["2"], send_status=False)
    answer = await sim.status("teleported")
    assert answer.status == 422
    assert (await _call(db)).carrier_status is None


async def test_an_answered_callback_call_runs_the_flow_for_its_attempt(
    db: Database, hotline: Hotline, caller: NewCaller, served,  # type: ignore[no-untyped-def]
) -> None:
    sim: SimulatedCaller = caller(from_number="+864008001234", to_number=CALLER)
    url = callback_flow_url(served.settings, "hotline", "attempt-7")
    first = await sim.post(url, sim.params(Direction="outbound-api", CallStatus="in-progress"))
    assert first.status == 200 and "<Gather" in first.body
    await sim.status("in-progress")
    await sim.status("completed", duration_s=30)
    call = await _call(db)
    assert call.direction == "outbound" and call.callback_attempt_id == "attempt-7"
    assert call.customer_id == hotline.customer_id
    assert call.disposition == CallDisposition.ANSWERED


async def test_a_callback_flow_that_does_not_exist_is_refused(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    sim = caller()
    answer = await sim.post("/twilio/callback-flow?flow=nope&attempt=a", sim.params())
    assert answer.status == 422


def _gather_action(twiml: str) -> str:
    import xml.etree.ElementTree as ET

    gather = ET.fromstring(twiml).find("Gather")
    assert gather is not None, twiml
    return gather.attrib["action"]


async def _dialing_attempt(db: Database, clock) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """A scheduled callback the real dispatcher has just dialled: (callback id, attempt id)."""
    from callcenter.callbacks.loop import Dispatcher
    from callcenter.storage.uow import SqlUnitOfWork
    from crm.services.callback_dispatch import DispatchConfig
    from tests.callbacks import builders
    from tests.callbacks.fake_carrier import ScriptedCarrier

    made = await builders.new_callback(SqlUnitOfWork(db), phone=CALLER, due=clock())
    carrier = ScriptedCarrier()
    await Dispatcher(db, carrier, DispatchConfig(worker="w1", batch=1), clock=clock).dispatch()
    (dialled,) = carrier.dials
    return made.id, dialled.attempt_id


async def test_a_busy_callback_call_settles_its_attempt_for_a_retry(
    db: Database, hotline: Hotline, caller: NewCaller, clock,  # type: ignore[no-untyped-def]
) -> None:
    callback_id, attempt = await _dialing_attempt(db, clock)
    sim = caller(from_number="+864008001234", to_number=CALLER)
    answer = await sim.post(f"/twilio/status?attempt={attempt}",
                            sim.params(CallStatus="busy", Direction="outbound-api"))
    again = await sim.post(f"/twilio/status?attempt={attempt}",
                           sim.params(CallStatus="busy", Direction="outbound-api"))
    assert answer.status == 200 and again.status == 200
    async with db.sessions() as session:
        from callcenter.storage.tables import Callback

        callback = await session.get(Callback, callback_id)
    assert callback is not None and callback.state == "retry_wait" and callback.attempts == 1


async def test_an_answered_callback_call_completes_its_callback_when_it_ends(
    db: Database, hotline: Hotline, caller: NewCaller, served, clock,  # type: ignore[no-untyped-def]
) -> None:
    callback_id, attempt = await _dialing_attempt(db, clock)
    sim: SimulatedCaller = caller(from_number="+864008001234", to_number=CALLER)
    first = await sim.post(callback_flow_url(served.settings, "hotline", attempt),
                           sim.params(Direction="outbound-api"))
    assert first.status == 200
    for status in ("in-progress", "completed"):
        answer = await sim.post(f"/twilio/status?attempt={attempt}",
                                sim.params(CallStatus=status, Direction="outbound-api",
                                           CallDuration="30"))
        assert answer.status == 200
    async with db.sessions() as session:
        from callcenter.storage.tables import Callback

        callback = await session.get(Callback, callback_id)
        call = await session.scalar(select(Call))
    assert callback is not None and callback.state == "completed"
    assert call is not None and call.callback_attempt_id == attempt
