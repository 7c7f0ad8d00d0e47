"""Outbound flows as data: valid, bilingual, resumable from JSON in any
process, and safe whatever the callee does."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from outbound_calls import CONTEXTS, JOB, callee, completions, outbound_call

from ivr import actions as act
from ivr import events as ev
from ivr import render_agi
from ivr.flow import EndCall, slot_values, validate
from ivr.outbound import OUTBOUND_FLOWS, POST_REPAIR_SURVEY
from ivr.render_twiml import render
from ivr.session import Session
from ivr.state import SessionError

SURVEYED = [POST_REPAIR_SURVEY.name, ["1", "2", "3", "1"]]
SCRIPTED = {
    "post_repair_survey": ["1", "2", "3", "2", "4", "4", "4", "1"],
    "complaint_followup": ["9", "2", "*", "1", "3"],
    "survey_verification": ["2", "1", "5", "5", "5", "1"],
}


@pytest.mark.parametrize("name", sorted(OUTBOUND_FLOWS))
def test_every_outbound_flow_is_valid_and_closes_its_callback(name: str) -> None:
    flow = OUTBOUND_FLOWS[name]
    assert validate(flow) == [] and flow.completes_callback


def test_a_template_naming_a_slot_the_context_does_not_declare_is_reported() -> None:
    broken = dataclasses.replace(
        POST_REPAIR_SURVEY,
        nodes={**POST_REPAIR_SURVEY.nodes, "thanks": EndCall(prompts=("grade_{recorded_x}",))},
    )
    assert any("recorded_x" in problem for problem in validate(broken))
    assert "recorded_timeliness" in slot_values(OUTBOUND_FLOWS["survey_verification"])


@pytest.mark.parametrize("name", sorted(SCRIPTED))
def test_serialising_after_every_event_gives_the_same_call(name: str) -> None:
    flow = OUTBOUND_FLOWS[name]
    direct = outbound_call(flow, SCRIPTED[name])
    resumed = outbound_call(flow, SCRIPTED[name], through_json=True)
    assert resumed.actions == direct.actions
    assert len(completions(direct)) == 1


def test_the_outbound_context_travels_in_the_state() -> None:
    session = Session(POST_REPAIR_SURVEY)
    session.handle(ev.Start(callee(JOB)))
    raw = json.loads(session.to_json())
    assert raw["context"]["outbound"] == JOB and raw["slots"]["job_reference"] == "880042"
    again = Session.from_json(POST_REPAIR_SURVEY, session.to_json())
    assert again.context.outbound == JOB


def test_state_stored_before_outbound_flows_existed_still_loads() -> None:
    session = Session(POST_REPAIR_SURVEY)
    session.handle(ev.Start(callee(JOB)))
    raw = json.loads(session.to_json())
    del raw["sent"], raw["context"]["outbound"]
    old = Session.from_json(POST_REPAIR_SURVEY, json.dumps(raw))
    assert old.context.outbound is None and old.node == "survey_timeliness"


def test_a_nested_value_in_the_outbound_context_is_refused() -> None:
    with pytest.raises(ValueError, match="str, int or None"):
        ev.CallerContext(outbound={"grades": {"timeliness": "A"}})  # type: ignore[dict-item]
    session = Session(POST_REPAIR_SURVEY)
    session.handle(ev.Start(callee(JOB)))
    raw = json.loads(session.to_json())
    raw["context"]["outbound"] = {"job_id": [42]}
    with pytest.raises(SessionError):
        Session.from_json(POST_REPAIR_SURVEY, json.dumps(raw))


def test_the_callback_is_completed_once_even_if_the_callee_hangs_up_after_goodbye() -> None:
    session = Session(POST_REPAIR_SURVEY)
    actions = session.handle(ev.Start(callee(JOB)))
    for key in ["1", "1", "1", "1"]:
        actions += session.handle(ev.Digits(key))
        if session.waiting_for:
            actions += session.handle(ev.SurveySaved(11))
    actions += session.handle(ev.Hangup())
    assert sum(isinstance(a, act.CompleteCallback) for a in actions) == 1


@pytest.mark.parametrize(
    ("name", "language", "expected"),
    [
        ("post_repair_survey", "zh-CN", "上门维修服务"),
        ("post_repair_survey", "en", "rate it"),
        ("complaint_followup", "zh-CN", "投诉单号"),
        ("complaint_followup", "en", "Was your complaint resolved to your satisfaction?"),
        ("survey_verification", "zh-CN", "记录正确请按1"),
        ("survey_verification", "en", "If this is correct, press 1"),
    ],
)
def test_the_callee_hears_the_flow_in_their_language(
    name: str, language: str, expected: str
) -> None:
    session = Session(OUTBOUND_FLOWS[name])
    out = session.handle(ev.Start(callee(CONTEXTS[name], language=language)))
    assert expected in render(out, language=session.language, action_url="a", recording_url="r")


# --- whatever the callee does --------------------------------------------------------------

events = st.one_of(
    st.text(alphabet="0123456789*#", max_size=3).map(ev.Digits),
    st.just(ev.Timeout()),
    st.just(ev.Hangup()),
    st.integers(1, 9).map(ev.SurveySaved),
    st.booleans().map(ev.FollowupRecorded),
    st.sampled_from(["verified", "disputed"]).map(ev.SurveyConfirmed),
    st.sampled_from(["SaveSurvey", "RecordFollowupVerdict", "ConfirmSurvey"]).map(
        ev.EffectFailed
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(sorted(OUTBOUND_FLOWS)),
    script=st.lists(events, max_size=30),
    agents_open=st.booleans(),
    through_json=st.booleans(),
)
def test_random_callees_never_break_the_call_and_the_callback_closes_once(
    name: str, script: list[ev.Event], agents_open: bool, through_json: bool
) -> None:
    flow = OUTBOUND_FLOWS[name]
    session = Session(flow)
    actions: list[act.Action] = []
    for event in [ev.Start(callee(CONTEXTS.get(name, {"callback_id": 1}),
                                  agents_open=agents_open)), *script, ev.Hangup()]:
        out = session.handle(event)
        actions += out
        ET.fromstring(render(out, language=session.language, action_url="a", recording_url="r"))
        render_agi.plan(out, language=session.language)
        if through_json:
            session = Session.from_json(flow, session.to_json())
    assert session.ended
    closing = [a for a in actions if isinstance(a, act.CompleteCallback)]
    transferred = any(isinstance(a, act.Transfer) for a in actions)
    assert len(closing) == (0 if transferred else 1)
    for kind in (act.RecordFollowupVerdict, act.ConfirmSurvey):
        assert sum(isinstance(a, kind) for a in actions) <= 1
    if closing:  # the callback closes after every answer was sent
        assert isinstance([a for a in actions if isinstance(a, act.Effect)
                           and not isinstance(a, act.Step)][-1], act.CompleteCallback)
