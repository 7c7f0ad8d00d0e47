"""The carrier-neutral hotline driver on both engines: what a caller's keys leave in the database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from callcenter.clock import FixedClock
from callcenter.hotline.turns import HotlineDriver, Turn
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, Callback, CallEvent, Complaint, Customer, Survey
from callcenter.storage.turn_store_sql import SqlTurnStore
from crm.enums import CallDisposition, Carrier
from ivr import actions as act
from ivr import events as ev
from tests import factories

CALLER = "+8613800138000"
RECORDED = ev.RecordingDone("https://api.twilio.com/rec/RE1", 12)


async def _setup(db: Database) -> None:
    dep = await factories.department(db, "SVC")
    head = await factories.staff(db, "svc-head", ["manager"], dep.id)
    async with db.sessions() as session:
        from callcenter.storage.tables import Department

        row = await session.get(Department, dep.id)
        assert row is not None
        row.manager_id = head.id
        await session.commit()
    tech = await factories.staff(db, "tech-li", ["technician"], dep.id)
    customer = await factories.customer(db, "张三", (CALLER,), department_id=dep.id)
    await factories.job(db, customer.id, "J-1", technician_id=tech.id, department_id=dep.id,
                        completed_at=datetime(2026, 5, 17, 8, tzinfo=UTC))


async def _call(driver: HotlineDriver, call_id: str, inputs: list[object], caller: str = CALLER) -> list[Turn]:
    turns = [await driver.begin(Carrier.TWILIO, call_id, from_number=caller, to_number="+864008001234")]
    for item in inputs:
        if item == "HANGUP":
            await driver.hangup(Carrier.TWILIO, call_id)
            break
        event = ev.Digits(item) if isinstance(item, str) else item
        turns.append(await driver.feed(Carrier.TWILIO, call_id, event, expected_version=turns[-1].version))  # type: ignore[arg-type]
    return turns


async def _count(db: Database, model: type) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_full_survey_is_stored_first_hand_against_the_job(db: Database, settings: Settings, clock: FixedClock) -> None:
    await _setup(db)
    driver = HotlineDriver(SqlTurnStore(db), settings, clock)
    await _call(driver, "CA-survey", ["2", "1", "2", "1", "1", "HANGUP"])
    async with db.sessions() as session:
        survey = await session.scalar(select(Survey))
        call = await session.scalar(select(Call))
    assert survey is not None and survey.complete and survey.source == "ivr"
    assert (survey.timeliness, survey.quality, survey.attitude) == ("A", "B", "A")
    assert survey.verification == "first_hand"
    assert call is not None and call.disposition == CallDisposition.IVR_ONLY
    assert call.ivr_path and ">survey_confirm>survey_save" in call.ivr_path


async def test_a_full_complaint_reads_the_ticket_back_digit_by_digit(db: Database, settings: Settings, clock: FixedClock) -> None:
    await _setup(db)
    driver = HotlineDriver(SqlTurnStore(db), settings, clock)
    turns = await _call(driver, "CA-complaint", ["1", "2", RECORDED])
    async with db.sessions() as session:
        complaint = await session.scalar(select(Complaint))
    assert complaint is not None and complaint.category == "attitude" and complaint.channel == "phone_ivr"
    assert complaint.recording_url == RECORDED.url_or_path
    assert complaint.owner_id is not None
    read_back = [m for m in turns[-1].media if isinstance(m, act.SayDigits)]
    assert read_back and read_back[0].digits == complaint.ticket


async def test_hanging_up_after_the_category_still_files_the_complaint(db: Database, settings: Settings, clock: FixedClock) -> None:
    await _setup(db)
    driver = HotlineDriver(SqlTurnStore(db), settings, clock)
    await _call(driver, "CA-partial", ["1", "4", "HANGUP"])
    async with db.sessions() as session:
        complaint = await session.scalar(select(Complaint))
        call = await session.scalar(select(Call))
    assert complaint is not None and complaint.category == "billing" and complaint.recording_url is None
    assert call is not None and call.ended_at is not None


async def test_an_unknown_caller_gets_an_unverified_customer(db: Database, settings: Settings, clock: FixedClock) -> None:
    await _setup(db)
    driver = HotlineDriver(SqlTurnStore(db), settings, clock)
    await _call(driver, "CA-new", ["1", "5", RECORDED], caller="13912340000")
    async with db.sessions() as session:
        newcomer = await session.scalar(select(Customer).where(Customer.verified.is_(False)))
        complaint = await session.scalar(select(Complaint))
    assert newcomer is not None
    assert complaint is not None and complaint.customer_id == newcomer.id


async def test_a_callback_request_is_stored_pending_in_the_chosen_window(db: Database, settings: Settings, clock: FixedClock) -> None:
    await _setup(db)
    driver = HotlineDriver(SqlTurnStore(db), settings, clock)
    await _call(driver, "CA-cb", ["3", "2"])
    async with db.sessions() as session:
        callback = await session.scalar(select(Callback))
    assert callback is not None and callback.kind == "requested" and callback.phone == CALLER


async def test_a_replayed_request_changes_nothing(db: Database, settings: Settings, clock: FixedClock) -> None:
    await _setup(db)
    driver = HotlineDriver(SqlTurnStore(db), settings, clock)
    first = await driver.begin(Carrier.TWILIO, "CA-replay", from_number=CALLER, to_number=None)
    second = await driver.feed(Carrier.TWILIO, "CA-replay", ev.Digits("1"), expected_version=first.version)
    events_before = await _count(db, CallEvent)
    replay = await driver.feed(Carrier.TWILIO, "CA-replay", ev.Digits("1"), expected_version=first.version)
    assert replay.replayed and replay.media == second.media
    assert await _count(db, CallEvent) == events_before


async def test_asking_for_an_agent_queues_the_call(db: Database, settings: Settings, clock: FixedClock) -> None:
    await _setup(db)
    driver = HotlineDriver(SqlTurnStore(db), settings, clock)
    turns = await _call(driver, "CA-agent", ["0"])
    assert turns[-1].ended and turns[-1].transfer is not None
    async with db.sessions() as session:
        call = await session.scalar(select(Call))
    assert call is not None and call.queued_at is not None and call.queue == "hotline-agents"
