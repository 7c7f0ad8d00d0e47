"""Every caller served, and complaint status by phone, on the Twilio channel: the real app
on a port, webhooks signed with Twilio's validator, TwiML followed to the end."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from callcenter.demo.simulated_twilio import Speak
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, Callback, Complaint, Customer, CustomerPhone
from ivr.prompts import prompt_text
from tests.twilio.conftest import STRANGER, Hotline, NewCaller

KEYED = "13912345678"


def _zh(prompt_id: str) -> str:
    return prompt_text(prompt_id, "zh-CN")


@pytest.mark.parametrize("withheld", ["anonymous", "+266696687", "Restricted"])
async def test_a_withheld_caller_files_a_complaint_and_keys_a_callback_number(
    db: Database, hotline: Hotline, caller: NewCaller, withheld: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    # complaint (attitude, recorded), main menu, callback: key a number, confirm, tomorrow
    # morning, then goodbye
    result = await caller(from_number=withheld).call(
        ["1", "2", Speak(12), "1", "3", KEYED + "#", "1", "2", "2"])
    assert result.ended_by == "twiml-hangup" and result.unused == ()
    async with db.sessions() as session:
        complaint = await session.scalar(select(Complaint))
        callback = await session.scalar(select(Callback))
        call = await session.scalar(select(Call))
        assert complaint is not None and callback is not None and call is not None
        record = await session.get(Customer, complaint.customer_id)
        phones = list(await session.scalars(
            select(CustomerPhone).where(CustomerPhone.customer_id == complaint.customer_id)))
    assert record is not None and not record.verified and phones == []
    assert callback.customer_id == record.id == call.customer_id
    assert callback.phone == "+86" + KEYED and callback.kind == "requested"
    assert " ".join(complaint.ticket) in result.said
    assert " ".join(KEYED) in result.said  # the keyed number read back
    assert _zh("callback_number_confirm") in result.said
    assert _zh("system_error") not in result.said
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_an_invalid_keyed_number_is_asked_again_then_the_caller_reaches_an_agent(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    result = await caller(from_number="anonymous").call(["3", "12345#", "0044791112345#"])
    assert result.said.count(_zh("callback_number_invalid")) == 1
    assert result.transfer is not None
    async with db.sessions() as session:
        assert await session.scalar(select(Callback)) is None
        call = await session.scalar(select(Call))
    assert call is not None and call.queued_at is not None


async def _file(caller: NewCaller, db: Database) -> str:
    await caller().call(["1", "2", Speak(12), "2"])
    async with db.sessions() as session:
        complaint = await session.scalar(select(Complaint))
    assert complaint is not None
    return str(complaint.ticket)


async def test_a_caller_hears_their_tickets_state_department_and_due_date(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    ticket = await _file(caller, db)
    result = await caller().call(["4", "1", ticket + "#", "2"])
    async with db.sessions() as session:
        complaint = await session.scalar(select(Complaint))
    assert complaint is not None
    said = result.said
    assert " ".join(ticket) in said
    assert _zh(f"state_{complaint.state}") in said
    assert _zh("status_department") in said and "SVC" in said  # the department's name
    assert _zh("status_due") in said
    assert any(s.endswith("月") for s in said) and any(s.endswith("日。") for s in said)


async def test_another_callers_ticket_is_only_said_not_found(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    ticket = await _file(caller, db)
    result = await caller(from_number=STRANGER).call(["4", "1", ticket + "#", "0#", "1#"])
    assert result.said.count(_zh("status_not_found")) == 2
    assert " ".join(ticket) not in result.said
    assert not [s for s in result.said if s.startswith("状态：")]
    assert result.transfer is not None


async def test_the_follow_up_call_tells_the_customer_the_complaint_is_resolved(
    db: Database, hotline: Hotline, served, http, clock,  # type: ignore[no-untyped-def]
) -> None:
    from callcenter.callbacks.config import dispatch_config
    from callcenter.callbacks.loop import Dispatcher
    from callcenter.demo.simulated_twilio import Callee, SimulatedTwilioCarrier
    from callcenter.storage.uow import SqlUnitOfWork
    from crm.enums import ComplaintCategory, ComplaintChannel
    from crm.services import complaints as cs
    from tests.twilio.conftest import CALLER

    system = cs.Actor.system("test")
    opened = await cs.open_complaint(cs.OpenComplaint(
        customer_id=hotline.customer_id, channel=ComplaintChannel.PHONE_IVR,
        category=ComplaintCategory.ATTITUDE, description="rude technician", actor=system,
    ), SqlUnitOfWork(db), clock=clock)
    await cs.start_complaint(cs.ComplaintStep(opened.complaint_id, system), SqlUnitOfWork(db),
                             clock=clock)
    await cs.resolve_complaint(cs.ComplaintStep(opened.complaint_id, system, "apologised"),
                               SqlUnitOfWork(db), clock=clock)
    clock.advance(hours=1)
    carrier = SimulatedTwilioCarrier(http, served.settings, {CALLER: Callee("answer", ("1", "1"))})
    dispatcher = Dispatcher(db, carrier, dispatch_config(served.settings, "w1"), clock=clock)
    assert await dispatcher.dispatch() == 1
    await carrier.settle()
    (placed,) = carrier.calls.values()
    assert placed.request.flow == "complaint_followup" and placed.result is not None
    said = placed.result.said
    assert " ".join(opened.ticket) in said
    assert said.index(_zh("followup_state_resolved")) < said.index(_zh("followup_resolved"))
    async with db.sessions() as session:
        complaint = await session.get(Complaint, opened.complaint_id)
    assert complaint is not None and complaint.state == "closed"
