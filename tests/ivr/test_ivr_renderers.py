"""TwiML for Twilio and the AGI plan for Asterisk, from the same actions."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hotline_calls import started

from ivr import actions as act
from ivr import events as ev
from ivr import render_agi as agi
from ivr.prompts import prompt_text
from ivr.render_twiml import TransferTarget, render

URLS = {"action_url": "https://cc.example/twilio/ivr", "recording_url": "https://cc.example/rec"}


def twiml(actions: list[act.Action], language: str = "zh-CN", **kw: object) -> ET.Element:
    return ET.fromstring(render(actions, language=language, **URLS, **kw))  # type: ignore[arg-type]


def test_greeting_and_main_menu_render_as_say_then_gather_with_nested_say() -> None:
    _, out = started()
    root = twiml(out)
    assert [child.tag for child in root] == ["Say", "Gather"]
    assert root[0].text == prompt_text("greeting", "zh-CN")
    gather = root[1]
    assert gather.attrib == {
        "input": "dtmf",
        "action": URLS["action_url"],
        "method": "POST",
        "numDigits": "1",
        "timeout": "6",
        "finishOnKey": "",
        "actionOnEmptyResult": "true",
    }
    (say,) = list(gather)
    assert say.tag == "Say" and say.text == prompt_text("main_menu", "zh-CN")
    assert say.attrib == {"language": "zh-CN", "voice": "Polly.Zhiyu"}


def test_english_callers_hear_en_us_voice() -> None:
    root = twiml([act.Say("goodbye"), act.Hangup()], language="en", voice="Polly.Matthew")
    assert root[0].attrib == {"language": "en-US", "voice": "Polly.Matthew"}
    assert root[0].text == "Thank you for calling. Goodbye."
    assert root[1].tag == "Hangup"


def test_reference_entry_gather_finishes_on_hash() -> None:
    gather = act.Gather(("survey_enter_reference",), 12, 10, "#", "survey_reference")
    attrib = twiml([gather])[0].attrib
    assert (attrib["numDigits"], attrib["finishOnKey"], attrib["timeout"]) == ("12", "#", "10")


def test_record_renders_prompt_record_and_a_redirect_for_silence() -> None:
    root = twiml([act.Record("complaint_record", 120, "#", "complaint_record")])
    assert [c.tag for c in root] == ["Say", "Record", "Redirect"]
    assert root[1].attrib == {
        "action": URLS["recording_url"],
        "method": "POST",
        "maxLength": "120",
        "finishOnKey": "#",
        "playBeep": "true",
    }
    assert root[2].text == URLS["recording_url"]


def test_ticket_number_is_spoken_digit_by_digit() -> None:
    root = twiml([act.SayDigits("2024")])
    assert root[0].text == "2 0 2 4"


def test_transfer_enqueues_into_the_agent_queue_by_default() -> None:
    root = twiml([act.Say("agent_transfer"), act.Transfer("hotline-agents", "x", "main_menu")])
    assert [c.tag for c in root] == ["Say", "Enqueue"]
    assert root[1].text == "hotline-agents"


@pytest.mark.parametrize(
    ("kind", "address", "noun"),
    [
        ("sip", "sip:agents@pbx.example", "Sip"),
        ("client", "agent-desk", "Client"),
        ("number", "+8610000000", "Number"),
        ("queue", "", "Queue"),
    ],
)
def test_transfer_target_is_chosen_by_the_adapter(kind: str, address: str, noun: str) -> None:
    target = TransferTarget(kind=kind, address=address, dial_action_url="https://cc/after")  # type: ignore[arg-type]
    root = twiml([act.Transfer("hotline-agents")], transfer_to=target)
    (dial,) = list(root)
    assert dial.tag == "Dial" and dial.attrib == {"action": "https://cc/after"}
    assert dial[0].tag == noun
    assert dial[0].text == (address or "hotline-agents")


def test_effects_and_steps_render_nothing() -> None:
    root = twiml([act.Step("main_menu", "1", "selected"), act.LookupJob(None)])
    assert list(root) == []


def test_agi_plan_for_the_greeting_and_main_menu() -> None:
    _, out = started()
    assert agi.plan(out, language="zh-CN", sounds_prefix="ivr") == [
        agi.PlayPrompt("ivr/zh-CN/greeting", ""),
        agi.CollectDigits("ivr/zh-CN/main_menu", 6000, 1, "main_menu"),
    ]


def test_agi_plan_lets_keys_interrupt_every_prompt_of_a_gather() -> None:
    gather = act.Gather(
        ("survey_readback_intro", "grade_A", "survey_confirm"), 1, 6, "", "survey_confirm"
    )
    assert agi.plan([gather], language="en") == [
        agi.PlayPrompt("en/survey_readback_intro", "0123456789*#"),
        agi.PlayPrompt("en/grade_A", "0123456789*#"),
        agi.CollectDigits("en/survey_confirm", 6000, 1, "survey_confirm"),
    ]


def test_agi_plan_records_with_hash_and_two_minutes() -> None:
    steps = agi.plan(
        [act.Record("complaint_record", 120, "#", "complaint_record")], language="zh-CN"
    )
    assert steps == [
        agi.PlayPrompt("zh-CN/complaint_record"),
        agi.Record("ivr-complaint_record", "wav", "#", 120_000, True),
    ]


def test_agi_plan_transfer_returns_to_dialplan_with_queue_and_path() -> None:
    steps = agi.plan(
        [
            act.Say("agent_transfer"),
            act.Transfer("hotline-agents", "caller_request", "main_menu>agent_transfer"),
        ],
        language="en",
    )
    assert steps == [
        agi.PlayPrompt("en/agent_transfer"),
        agi.SetVariable("IVR_ACTION", "queue"),
        agi.SetVariable("IVR_QUEUE", "hotline-agents"),
        agi.SetVariable("IVR_PATH", "main_menu>agent_transfer"),
        agi.SetVariable("IVR_REASON", "caller_request"),
        agi.ReturnToDialplan(),
    ]


def test_agi_plan_reads_tickets_and_hangs_up() -> None:
    steps = agi.plan(
        [
            act.SayDigits("2024"),
            act.SayDigits("C12"),
            act.Hangup(),
            act.CreateComplaint("other", None, True),
        ],
        language="zh-CN",
    )
    assert steps == [
        agi.SayDigitsStep("2024", False),
        agi.SayDigitsStep("C12", True),
        agi.HangupStep(),
    ]


def test_whole_survey_call_renders_on_both_carriers() -> None:
    session, out = started()
    batches = [out]
    for event in [
        ev.Digits("2"),
        ev.JobLookup(True, 1, "9"),
        ev.Digits("1"),
        ev.Digits("2"),
        ev.Digits("3"),
        ev.Digits("1"),
        ev.SurveySaved(5),
        ev.Digits("2"),
    ]:
        batches.append(session.handle(event))
    for batch in batches:
        ET.fromstring(render(batch, language="en", action_url="a", recording_url="r"))
        agi.plan(batch, language="en")
    last = twiml(batches[-1], language="en")
    assert [c.tag for c in last] == ["Say", "Hangup"]
