"""Whole calls on the Twilio channel: a real server, signed webhooks, TwiML followed."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from callcenter.clock import FixedClock
from callcenter.demo.simulated_twilio import Speak
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, Callback, Complaint, Customer, CustomerPhone, Survey
from crm.enums import CallDisposition
from tests import factories
from tests.twilio.conftest import STRANGER, Hotline, NewCaller

SURVEY = ["2", "1", "2", "1", "1", "2"]  # survey; A, B, A; confirm; goodbye


async def test_a_full_survey_is_stored_first_hand_for_the_callers_last_job(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    result = await caller().call(SURVEY)
    assert result.ended_by == "twiml-hangup" and result.unused == ()
    async with db.sessions() as session:
        survey = await session.scalar(select(Survey))
        call = await session.scalar(select(Call))
    assert survey is not None and survey.complete and survey.source == "ivr"
    assert (survey.timeliness, survey.quality, survey.attitude) == ("A", "B", "A")
    assert survey.job_id == hotline.job_id and survey.verification == "first_hand"
    assert call is not None and call.disposition == CallDisposition.IVR_ONLY
    assert call.carrier == "twilio" and call.customer_id == hotline.customer_id


async def test_a_full_complaint_is_stored_against_the_callers_customer_and_read_back(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    result = await caller().call(["1", "2", Speak(20), "2"])
    async with db.sessions() as session:
        complaint = await session.scalar(select(Complaint))
    assert complaint is not None
    assert complaint.customer_id == hotline.customer_id
    assert complaint.category == "attitude" and complaint.channel == "phone_ivr"
    assert complaint.recording_url and complaint.recording_url.startswith("https://api.twilio.com/")
    assert " ".join(complaint.ticket) in result.said  # read back digit by digit


async def test_an_unknown_caller_complains_as_a_new_unverified_customer(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    await caller(from_number=STRANGER).call(["1", "5", Speak(8), "2"])
    async with db.sessions() as session:
        complaint = await session.scalar(select(Complaint))
        owner = await session.scalar(
            select(Customer).join(CustomerPhone).where(CustomerPhone.e164 == STRANGER))
    assert owner is not None and owner.verified is False
    assert complaint is not None and complaint.customer_id == owner.id
    assert complaint.category == "other"


async def test_a_callback_request_is_scheduled_for_tomorrow_morning_in_the_callers_time_zone(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    await caller().call(["3", "2", "2"])  # callback, tomorrow morning, goodbye
    async with db.sessions() as session:
        callback = await session.scalar(select(Callback))
    assert callback is not None and callback.customer_id == hotline.customer_id
    assert callback.state == "scheduled" and callback.timezone == "Asia/Shanghai"
    assert callback.due_at.astimezone(ZoneInfo("Asia/Shanghai")) == datetime(
        2026, 5, 19, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert callback.requested_call_id is not None


async def test_an_agent_request_in_opening_hours_dials_the_agents_and_counts_as_answered(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    result = await caller().call(["0"], agent="answer")
    assert result.transfer == f"dial:conference:{result.call_sid}~hotline-agents"
    async with db.sessions() as session:
        call = await session.scalar(select(Call))
    assert call is not None and call.queued_at is not None and call.answered_at is not None
    assert call.disposition == CallDisposition.ANSWERED


async def test_an_agent_request_after_hours_offers_a_callback_instead(
    db: Database, hotline: Hotline, caller: NewCaller, clock: FixedClock,
) -> None:
    clock.advance(hours=12)  # 22:00 in Shanghai: agents closed, too late for today
    result = await caller().call(["0", "2", "2"])  # agent; tomorrow morning; goodbye
    assert result.transfer is None
    async with db.sessions() as session:
        callback = await session.scalar(select(Callback))
        call = await session.scalar(select(Call))
    assert callback is not None and callback.state == "scheduled"
    assert call is not None and call.queued_at is None
    assert call.disposition == CallDisposition.IVR_ONLY


async def test_a_caller_keys_the_digits_of_a_lettered_job_reference_to_rate_it(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    customer = await factories.customer(db, "王五", ("+8613700137000",))
    job = await factories.job(db, customer.id, "J-20261105",
                              completed_at=datetime(2026, 5, 17, 8, tzinfo=ZoneInfo("UTC")))
    result = await caller(from_number=STRANGER).call(["2", "20261105", "1", "2", "1", "1"])
    assert result.unused == ()
    async with db.sessions() as session:
        survey = await session.scalar(select(Survey))
    assert survey is not None and survey.job_id == job.id and survey.complete
