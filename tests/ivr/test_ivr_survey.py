"""Rating the last service visit: three items, 1..5 -> A..E, confirmed."""

from __future__ import annotations

import pytest
from hotline_calls import call, no_recent_job, of_type, started, waiting_node

from ivr import actions as act
from ivr import events as ev


def test_full_survey_of_most_recent_job_is_saved_complete() -> None:
    t = call(["2", "1", "2", "3", "1", "2"])
    assert t.effects == [
        act.LookupJob(reference=None),
        act.SaveSurvey(
            job_id=42,
            grades={"timeliness": "A", "repair_quality": "B", "attitude": "C"},
            complete=True,
        ),
    ]
    assert "survey_thanks" in t.prompts
    assert isinstance(t.last_media, act.Hangup)


def test_items_are_asked_in_order_timeliness_quality_attitude() -> None:
    t = call(["2", "1", "1", "1"])
    asked = [
        p
        for p in t.prompts
        if p in {"survey_timeliness", "survey_repair_quality", "survey_attitude"}
    ]
    assert asked == ["survey_timeliness", "survey_repair_quality", "survey_attitude"]


@pytest.mark.parametrize(
    ("key", "grade"), [("1", "A"), ("2", "B"), ("3", "C"), ("4", "D"), ("5", "E")]
)
def test_keypad_one_to_five_maps_to_grades_a_to_e(key: str, grade: str) -> None:
    t = call(["2", key, key, key, "1"])
    saved = of_type(t.effects, act.SaveSurvey)[0]
    assert dict(saved.grades) == {"timeliness": grade, "repair_quality": grade, "attitude": grade}


def test_answers_are_read_back_before_confirming() -> None:
    t = call(["2", "5", "4", "1"])
    confirm = [g for g in of_type(t.actions, act.Gather) if g.node == "survey_confirm"][0]
    assert confirm.prompt_ids == (
        "survey_readback_intro",
        "item_timeliness",
        "grade_E",
        "item_repair_quality",
        "grade_D",
        "item_attitude",
        "grade_A",
        "survey_confirm",
    )


def test_two_at_confirmation_re_enters_the_answers() -> None:
    t = call(["2", "5", "5", "5", "2", "1", "1", "1", "1"])
    saves = of_type(t.effects, act.SaveSurvey)
    assert len(saves) == 1
    assert set(saves[0].grades.values()) == {"A"} and saves[0].complete


def test_no_recent_job_asks_for_the_job_reference() -> None:
    t = call(["2", "12345#", "1", "1", "1", "1"], back_office=no_recent_job)
    assert of_type(t.effects, act.LookupJob) == [act.LookupJob(None), act.LookupJob("12345")]
    assert "survey_no_recent_job" in t.prompts
    assert of_type(t.effects, act.SaveSurvey)[0].job_id == 77


def test_unknown_references_reprompt_then_go_to_an_agent() -> None:
    t = call(["2", "9", "8", "7", "6"], back_office=no_recent_job)
    assert t.prompts.count("survey_job_not_found") == 3
    assert len(of_type(t.effects, act.LookupJob)) == 5
    assert isinstance(t.last_media, act.Transfer)
    assert t.effects[-1] == act.LookupJob("6")


def test_hangup_after_two_answers_saves_an_incomplete_survey() -> None:
    t = call(["2", "1", "2", ev.Hangup()])
    assert t.effects[-1] == act.SaveSurvey(
        job_id=42, grades={"timeliness": "A", "repair_quality": "B"}, complete=False
    )


def test_hangup_before_confirming_saves_an_incomplete_survey() -> None:
    t = call(["2", "1", "2", "3", ev.Hangup()])
    assert t.effects[-1] == act.SaveSurvey(
        job_id=42,
        grades={"timeliness": "A", "repair_quality": "B", "attitude": "C"},
        complete=False,
    )


def test_hangup_before_any_answer_saves_nothing() -> None:
    t = call(["2", ev.Hangup()])
    assert of_type(t.effects, act.SaveSurvey) == []


def test_hangup_after_the_survey_is_saved_saves_nothing_twice() -> None:
    t = call(["2", "1", "1", "1", "1", ev.Hangup()])
    assert len(of_type(t.effects, act.SaveSurvey)) == 1


def test_hangup_while_the_save_is_pending_saves_nothing_twice() -> None:
    session, _ = started()
    session.handle(ev.Digits("2"))
    session.handle(ev.JobLookup(True, 42, "880042"))
    for key in "2221":
        out = session.handle(ev.Digits(key))
    assert of_type(out, act.SaveSurvey)[0].complete
    assert session.waiting_for == "SurveySaved"
    assert of_type(session.handle(ev.Hangup()), act.SaveSurvey) == []


def test_star_walks_back_through_the_questions_to_the_main_menu() -> None:
    session, _ = started()
    session.handle(ev.Digits("2"))
    session.handle(ev.JobLookup(True, 42, "880042"))
    session.handle(ev.Digits("1"))
    session.handle(ev.Digits("1"))
    assert waiting_node(session.handle(ev.Digits("*"))) == "survey_repair_quality"
    assert waiting_node(session.handle(ev.Digits("*"))) == "survey_timeliness"
    assert waiting_node(session.handle(ev.Digits("*"))) == "main_menu"


def test_lookup_failure_apologises_and_hands_over_to_an_agent() -> None:
    t = call(["2"], back_office=lambda effect: None)
    assert "system_error" in t.prompts
    assert isinstance(t.last_media, act.Transfer)
