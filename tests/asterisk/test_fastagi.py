"""The hotline over FastAGI, against a fake Asterisk on real TCP, on both engines.

Each call through the fake Asterisk is compared with the same keys fed to the
driver directly (what the Twilio webhooks do): the database must hold the same.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from callcenter.hotline.turns import HotlineDriver
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, Complaint, Survey
from callcenter.telephony.asterisk.fastagi import FastAgiServer
from crm.enums import CallDisposition, Carrier
from ivr import events as ev
from tests import factories
from tests.asterisk.conftest import CALLER_A, CALLER_B, back_office, call_outcome
from tests.asterisk.fake_agi import TIMEOUT, FakeAgiCall, Garbage, Hangup, Interrupt, Speak

SURVEY_KEYS = ["2", "1", "2", "1", "1", "2"]  # survey, A B A, confirm, then "end the call"


async def direct_call(driver: HotlineDriver, call_id: str, inputs: list[object]) -> None:
    """The same call fed straight to the driver, as the Twilio webhooks do."""
    turn = await driver.begin(Carrier.TWILIO, call_id, from_number=CALLER_A, to_number="4000")
    for item in inputs:
        if item == "HANGUP":
            break
        event = ev.Digits(item) if isinstance(item, str) else item
        turn = await driver.feed(Carrier.TWILIO, call_id, event, expected_version=turn.version)  # type: ignore[arg-type]
    await driver.hangup(Carrier.TWILIO, call_id)


async def settled(server: FastAgiServer) -> None:
    """Wait until every session on the server has finished its work."""
    async with asyncio.timeout(10):
        await server.wait_idle()


def agi_call(server: FastAgiServer, steps: list[object], linkedid: str = "1716000000.0",
             **kw: object) -> FakeAgiCall:
    return FakeAgiCall(server.port, list(steps), args=(linkedid,), linkedid=linkedid,  # type: ignore[arg-type]
                       callerid=CALLER_B.removeprefix("+86"), **kw)  # type: ignore[arg-type]


async def test_a_survey_over_fastagi_stores_what_twilio_stores(
        db: Database, driver: HotlineDriver, fastagi: FastAgiServer) -> None:
    await back_office(db)
    await direct_call(driver, "CA-survey", SURVEY_KEYS)
    await agi_call(fastagi, SURVEY_KEYS, "ast-survey").run()
    on_twilio, on_asterisk = await call_outcome(db, "CA-survey"), await call_outcome(db, "ast-survey")
    assert on_asterisk["survey"] == ("A", "B", "A", True, "ivr", "first_hand")
    assert on_asterisk == on_twilio


async def test_a_complaint_over_fastagi_stores_what_twilio_stores_and_reads_the_ticket(
        db: Database, driver: HotlineDriver, fastagi: FastAgiServer) -> None:
    await back_office(db)
    await direct_call(driver, "CA-complaint", ["1", "2", ev.RecordingDone("rec.wav", 12), "2"])
    fake = await agi_call(fastagi, ["1", "2", Speak(12), "2"], "ast-complaint").run()
    on_twilio, on_asterisk = await call_outcome(db, "CA-complaint"), await call_outcome(db, "ast-complaint")
    assert on_asterisk["complaint"] == ("attitude", "phone_ivr", "assigned", "ordinary", True, True)
    assert on_asterisk == on_twilio
    async with db.sessions() as session:
        call = await session.scalar(select(Call).where(Call.carrier_call_id == "ast-complaint"))
        complaint = await session.scalar(select(Complaint).where(Complaint.call_id == call.id))  # type: ignore[union-attr]
    assert complaint is not None and complaint.recording_url.endswith(".wav")  # type: ignore[union-attr]
    assert fake.sent("SAY DIGITS")[0][0] == complaint.ticket
    assert fake.sent("HANGUP"), "the IVR said goodbye and hung up"


@pytest.mark.parametrize("how", ["511", "line", "close"])
async def test_a_caller_hanging_up_while_recording_keeps_the_partial_complaint(
        db: Database, driver: HotlineDriver, fastagi: FastAgiServer, how: str) -> None:
    await back_office(db)
    await direct_call(driver, "CA-gone", ["1", "4", "HANGUP"])
    await agi_call(fastagi, ["1", "4", Hangup(how)], "ast-gone").run()
    await settled(fastagi)  # the server finishes the hang-up after the socket closed
    on_twilio, on_asterisk = await call_outcome(db, "CA-gone"), await call_outcome(db, "ast-gone")
    assert on_asterisk["complaint"] is not None and on_asterisk["complaint"][0] == "billing"
    assert on_asterisk["complaint"][-1] is False  # no recording
    assert on_asterisk["ended"] and on_asterisk["disposition"] == CallDisposition.IVR_ONLY
    assert on_asterisk == on_twilio


async def test_a_caller_who_never_presses_a_key_is_handed_to_the_dialplan_queue(
        db: Database, fastagi: FastAgiServer) -> None:
    await back_office(db)
    fake = await agi_call(fastagi, [TIMEOUT] * 8, "ast-silent").run()
    assert fake.variables["IVR_ACTION"] == "queue"
    assert fake.variables["IVR_QUEUE"] == "hotline-agents"
    assert fake.variables["IVR_PATH"].startswith("main_menu")
    assert not fake.sent("HANGUP"), "Asterisk keeps the call and queues it"
    outcome = await call_outcome(db, "ast-silent")
    assert outcome["queued"] and not outcome["ended"]


async def test_keys_that_cut_a_prompt_short_are_not_lost(db: Database, fastagi: FastAgiServer) -> None:
    await back_office(db)
    await agi_call(fastagi, ["2", "1", "2", "1", Interrupt("1"), "2"], "ast-barge").run()
    outcome = await call_outcome(db, "ast-barge")
    assert outcome["survey"] == ("A", "B", "A", True, "ivr", "first_hand")


async def test_missing_prompt_files_on_asterisk_still_let_the_caller_key_in(
        db: Database, fastagi: FastAgiServer) -> None:
    await back_office(db)
    await agi_call(fastagi, SURVEY_KEYS, "ast-nosound", missing_sounds=True).run()
    assert (await call_outcome(db, "ast-nosound"))["survey"] == ("A", "B", "A", True, "ivr", "first_hand")


async def test_the_linkedid_is_asked_from_the_channel_when_the_dialplan_passes_none(
        db: Database, fastagi: FastAgiServer) -> None:
    await back_office(db)
    fake = FakeAgiCall(fastagi.port, ["2", "2"], args=(), linkedid="linked-77",
                       callerid="13900139000")
    await fake.run()
    assert fake.sent("GET VARIABLE")[0] == ["CHANNEL(linkedid)"]
    assert (await call_outcome(db, "linked-77"))["customer_found"]


async def test_a_broken_session_does_not_disturb_the_others(db: Database, fastagi: FastAgiServer) -> None:
    await back_office(db)
    broken = agi_call(fastagi, ["2", Garbage()], "ast-broken", uniqueid="u-broken")
    healthy = agi_call(fastagi, SURVEY_KEYS, "ast-healthy", uniqueid="u-healthy")
    await asyncio.gather(broken.run(), healthy.run())
    assert (await call_outcome(db, "ast-healthy"))["survey"] is not None
    later = await agi_call(fastagi, SURVEY_KEYS, "ast-later", uniqueid="u-later").run()
    assert later.sent("HANGUP") and fastagi.active == 0


async def test_an_unknown_script_sends_the_caller_to_the_dialplan_fallback(fastagi: FastAgiServer) -> None:
    fake = FakeAgiCall(fastagi.port, [], script="no-such-script")
    await fake.run()
    assert fake.variables["IVR_ACTION"] == "fallback"


async def test_a_queue_that_gives_up_settles_the_call_as_a_timeout(
        db: Database, fastagi: FastAgiServer) -> None:
    await back_office(db)
    await agi_call(fastagi, ["0"], "ast-queue").run()
    await FakeAgiCall(fastagi.port, [], script="queue-result", args=("ast-queue", "TIMEOUT"),
                      uniqueid="u-q").run()
    outcome = await call_outcome(db, "ast-queue")
    assert outcome["ended"] and outcome["disposition"] == CallDisposition.TIMEOUT


async def test_a_command_asterisk_never_answers_hits_the_deadline_and_frees_the_session(
        db: Database, driver: HotlineDriver) -> None:
    from callcenter.telephony.asterisk.agi_hotline import HotlineAgi

    await back_office(db)
    server = FastAgiServer(HotlineAgi(driver).routes(), port=0, command_deadline_s=0.2)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        from tests.asterisk.fake_agi import agi_block

        writer.write(agi_block("hotline", uniqueid="u-mute", callerid="13900139000",
                               args=("ast-mute",)))
        first = await reader.readline()  # the first command; we never answer it
        assert first
        closed = await asyncio.wait_for(reader.read(), 5)
        assert closed == b""
        writer.close()
    finally:
        await server.close()
    assert server.active == 0


async def test_a_caller_over_fastagi_keys_the_digits_of_a_lettered_job_reference_to_rate_it(
        db: Database, fastagi: FastAgiServer) -> None:
    await back_office(db)
    customer = await factories.customer(db, "王五", ("+8613700137000",))
    job = await factories.job(db, customer.id, "J-20261105",
                              completed_at=datetime(2026, 5, 17, 8, tzinfo=UTC))
    await FakeAgiCall(fastagi.port, ["2", "20261105", "1", "2", "1", "1"], args=("ast-keyed",),  # type: ignore[arg-type]
                      linkedid="ast-keyed", callerid="13911112222").run()
    await settled(fastagi)
    async with db.sessions() as session:
        survey = await session.scalar(select(Survey))
    assert survey is not None and survey.job_id == job.id and survey.complete


async def test_a_complaint_over_fastagi_from_a_caller_of_no_department_is_charged_through_the_recent_job(
        db: Database, fastagi: FastAgiServer) -> None:
    """As on Twilio (tests/twilio/test_twilio_complaint_charged_job.py): the caller's job of
    last week, not the caller's (missing) department, decides who the complaint counts against."""
    svc = await factories.department(db, "SVC")
    tech = await factories.staff(db, "tech-li", ["technician"], svc.id)
    customer = await factories.customer(db, "李四", (CALLER_B,), department_id=None)
    job = await factories.job(db, customer.id, "J-2", technician_id=tech.id, department_id=svc.id,
                              completed_at=datetime(2026, 5, 12, 8, tzinfo=UTC))
    await agi_call(fastagi, ["1", "2", Speak(12), "2"], "ast-nobodys").run()
    async with db.sessions() as session:
        complaint = await session.scalar(select(Complaint))
    assert complaint is not None
    assert (complaint.channel, complaint.job_id) == ("phone_ivr", None)
    assert (complaint.department_id, complaint.charged_job_id) == (svc.id, job.id)
