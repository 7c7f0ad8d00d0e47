"""Whatever text Twilio sends as the caller ID or the number called (a SIP URI longer than
the call's number column, 41 digits, a NUL character), the caller is served through the IVR
and the call is logged with its complaint, on both engines (PostgreSQL refused the row)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.demo.simulated_twilio import Speak
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, Complaint
from ivr.prompts import prompt_text
from tests.twilio.conftest import Hotline, NewCaller

SIP_URI = "sip:customer.service.desk@pbx.branch-office.example.com"
NUMBER_TEXT_MAX = 40  # the width of the calls' number columns
ODD = [SIP_URI, "1" * 41, "+861380013\x008000", "\x00"]


async def _filed(db: Database) -> tuple[Complaint, Call]:
    async with db.sessions() as session:
        complaint = await session.scalar(select(Complaint))
        call = await session.scalar(select(Call))
    assert complaint is not None and call is not None
    return complaint, call


@pytest.mark.parametrize("number", ODD, ids=["sip-uri", "41-digits", "nul-inside", "nul"])
async def test_a_caller_with_any_caller_id_files_a_complaint_on_the_logged_call(
    db: Database, hotline: Hotline, caller: NewCaller, number: str,
) -> None:
    result = await caller(from_number=number).call(["1", "2", Speak(12), "2"])
    assert [e.status for e in result.exchanges] == [200] * len(result.exchanges)
    assert result.ended_by == "twiml-hangup"
    assert prompt_text("system_error", "zh-CN") not in result.said
    complaint, call = await _filed(db)
    assert complaint.customer_id == call.customer_id and complaint.recording_url
    assert call.ended_at is not None
    assert call.from_number == number.replace("\x00", "")[:NUMBER_TEXT_MAX]


@pytest.mark.parametrize("number", ODD[:2], ids=["sip-uri", "41-digits"])
async def test_a_call_to_a_long_number_is_served_and_logged(
    db: Database, hotline: Hotline, caller: NewCaller, number: str,
) -> None:
    result = await caller(to_number=number).call(["1", "2", Speak(12), "2"])
    assert [e.status for e in result.exchanges] == [200] * len(result.exchanges)
    complaint, call = await _filed(db)
    assert complaint.customer_id == hotline.customer_id == call.customer_id
    assert call.to_number == number[:NUMBER_TEXT_MAX]
