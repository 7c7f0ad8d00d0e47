"""Any process can continue any call: the state round-trips through JSON."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest
from hotline_calls import LATE_EVENING, RECORDED_URL, call, no_recent_job, started, waiting_node

from ivr import events as ev
from ivr.hotline import HOTLINE
from ivr.session import Session
from ivr.simulate import Transcript
from ivr.state import SessionError

RECORDED = ev.RecordingDone(RECORDED_URL, 42)

CALLS: dict[str, Callable[[bool], Transcript]] = {
    "complaint": lambda j: call(["1", "2", RECORDED, "1", "1", "3", ev.Hangup()], through_json=j),
    "survey": lambda j: call(
        ["2", "1", "7", "2", "3", "2", "1", "1", "1", "1", "2"], through_json=j
    ),
    "survey by reference": lambda j: call(
        ["2", "55#", "12345#", "4", "4", ev.Hangup()], back_office=no_recent_job, through_json=j
    ),
    "callback late": lambda j: call(
        ["3", "1", "3", "1", "0"], local_now_iso=LATE_EVENING, through_json=j
    ),
    "closed agent": lambda j: call(
        ["0", "9", "*", "7", "7", "7", "7", "7", "7", "7"], agents_open=False, through_json=j
    ),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_serialising_after_every_event_gives_the_same_call(name: str) -> None:
    direct = CALLS[name](False)
    resumed = CALLS[name](True)
    assert resumed.turns == direct.turns
    assert resumed.final_state == direct.final_state
    assert len(direct.turns) > 3


def test_state_is_plain_json_with_the_flow_name() -> None:
    session, _ = started()
    session.handle(ev.Digits("2"))
    state = json.loads(session.to_json())
    assert state["flow"] == "hotline"
    assert state["waiting"] == "JobLookup"
    assert state["context"]["local_now_iso"] == "2024-05-06T10:00:00+08:00"


def test_resumed_session_finishes_a_pending_effect() -> None:
    session, _ = started()
    session.handle(ev.Digits("2"))
    again = Session.from_json(HOTLINE, session.to_json())
    assert again.waiting_for == "JobLookup"
    assert waiting_node(again.handle(ev.JobLookup(True, 42, "880042"))) == "survey_timeliness"


def test_state_of_another_flow_is_refused() -> None:
    session, _ = started()
    other = dataclasses.replace(HOTLINE, name="other-hotline")
    with pytest.raises(SessionError, match="other-hotline"):
        Session.from_json(other, session.to_json())


@pytest.mark.parametrize(
    "broken",
    [
        "",
        "[]",
        "{}",
        '{"v": 1, "flow": "hotline", "node": "nowhere"}',
        '{"v": 1, "flow": "hotline", "node": "main_menu"}',
    ],
)
def test_unreadable_state_raises_session_error(broken: str) -> None:
    with pytest.raises(SessionError):
        Session.from_json(HOTLINE, broken)


def test_state_waiting_outside_an_effect_is_refused() -> None:
    session, _ = started()
    state = json.loads(session.to_json())
    state["waiting"] = "JobLookup"
    with pytest.raises(SessionError):
        Session.from_json(HOTLINE, json.dumps(state))


def test_event_before_start_is_an_adapter_bug() -> None:
    with pytest.raises(SessionError, match="Start"):
        Session(HOTLINE).handle(ev.Digits("1"))
