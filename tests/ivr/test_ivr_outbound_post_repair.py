"""The post-repair callback (000: within three days): the callee rates the visit."""

from __future__ import annotations

import pytest
from outbound_calls import JOB, callee, completions, gather_nodes, outbound_call

from ivr import actions as act
from ivr import events as ev
from ivr.outbound import POST_REPAIR_SURVEY
from ivr.render_twiml import render
from ivr.session import Session

FLOW = POST_REPAIR_SURVEY


def test_full_call_saves_a_complete_survey_then_completes_the_callback() -> None:
    t = outbound_call(FLOW, ["1", "2", "4", "1"])
    assert t.effects == [
        act.SaveSurvey(
            job_id=42,
            grades={"timeliness": "A", "repair_quality": "B", "attitude": "D"},
            complete=True,
        ),
        act.CompleteCallback(
            "surveyed", "survey saved: timeliness A, repair_quality B, attitude D"
        ),
    ]
    assert t.prompts[-2:] == ["survey_thanks", "outbound_goodbye"]
    assert isinstance(t.last_media, act.Hangup)


def test_greeting_names_the_service_job_digit_by_digit() -> None:
    t = outbound_call(FLOW, [])
    first = t.turns[0].actions
    said = [a for a in first if isinstance(a, act.Say | act.SayDigits)]
    assert said[:3] == [
        act.Say("post_repair_greeting"),
        act.SayDigits("880042"),
        act.Say("post_repair_intro"),
    ]


def test_answers_are_read_back_before_they_are_saved() -> None:
    t = outbound_call(FLOW, ["5", "5", "3"])
    confirm = [a for a in t.actions if isinstance(a, act.Gather) and a.node == "survey_confirm"]
    assert confirm[0].prompt_ids[1:7] == (
        "item_timeliness", "grade_E", "item_repair_quality", "grade_E", "item_attitude", "grade_C",
    )


def test_two_at_the_read_back_asks_the_three_items_again() -> None:
    t = outbound_call(FLOW, ["1", "1", "1", "2", "3", "3", "3", "1"])
    saved = [e for e in t.effects if isinstance(e, act.SaveSurvey)]
    assert len(saved) == 1 and set(saved[0].grades.values()) == {"C"}


def test_zero_hands_the_callee_to_an_agent_and_leaves_the_callback_to_them() -> None:
    t = outbound_call(FLOW, ["1", "0"])
    assert isinstance(t.last_media, act.Transfer)
    assert completions(t) == []
    # what was given is kept, as an incomplete survey
    assert [e for e in t.effects if isinstance(e, act.SaveSurvey)][0].complete is False


def test_zero_when_no_agent_is_free_ends_politely_as_no_agent() -> None:
    t = outbound_call(FLOW, ["0"], agents_open=False)
    assert t.prompts[-1] == "outbound_agents_closed"
    assert completions(t)[0].disposition == "no_agent"


def test_an_invalid_key_is_refused_and_the_item_asked_again() -> None:
    t = outbound_call(FLOW, ["7", "1"])
    assert "invalid_choice" in t.prompts
    assert gather_nodes(t)[:3] == ["survey_timeliness", "survey_timeliness",
                                    "survey_repair_quality"]


def test_silence_four_times_ends_the_call_as_no_response() -> None:
    t = outbound_call(FLOW, [ev.Timeout()] * 4)
    assert t.prompts.count("no_input") == 3
    assert t.prompts[-1] == "outbound_no_response"
    assert t.effects == [act.CompleteCallback("no_response", "no_response")]


def test_hanging_up_mid_way_keeps_the_grades_given_as_an_incomplete_survey() -> None:
    t = outbound_call(FLOW, ["2", "3", ev.Hangup()])
    assert t.effects == [
        act.SaveSurvey(job_id=42, grades={"timeliness": "B", "repair_quality": "C"},
                       complete=False),
        act.CompleteCallback(
            "partial_survey",
            "survey not finished: timeliness B, repair_quality C; hung up at survey_attitude",
        ),
    ]


def test_hanging_up_during_the_greeting_completes_the_callback_as_hung_up() -> None:
    t = outbound_call(FLOW, [ev.Hangup()])
    assert t.effects == [act.CompleteCallback("hung_up", "hung up at survey_timeliness")]


def test_a_failed_save_takes_the_callee_to_an_agent() -> None:
    t = outbound_call(FLOW, ["1", "1", "1", "1"], back_office=lambda effect: None)
    assert "system_error" in t.prompts and isinstance(t.last_media, act.Transfer)


@pytest.mark.parametrize(
    ("language", "expected"),
    [("zh-CN", "上门维修服务"), ("en", "calling about your service visit")],
)
def test_the_greeting_is_spoken_in_the_customers_language(language: str, expected: str) -> None:
    session = Session(FLOW)
    out = session.handle(ev.Start(callee(JOB, language=language)))
    twiml = render(out, language=session.language, action_url="a", recording_url="r")
    assert expected in twiml and "8 8 0 0 4 2" in twiml
