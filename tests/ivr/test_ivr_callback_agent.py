"""Callback windows in the caller's time zone, and reaching an agent."""

from __future__ import annotations

import dataclasses

import pytest
from hotline_calls import LATE_EVENING, call, caller, of_type, waiting_node

from ivr import actions as act
from ivr import events as ev
from ivr.hotline import HOTLINE
from ivr.simulate import cooperative_back_office, run


@pytest.mark.parametrize(
    ("key", "window"),
    [("1", "today"), ("2", "tomorrow_morning"), ("3", "tomorrow_afternoon")],
)
def test_caller_books_each_callback_window(key: str, window: str) -> None:
    t = call(["3", key, "2"])
    assert t.effects == [act.ScheduleCallback(window)]
    assert f"callback_confirmed_{window}" in t.prompts
    assert isinstance(t.last_media, act.Hangup)


def test_after_the_last_callback_hour_today_is_not_offered() -> None:
    t = call(["3", "1", "2"], local_now_iso=LATE_EVENING)
    assert "callback_today_unavailable" in t.prompts
    assert "callback_menu" not in t.prompts
    assert t.steps[2] == act.Step("callback_menu_late", "1", "invalid")
    assert t.effects == [act.ScheduleCallback("tomorrow_morning")]


def test_just_before_the_last_callback_hour_today_is_still_offered() -> None:
    t = call(["3", "1"], local_now_iso="2024-05-06T19:59:00+08:00")
    assert t.effects == [act.ScheduleCallback("today")]


def test_last_callback_hour_is_flow_data() -> None:
    later = dataclasses.replace(HOTLINE, last_callback_hour=22)
    t = run(later, caller(local_now_iso=LATE_EVENING), ["3", "1"], cooperative_back_office)
    assert t.effects == [act.ScheduleCallback("today")]


def test_unknown_local_time_offers_only_tomorrow() -> None:
    t = call(["3", "2"], local_now_iso="not a time")
    assert "callback_menu_late" in t.prompts


def test_callback_booking_failure_goes_to_an_agent_when_open() -> None:
    t = call(["3", "1"], back_office=lambda e: ev.EffectFailed("ScheduleCallback", "x"))
    assert isinstance(t.last_media, act.Transfer)


def test_zero_transfers_to_the_agent_queue_with_the_ivr_path() -> None:
    t = call(["1", "*", "0"])
    assert t.last_media == act.Transfer(
        queue="hotline-agents",
        reason="caller_request",
        path="main_menu>complaint_category>main_menu>agent_transfer",
    )
    assert t.prompts[-1] == "agent_transfer"


def test_outside_opening_hours_zero_offers_a_callback_instead() -> None:
    t = call(["0", "2"], agents_open=False)
    assert "agents_closed" in t.prompts
    assert of_type(t.actions, act.Transfer) == []
    assert t.effects == [act.ScheduleCallback("tomorrow_morning")]


def test_closed_and_callback_menu_unusable_ends_politely() -> None:
    t = call(["0", "7", "7", "7", "7"], agents_open=False)
    assert t.prompts[-1] == "goodbye_unresolved"
    assert isinstance(t.last_media, act.Hangup)


def test_star_from_callback_menu_returns_to_main_menu() -> None:
    t = call(["3", "*"])
    gathers = of_type(t.actions, act.Gather)
    assert [g.node for g in gathers] == ["main_menu", "callback_menu", "main_menu"]
    assert waiting_node(list(t.turns[-2].actions)) == "main_menu"
