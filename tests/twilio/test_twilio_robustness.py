"""No dead ends on Twilio: wrong keys, silence, callers who hang up, webhooks that come twice."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.demo.simulated_twilio import HANGUP, SILENCE, Speak
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, Callback, CallEvent, Complaint, Survey
from crm.enums import CallDisposition
from ivr.prompts import prompt_text
from tests.twilio.conftest import Hotline, NewCaller
from tests.twilio_rest import TwilioApi


async def _steps(db: Database) -> list[tuple[str | None, str]]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(CallEvent).where(CallEvent.kind == "ivr_step").order_by(CallEvent.id))
        return [(r.node, r.detail["outcome"]) for r in rows]


async def _call(db: Database) -> Call:
    async with db.sessions() as session:
        call = await session.scalar(select(Call))
    assert call is not None
    return call


async def test_invalid_keys_re_prompt_three_times_then_hand_the_caller_to_an_agent(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    result = await caller().call(["7", "5", "#", "6"], agent="answer")
    assert result.transfer == f"dial:conference:{result.call_sid}~hotline-agents"
    outcomes = [o for n, o in await _steps(db) if n == "main_menu"]
    assert outcomes == ["invalid"] * 3 + ["retries_exhausted"]
    assert (await _call(db)).disposition == CallDisposition.ANSWERED


async def test_silence_re_prompts_then_hands_the_caller_to_an_agent(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    result = await caller().call([SILENCE] * 4, agent="answer")
    assert result.transfer == f"dial:conference:{result.call_sid}~hotline-agents"
    gathers = [e for e in result.exchanges if "/twilio/gather" in e.url]
    assert [e.params["Digits"] for e in gathers] == [""] * 4
    assert "no_input" in {o for _, o in await _steps(db)}


async def test_a_silent_recording_asks_again_instead_of_filing_an_empty_complaint(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    result = await caller().call(["1", "1", SILENCE, Speak(15), "2"])
    assert any("/twilio/record" in e.url and "RecordingUrl" not in e.params for e in result.exchanges)
    async with db.sessions() as session:
        complaints = list(await session.scalars(select(Complaint)))
    assert len(complaints) == 1 and complaints[0].recording_url


async def test_hanging_up_before_the_recording_keeps_a_complaint_with_its_category(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    await caller().call(["1", "3", HANGUP])
    async with db.sessions() as session:
        complaint = await session.scalar(select(Complaint))
    assert complaint is not None and complaint.category == "timeliness"
    assert complaint.recording_url is None and complaint.customer_id == hotline.customer_id
    call = await _call(db)
    assert call.disposition == CallDisposition.IVR_ONLY and call.ended_at is not None


async def test_hanging_up_in_the_middle_of_the_survey_stores_it_incomplete(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    await caller().call(["2", "1", "2", HANGUP])
    async with db.sessions() as session:
        survey = await session.scalar(select(Survey))
    assert survey is not None and survey.complete is False
    assert (survey.timeliness, survey.quality, survey.attitude) == ("A", "B", None)


async def test_hanging_up_in_the_callback_menu_ends_the_call_where_the_caller_left(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    await caller().call(["3", HANGUP])
    async with db.sessions() as session:
        callbacks = list(await session.scalars(select(Callback)))
    call = await _call(db)
    assert callbacks == [] and call.ended_at is not None
    assert call.ivr_path is not None and call.ivr_path.endswith("callback_menu")
    assert ("callback_menu", "hangup") in await _steps(db)


async def test_hanging_up_while_waiting_for_an_agent_is_an_abandoned_call(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    await caller().call(["0"], agent="abandon")
    call = await _call(db)
    assert call.queued_at is not None and call.answered_at is None
    assert call.disposition == CallDisposition.ABANDONED


async def test_agents_not_answering_is_a_queue_timeout_and_the_caller_is_told(
    db: Database, hotline: Hotline, caller: NewCaller, twilio_api: TwilioApi,
) -> None:
    result = await caller().call(["0"], agent="no-answer")
    assert result.ended_by == "transfer" and len(result.said) >= 2
    assert (await _call(db)).disposition == CallDisposition.TIMEOUT
    (told,) = twilio_api.to(f"/Calls/{result.call_sid}.json")  # the waiting caller's new TwiML
    assert told.status == 200 and prompt_text("goodbye_unresolved", "zh-CN") in told.one("Twiml")


async def test_a_replayed_gather_webhook_does_not_apply_the_keys_twice(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    sim = caller()
    first = await sim.call(["2", "1"], send_status=False)  # at the repair-quality question
    pressed_1 = first.last("/twilio/gather")
    replayed = await sim.replay(pressed_1)
    assert replayed.status == 200 and replayed.body == pressed_1.body  # the same question again
    rest = await sim.post(_action(replayed.body), sim.params(Digits="2"))
    for key in ("1", "1"):
        rest = await sim.post(_action(rest.body), sim.params(Digits=key))
    await sim.status("completed", duration_s=40)
    async with db.sessions() as session:
        survey = await session.scalar(select(Survey))
    assert survey is not None and survey.complete
    assert (survey.timeliness, survey.quality, survey.attitude) == ("A", "B", "A")


def _action(twiml: str) -> str:
    import xml.etree.ElementTree as ET

    gather = ET.fromstring(twiml).find("Gather")
    assert gather is not None, twiml
    return gather.attrib["action"]
