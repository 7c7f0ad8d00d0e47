"""Complaint by keys: category, recorded description, ticket read back."""

from __future__ import annotations

import pytest
from hotline_calls import call, of_type, started, waiting_node

from ivr import actions as act
from ivr import events as ev

RECORDED = ev.RecordingDone("https://rec.example/RE1", 42)


def test_full_complaint_creates_ticket_and_reads_it_back_digit_by_digit() -> None:
    t = call(["1", "2", RECORDED, "2"])
    assert t.effects == [
        act.CreateComplaint(
            category="attitude", recording_url="https://rec.example/RE1", partial=False
        )
    ]
    assert act.SayDigits("20240001") in t.actions
    said = t.prompts
    assert said.index("complaint_ticket_intro") < said.index("complaint_thanks")
    assert said[-2:] == ["after_menu", "goodbye"]
    assert isinstance(t.last_media, act.Hangup)


@pytest.mark.parametrize(
    ("key", "category"),
    [
        ("1", "repair_quality"),
        ("2", "attitude"),
        ("3", "timeliness"),
        ("4", "billing"),
        ("5", "other"),
    ],
)
def test_category_keys_map_to_complaint_categories(key: str, category: str) -> None:
    t = call(["1", key, RECORDED, "2"])
    assert of_type(t.effects, act.CreateComplaint)[0].category == category


def test_recording_prompt_allows_two_minutes_ended_by_hash() -> None:
    t = call(["1", "1"])
    record = of_type(t.actions, act.Record)[0]
    assert (record.prompt, record.max_length_s, record.finish_on_key) == (
        "complaint_record",
        120,
        "#",
    )


def test_hangup_before_recording_still_creates_a_partial_complaint() -> None:
    t = call(["1", "4", ev.Hangup()])
    assert t.effects == [act.CreateComplaint(category="billing", recording_url=None, partial=True)]


def test_hangup_at_category_menu_creates_nothing() -> None:
    t = call(["1", ev.Hangup()])
    assert t.effects == []
    assert t.steps[-1] == act.Step("complaint_category", "", "hangup")


def test_hangup_while_ticket_is_pending_does_not_create_twice() -> None:
    session, _ = started()
    session.handle(ev.Digits("1"))
    session.handle(ev.Digits("1"))
    out = session.handle(RECORDED)
    assert of_type(out, act.CreateComplaint) == [
        act.CreateComplaint("repair_quality", "https://rec.example/RE1", False)
    ]
    assert session.waiting_for == "ComplaintCreated"
    assert of_type(session.handle(ev.Hangup()), act.CreateComplaint) == []
    assert session.ended


def test_hangup_after_ticket_read_back_stores_nothing_more() -> None:
    t = call(["1", "3", RECORDED, ev.Hangup()])
    assert len(t.effects) == 1


def test_silent_recording_reprompts_then_goes_to_agent_keeping_the_complaint() -> None:
    silence = ev.RecordingDone("", 0)
    t = call(["1", "1", silence, ev.Timeout(), silence, silence])
    assert t.prompts.count("complaint_record") == 4
    assert t.effects == [act.CreateComplaint("repair_quality", None, partial=True)]
    transfer = t.last_media
    assert isinstance(transfer, act.Transfer)
    assert transfer.reason == "retries_exhausted"


def test_star_during_recording_goes_back_to_the_categories() -> None:
    session, _ = started()
    session.handle(ev.Digits("1"))
    session.handle(ev.Digits("2"))
    out = session.handle(ev.Digits("*"))
    assert waiting_node(out) == "complaint_category"
    assert session.handle(ev.Hangup()) == [act.Step("complaint_category", "", "hangup")]


def test_complaint_store_failure_apologises_and_hands_over_to_an_agent() -> None:
    def broken(effect: act.Effect) -> ev.Event | None:
        return ev.EffectFailed("CreateComplaint", "database down")

    t = call(["1", "2", RECORDED], back_office=broken)
    assert "system_error" in t.prompts
    assert isinstance(t.last_media, act.Transfer)
    assert t.last_media.reason == "effect_failed"
    assert len(of_type(t.effects, act.CreateComplaint)) == 1


def test_second_complaint_in_one_call_is_a_new_complaint() -> None:
    t = call(["1", "1", RECORDED, "1", "1", "5", ev.Hangup()])
    assert t.effects == [
        act.CreateComplaint("repair_quality", "https://rec.example/RE1", False),
        act.CreateComplaint("other", None, True),
    ]
