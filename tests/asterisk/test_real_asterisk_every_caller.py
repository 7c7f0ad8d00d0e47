"""Every caller served, and complaint status by phone, on a REAL Asterisk 22, on both
engines: callers with a withheld or foreign caller ID (AMI Originate into the bundle's
`test-caller` context) press keys; the database is checked afterwards.

Skipped like tests/asterisk/test_real_asterisk.py when the Asterisk bundle is absent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter.clock import system_clock
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, Callback, CallEvent, Complaint, Customer, CustomerPhone
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.telephony.asterisk import ami_actions
from crm.enums import ComplaintCategory, ComplaintChannel
from crm.services import complaints as cs
from tests.asterisk.conftest import CALLER_A, CALLER_B, until
from tests.asterisk.test_real_asterisk import RealAsterisk, Service, _service, asterisk  # noqa: F401

pytestmark = pytest.mark.asterisk
WITHHELD = ami_actions.format_caller_id("", "")  # Asterisk reports "unknown"
ANONYMOUS = ami_actions.format_caller_id("Anonymous", "anonymous")
FOREIGN = ami_actions.format_caller_id("Visitor", "447911123456")  # no "+": not a CN number
KNOWN_B = ami_actions.format_caller_id("李四", CALLER_B.removeprefix("+86"))


@pytest.fixture
async def service(asterisk: RealAsterisk, db: Database, tmp_path: Path) -> AsyncIterator[Service]:  # noqa: F811
    async for s in _service(asterisk, db, tmp_path, fastagi=True):
        yield s


async def _dial_in(service: Service, call_id: str, caller_id: str, digits: str,
                   *, tail_s: int = 2) -> Call:
    answer = await service.ami.action(lambda aid: ami_actions.originate(
        aid, "Local/4000@hotline", context="test-caller", exten="s", priority=1,
        caller_id=caller_id, channel_id=call_id, other_channel_id=f"{call_id}-b",
        variables={"DIGITS": digits, "CALLER_PRE_WAIT": "1", "CALLER_TAIL_WAIT": str(tail_s)}))
    assert answer.ok, answer
    return await service.call_over(call_id, within_s=60)


async def _steps(db: Database, call_id: int) -> list[tuple[str | None, Any]]:
    async with db.sessions() as session:
        rows = (await session.scalars(
            select(CallEvent).where(CallEvent.call_id == call_id, CallEvent.kind == "ivr_step")
            .order_by(CallEvent.id))).all()
    return [(r.node, (r.detail or {}).get("outcome")) for r in rows]


@pytest.mark.parametrize("caller_id", [WITHHELD, ANONYMOUS], ids=["withheld", "anonymous"])
async def test_a_withheld_caller_files_a_complaint_and_keys_a_callback_number(
    service: Service, asterisk: RealAsterisk, caller_id: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    # complaint (attitude, record, #), main menu, callback: key the number, confirm,
    # tomorrow morning, goodbye
    call = await _dial_in(service, "rt-anon", caller_id,
                          "1ww2wwwwww#wwww1ww3ww13912345678#wwww1ww2ww2")
    async with service.db.sessions() as session:
        complaint = await session.scalar(select(Complaint).where(Complaint.call_id == call.id))
        callback = await session.scalar(select(Callback))
        assert complaint is not None and callback is not None
        record = await session.get(Customer, complaint.customer_id)
        phones = list(await session.scalars(
            select(CustomerPhone).where(CustomerPhone.customer_id == complaint.customer_id)))
    assert record is not None and not record.verified and phones == []
    assert call.customer_id == record.id == callback.customer_id
    assert callback.phone == "+8613912345678" and callback.kind == "requested"
    steps = await _steps(service.db, call.id)
    assert ("callback_number_check", "done") in steps
    assert ("callback_schedule", "done") in steps
    assert not [s for s in steps if s[1] in ("effect_failed", "effect_impossible")]
    played = _played(asterisk, service.settings.prompts_dir)
    asked = played.index("callback_enter_number")
    assert asked < played.index("callback_number_readback") < played.index("callback_number_confirm")
    assert "complaint_ticket_intro" in played and "system_error" not in played
    assert [f"{r.name}: {r.getMessage()}" for r in caplog.records
            if r.levelno >= logging.WARNING] == []


async def test_a_foreign_caller_keys_a_bad_number_twice_and_reaches_an_agent(
    service: Service, asterisk: RealAsterisk,  # noqa: F811
) -> None:
    call = await _dial_in(service, "rt-foreign", FOREIGN, "3ww12345#wwww999999#", tail_s=3)
    steps = await _steps(service.db, call.id)
    assert [s for s in steps if s[0] == "callback_number_entry"] == [
        ("callback_number_entry", "entered"), ("callback_number_entry", "not_found"),
        ("callback_number_entry", "entered"), ("callback_number_entry", "retries_exhausted"),
    ]
    assert call.queued_at is not None and call.queue == "hotline-agents"
    async with service.db.sessions() as session:
        assert await session.scalar(select(Callback)) is None
    played = _played(asterisk, service.settings.prompts_dir)
    assert played.count("callback_number_invalid") == 1
    assert played.count("callback_enter_number") == 2 and played[-1] == "agent_transfer"


async def _open_complaint_for(db: Database, phone: str) -> str:
    async with db.sessions() as session:
        customer = await session.scalar(
            select(Customer).join(CustomerPhone).where(CustomerPhone.e164 == phone))
        assert customer is not None
    opened = await cs.open_complaint(cs.OpenComplaint(
        customer_id=customer.id, channel=ComplaintChannel.PHONE_IVR,
        category=ComplaintCategory.ATTITUDE, description="rude", actor=cs.Actor.system("test"),
    ), SqlUnitOfWork(db), clock=system_clock)
    return opened.ticket


async def test_a_caller_hears_their_ticket_and_another_callers_is_not_found(
    service: Service, asterisk: RealAsterisk,  # noqa: F811
) -> None:
    mine = await _open_complaint_for(service.db, CALLER_B)
    theirs = await _open_complaint_for(service.db, CALLER_A)
    call = await _dial_in(service, "rt-status", KNOWN_B,
                          f"4ww1ww{theirs}#wwww{mine}#wwww2", tail_s=2)
    steps = await _steps(service.db, call.id)
    lookups = [s for s in steps if s[0] == "status_lookup_ticket"]
    assert lookups == [("status_lookup_ticket", "not_found"), ("status_lookup_ticket", "done")]
    assert ("after_menu", "selected") in steps  # heard it, then chose goodbye
    # what Asterisk itself played (the kit has no sound files: it logs each one it tried)
    played = _played(asterisk, service.settings.prompts_dir)
    assert played.index("status_not_found") < played.index("status_ticket")
    async with service.db.sessions() as session:
        complaint = await session.scalar(select(Complaint).where(Complaint.ticket == mine))
    assert complaint is not None and complaint.resolve_due_at is not None
    due = complaint.resolve_due_at.replace(tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    start = played.index("status_ticket")
    assert played[start:start + 6] == [
        "status_ticket", f"state_{complaint.state}", "status_department", "status_due",
        f"month_{due.month}", f"day_{due.day}"]


def _played(asterisk: RealAsterisk, prompts_dir: Path) -> list[str]:  # noqa: F811
    """The prompt ids Asterisk tried to play from `prompts_dir`, in order."""
    pattern = re.compile(re.escape(str(prompts_dir)) + r"/[\w-]+/(\w+) does not exist")
    log = (asterisk.run / "var" / "log" / "full.log").read_text(errors="replace")
    return [m.group(1) for line in log.splitlines()
            for m in [pattern.search(line)] if m]


async def test_the_follow_up_call_tells_the_customer_the_complaint_is_resolved(
    service: Service, asterisk: RealAsterisk,  # noqa: F811
) -> None:
    """Resolving schedules the follow-up (二次回访); the dispatcher dials it through the real
    Asterisk (the kit's simulated callee answers); the PBX plays the state before asking."""
    from datetime import datetime

    from callcenter.telephony.asterisk.dialer import AsteriskDialer
    from crm.services.callback_dispatch import DispatchConfig, dispatch_once

    now = datetime.now(UTC)
    zone = next(z for z in ("Asia/Shanghai", "Europe/Moscow", "Europe/London", "America/New_York",
                            "America/Los_Angeles", "Pacific/Honolulu", "Asia/Tokyo")
                if 10 <= now.astimezone(ZoneInfo(z)).hour < 18)  # inside the callee's window
    async with service.db.sessions() as session:
        customer = await session.scalar(
            select(Customer).join(CustomerPhone).where(CustomerPhone.e164 == CALLER_B))
        assert customer is not None
        customer.timezone = zone
        await session.commit()
    ticket = await _open_complaint_for(service.db, CALLER_B)
    async with service.db.sessions() as session:
        complaint = await session.scalar(select(Complaint).where(Complaint.ticket == ticket))
        assert complaint is not None
    system = cs.Actor.system("test")
    await cs.start_complaint(cs.ComplaintStep(complaint.id, system), SqlUnitOfWork(service.db),
                             clock=system_clock)
    await cs.resolve_complaint(cs.ComplaintStep(complaint.id, system, "apologised"),
                               SqlUnitOfWork(service.db), clock=system_clock)
    dialer = AsteriskDialer(service.ami, service.db, system_clock,
                            trunk="Local/{number}@test-callee")
    dialer.attach(service.call_log)
    sent = await dispatch_once(lambda: SqlUnitOfWork(service.db), dialer, system_clock,
                               DispatchConfig(worker="w1"))
    assert sent == 1
    await until(lambda: "followup_resolved" in _played(asterisk, service.settings.prompts_dir),
                within_s=40)
    played = _played(asterisk, service.settings.prompts_dir)
    start = played.index("followup_greeting")
    assert played[start:start + 4] == [
        "followup_greeting", "followup_intro", "followup_state_resolved", "followup_resolved"]
