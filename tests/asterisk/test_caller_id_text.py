"""Whatever text Asterisk sends as the caller ID (a SIP URI longer than the call's number
column, 41 digits, a NUL character), over FastAGI the caller files a complaint on a logged
call, and in the AMI call log the other calls of the same flush window are kept (the whole
batch was lost on PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, Complaint
from callcenter.telephony.asterisk.fastagi import FastAgiServer
from tests.asterisk.conftest import back_office
from tests.asterisk.fake_agi import FakeAgiCall, Speak
from tests.asterisk.fake_ami import FakeAmi
from tests.asterisk.test_ami import ami_world  # noqa: F401  (the fixture)
from tests.asterisk.test_ami_batches import WINDOW, _call, delivered_all

SIP_URI = "sip:customer.service.desk@pbx.branch-office.example.com"
ODD = [SIP_URI, "1" * 41, "13800\x00138000"]
IDS = ["sip-uri", "41-digits", "nul"]


@pytest.mark.parametrize("number", ODD, ids=IDS)
async def test_a_fastagi_caller_with_any_caller_id_files_a_complaint(
    db: Database, fastagi: FastAgiServer, number: str,
) -> None:
    await back_office(db)
    fake = await FakeAgiCall(fastagi.port, ["1", "2", Speak(12), "2"], args=("ast-odd",),
                             linkedid="ast-odd", callerid=number).run()
    async with asyncio.timeout(10):
        await fastagi.wait_idle()
    async with db.sessions() as session:
        complaint = await session.scalar(select(Complaint))
        call = await session.scalar(select(Call))
    assert call is not None and complaint is not None, fake.commands[-3:]
    assert complaint.customer_id == call.customer_id
    assert fake.sent("SAY DIGITS")[0][0] == complaint.ticket
    assert fake.sent("HANGUP")


@pytest.mark.parametrize("number", ODD, ids=IDS)
async def test_an_odd_ami_caller_id_keeps_every_call_of_its_flush_window(
        db: Database, ami_world: Any, number: str) -> None:  # noqa: F811
    await back_office(db)
    stream = (_call("ok-1", "13700137000", 1795432900.0)
              + _call("odd-1", number, 1795432901.0)
              + _call("ok-2", "13700137002", 1795432902.0))
    fake, client, call_log = await ami_world(FakeAmi(stream), WINDOW)
    await delivered_all(fake, client)
    await call_log.flush()
    async with db.sessions() as session:
        ids = set(await session.scalars(select(Call.carrier_call_id)))
    assert ids >= {"ok-1", "odd-1", "ok-2"}
