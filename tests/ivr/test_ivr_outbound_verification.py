"""The survey verification call (001): the callee confirms or contradicts the form."""

from __future__ import annotations

from outbound_calls import completions, outbound_call

from ivr import actions as act
from ivr import events as ev
from ivr.outbound import SURVEY_VERIFICATION

FLOW = SURVEY_VERIFICATION


def test_the_grades_on_the_form_are_read_before_the_question() -> None:
    t = outbound_call(FLOW, [])
    question = [a for a in t.actions if isinstance(a, act.Gather)][0]
    assert question.node == "verify_correct"
    assert question.prompt_ids == (
        "verify_readback_intro",
        "item_timeliness", "grade_A",
        "item_repair_quality", "grade_B",
        "item_attitude", "grade_E",
        "verify_correct",
    )


def test_one_confirms_the_form() -> None:
    t = outbound_call(FLOW, ["1"])
    assert t.effects == [
        act.ConfirmSurvey(survey_id=9, confirmed=True, grades={}, complete=True),
        act.CompleteCallback("confirmed", "recorded grades correct: yes"),
    ]
    assert t.prompts[-2:] == ["verify_thanks", "outbound_goodbye"]


def test_two_then_re_entering_disputes_the_form_with_the_customers_grades() -> None:
    t = outbound_call(FLOW, ["2", "1", "1", "1", "2", "1"])
    assert t.effects[0] == act.ConfirmSurvey(
        survey_id=9, confirmed=False,
        grades={"timeliness": "A", "repair_quality": "A", "attitude": "B"}, complete=True,
    )
    assert completions(t)[0].disposition == "disputed"
    assert "attitude B" in completions(t)[0].feedback


def test_two_without_re_entry_disputes_the_form_with_no_grades() -> None:
    t = outbound_call(FLOW, ["2", "2"])
    assert t.effects[0] == act.ConfirmSurvey(9, False, {}, True)


def test_hanging_up_half_way_through_the_re_entry_still_disputes() -> None:
    t = outbound_call(FLOW, ["2", "1", "4", ev.Hangup()])
    assert t.effects == [
        act.ConfirmSurvey(9, False, {"timeliness": "D"}, complete=False),
        act.CompleteCallback(
            "disputed",
            "recorded grades correct: no; customer's grades: timeliness D; "
            "hung up at survey_repair_quality",
        ),
    ]


def test_silence_during_the_re_entry_still_records_the_dispute() -> None:
    t = outbound_call(FLOW, ["2", "1", "", "", "", ""])
    assert t.effects[0] == act.ConfirmSurvey(9, False, {}, True)


def test_hanging_up_before_answering_verifies_nothing() -> None:
    t = outbound_call(FLOW, [ev.Hangup()])
    assert t.effects == [act.CompleteCallback("hung_up", "hung up at verify_correct")]


def test_silence_ends_the_call_as_no_response() -> None:
    t = outbound_call(FLOW, [ev.Timeout()] * 4)
    assert t.effects == [act.CompleteCallback("no_response", "no_response")]


def test_an_invalid_key_asks_again_with_the_grades() -> None:
    t = outbound_call(FLOW, ["6", "1"])
    questions = [a for a in t.actions if isinstance(a, act.Gather)]
    assert [q.node for q in questions] == ["verify_correct", "verify_correct"]
    assert "grade_E" in questions[1].prompt_ids
    assert completions(t)[0].disposition == "confirmed"


def test_a_form_with_a_missing_grade_reads_only_the_grades_it_has() -> None:
    from outbound_calls import FORM, callee

    from ivr.session import Session

    session = Session(FLOW)
    out = session.handle(ev.Start(callee({**FORM, "recorded_attitude": None})))
    question = [a for a in out if isinstance(a, act.Gather)][0]
    assert "grade_E" not in question.prompt_ids and "grade_B" in question.prompt_ids

