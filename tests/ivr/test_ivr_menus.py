"""No dead ends: retries, silence, ``*`` back, ``9`` repeat, spoken digits."""

from __future__ import annotations

import pytest
from hotline_calls import call, no_recent_job, of_type, started, waiting_node

from ivr import actions as act
from ivr import events as ev
from ivr.flow import DigitEntry, Menu, Recording
from ivr.hotline import HOTLINE
from ivr.session import Session

RECORDED = ev.RecordingDone("https://rec.example/RE1", 42)


def test_three_invalid_keys_reprompt_then_the_fourth_goes_to_an_agent() -> None:
    t = call(["7", "5", "#", "6"])
    assert t.prompts.count("invalid_choice") == 3
    assert t.prompts.count("main_menu") == 4
    assert [s.outcome for s in t.steps[1:]] == ["invalid"] * 3 + ["retries_exhausted"]
    assert isinstance(t.last_media, act.Transfer)
    assert t.last_media.reason == "retries_exhausted"


def test_invalid_keys_when_closed_lead_to_the_callback_offer() -> None:
    t = call(["7", "7", "7", "7", "1"], agents_open=False)
    assert of_type(t.actions, act.Transfer) == []
    assert "agents_closed" in t.prompts
    assert t.effects == [act.ScheduleCallback("today")]


@pytest.mark.parametrize("nothing", [ev.Timeout(), ev.Digits("")], ids=["timeout", "empty"])
def test_silence_reprompts_then_goes_to_an_agent(nothing: ev.Event) -> None:
    t = call([nothing] * 4)
    assert t.prompts.count("no_input") == 3
    assert isinstance(t.last_media, act.Transfer)


def test_silence_when_closed_offers_a_callback() -> None:
    t = call([ev.Timeout()] * 4, agents_open=False)
    assert waiting_node(list(t.turns[-2].actions)) == "callback_menu"


def test_nine_repeats_the_menu_without_using_up_retries() -> None:
    t = call(["9", "9", "9", "9", "9", "7", "7", "7", "1"])
    assert t.prompts.count("main_menu") == 9
    assert "invalid_choice" in t.prompts
    assert waiting_node(list(t.turns[-2].actions)) == "complaint_category"


def test_retries_start_afresh_in_each_menu() -> None:
    t = call(["7", "7", "7", "1", "7", "7", "7", "2", RECORDED])
    assert of_type(t.actions, act.Transfer) == []
    assert of_type(t.effects, act.CreateComplaint)[0].category == "attitude"


def test_spoken_digits_choose_like_keys() -> None:
    t = call([ev.Speech("我要投诉，按一"), ev.Speech("two"), RECORDED])
    assert of_type(t.effects, act.CreateComplaint)[0].category == "attitude"


# Key presses that bring a caller to every node that waits for them.
WAY_TO = {
    "main_menu": [],
    "complaint_category": ["1"],
    "complaint_record": ["1", "1"],
    "survey_reference": ["2"],
    "survey_timeliness": ["2", "12345#"],
    "survey_repair_quality": ["2", "12345#", "1"],
    "survey_attitude": ["2", "12345#", "1", "1"],
    "survey_confirm": ["2", "12345#", "1", "1", "1"],
    "callback_menu": ["3"],
    "after_menu": ["3", "1"],
    "status_menu": ["4"],
    "status_ticket_entry": ["4", "1"],
}
WAY_TO_LATE = {"callback_menu_late": ["3"]}
#: for a caller whose number cannot be called back (withheld, foreign, unparseable)
WAY_TO_WITHHELD = {
    "callback_number_entry": ["3"],
    "callback_number_confirm": ["3", "13912345678#"],
}
ALL_WAYS = set(WAY_TO) | set(WAY_TO_LATE) | set(WAY_TO_WITHHELD)


def _session_at(node: str) -> tuple[Session, list[act.Action]]:
    late = node in WAY_TO_LATE
    session, out = started(
        local_now_iso="2024-05-06T21:00:00+08:00" if late else "2024-05-06T10:00:00+08:00",
        callback_number_known=node not in WAY_TO_WITHHELD,
    )
    ways = WAY_TO_LATE if late else WAY_TO_WITHHELD if node in WAY_TO_WITHHELD else WAY_TO
    for key in ways[node]:
        out = session.handle(ev.Digits(key))
        while session.waiting_for is not None:
            effect = [a for a in out if isinstance(a, act.Effect) and not isinstance(a, act.Step)]
            result = no_recent_job(effect[-1])
            assert result is not None
            out = session.handle(result)
    assert waiting_node(out) == node
    return session, out


def test_every_waiting_node_of_the_hotline_is_covered_here() -> None:
    waiting = {
        n for n, node in HOTLINE.nodes.items() if isinstance(node, Menu | DigitEntry | Recording)
    }
    assert waiting == ALL_WAYS


@pytest.mark.parametrize("node_id", sorted(ALL_WAYS))
def test_star_goes_back_one_level_everywhere(node_id: str) -> None:
    session, _ = _session_at(node_id)
    out = session.handle(ev.Digits("*"))
    node = HOTLINE.nodes[node_id]
    assert isinstance(node, Menu | DigitEntry | Recording)
    assert out[0] == act.Step(node_id, "*", "back")
    assert waiting_node(out) == node.back


@pytest.mark.parametrize(
    "node_id",
    sorted(n for n in ALL_WAYS if isinstance(HOTLINE.nodes[n], Menu)),
)
def test_nine_repeats_every_menu(node_id: str) -> None:
    session, before = _session_at(node_id)
    out = session.handle(ev.Digits("9"))
    node = HOTLINE.nodes[node_id]
    assert isinstance(node, Menu)
    if "9" in node.options:  # a menu whose "9" repeats what came before it too (a read-back)
        assert out[0] == act.Step(node_id, "9", "selected")
        assert [a for a in out if isinstance(a, act.Gather)] == [
            g for g in before if isinstance(g, act.Gather)][-1:]
        return
    assert out[0] == act.Step(node_id, "9", "repeat")
    assert out[1:] == [g for g in before if isinstance(g, act.Gather)][-1:]


def test_every_input_leaves_a_step_for_the_drop_out_report() -> None:
    t = call(["1", "7", "2", RECORDED, "2"])
    assert [(s.node, s.keys, s.outcome) for s in t.steps] == [
        ("greeting", "", "call_started"),
        ("main_menu", "1", "selected"),
        ("complaint_category", "7", "invalid"),
        ("complaint_category", "2", "selected"),
        ("complaint_record", "", "recorded"),
        ("complaint_create", "", "done"),
        ("after_menu", "2", "selected"),
    ]


def test_events_that_do_not_fit_change_nothing() -> None:
    session, _ = started()
    session.handle(ev.Digits("2"))
    assert session.waiting_for == "JobLookup"
    assert session.handle(ev.Digits("1")) == []
    assert session.handle(ev.SurveySaved(3)) == []
    assert session.handle(ev.EffectFailed("SaveSurvey")) == []
    assert session.waiting_for == "JobLookup"
    assert session.handle(ev.Start(session.context)) == []


def test_ended_call_ignores_everything() -> None:
    session, _ = started()
    session.handle(ev.Hangup())
    assert session.ended
    assert session.handle(ev.Digits("1")) == []
    assert session.handle(ev.ComplaintCreated("1")) == []
