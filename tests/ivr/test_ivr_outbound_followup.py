"""The complaint follow-up call (二次回访): the outcome, then the service."""

from __future__ import annotations

from outbound_calls import completions, gather_nodes, outbound_call

from ivr import actions as act
from ivr import events as ev
from ivr.outbound import COMPLAINT_FOLLOWUP

FLOW = COMPLAINT_FOLLOWUP


def test_the_ticket_is_named_digit_by_digit_before_the_question() -> None:
    t = outbound_call(FLOW, [])
    said = [a for a in t.turns[0].actions if isinstance(a, act.Say | act.SayDigits)]
    assert said == [
        act.Say("followup_greeting"),
        act.SayDigits("2605180003"),
        act.Say("followup_intro"),
    ]
    assert gather_nodes(t)[0] == "followup_resolved"


def test_a_satisfied_customer_is_thanked_and_the_verdict_recorded() -> None:
    t = outbound_call(FLOW, ["1", "2"])
    assert t.effects == [
        act.RecordFollowupVerdict(complaint_id=3, satisfied=True, service_grade="B",
                                  complete=True),
        act.CompleteCallback("satisfied", "resolved to satisfaction: yes; service grade: B"),
    ]
    assert t.prompts[-2:] == ["followup_thanks_yes", "outbound_goodbye"]


def test_a_dissatisfied_customer_is_told_the_complaint_will_be_reopened() -> None:
    t = outbound_call(FLOW, ["2", "5"])
    verdict = [e for e in t.effects if isinstance(e, act.RecordFollowupVerdict)][0]
    assert (verdict.satisfied, verdict.service_grade) == (False, "E")
    assert "followup_thanks_no" in t.prompts
    assert completions(t)[0].disposition == "dissatisfied"


def test_hanging_up_after_not_satisfied_still_records_the_verdict() -> None:
    t = outbound_call(FLOW, ["2", ev.Hangup()])
    assert t.effects == [
        act.RecordFollowupVerdict(complaint_id=3, satisfied=False, service_grade=None,
                                  complete=False),
        act.CompleteCallback("dissatisfied",
                             "resolved to satisfaction: no; hung up at followup_service"),
    ]


def test_silence_at_the_service_rating_records_the_verdict_without_a_grade() -> None:
    t = outbound_call(FLOW, ["1", "", "", "", ""])
    verdict = [e for e in t.effects if isinstance(e, act.RecordFollowupVerdict)]
    assert verdict == [act.RecordFollowupVerdict(3, True, None, complete=False)]
    assert t.prompts[-2:] == ["followup_thanks_yes", "outbound_goodbye"]


def test_invalid_keys_at_the_outcome_question_are_refused() -> None:
    t = outbound_call(FLOW, ["8", "#", "1", "1"])
    assert t.prompts.count("invalid_choice") == 2
    assert completions(t)[0].disposition == "satisfied"


def test_no_answer_at_all_records_no_verdict() -> None:
    t = outbound_call(FLOW, ["", "", "", ""])
    assert t.effects == [act.CompleteCallback("no_response", "no_response")]


def test_star_at_the_rating_goes_back_to_the_outcome_question() -> None:
    t = outbound_call(FLOW, ["1", "*", "2", "3"])
    verdict = [e for e in t.effects if isinstance(e, act.RecordFollowupVerdict)][0]
    assert verdict.satisfied is False


def test_zero_reaches_an_agent_with_the_verdict_kept() -> None:
    t = outbound_call(FLOW, ["2", "0"])
    assert isinstance(t.last_media, act.Transfer)
    assert [type(e) for e in t.effects] == [act.RecordFollowupVerdict]


def test_a_failed_verdict_takes_the_callee_to_an_agent() -> None:
    def refusing(effect: act.Effect) -> ev.Event | None:
        return None

    t = outbound_call(FLOW, ["1", "1"], back_office=refusing)
    assert "system_error" in t.prompts and isinstance(t.last_media, act.Transfer)

