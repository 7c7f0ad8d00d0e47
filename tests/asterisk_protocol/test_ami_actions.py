"""AMI actions on the wire: field order, repeated Variable lines, refused values."""

from __future__ import annotations

import pytest

from callcenter.telephony.asterisk import ami_actions
from callcenter.telephony.asterisk.ami_actions import Action
from callcenter.telephony.asterisk.errors import LocalProtocolError


def test_login_lists_username_secret_and_event_filter() -> None:
    action = ami_actions.login("1", "callcenter", "s3cret", events="call,agent")
    assert action.encode() == (
        b"Action: Login\r\nActionID: 1\r\nUsername: callcenter\r\nSecret: s3cret\r\n"
        b"Events: call,agent\r\n\r\n"
    )


def test_originate_writes_one_variable_line_per_variable() -> None:
    action = ami_actions.originate(
        "o1",
        "PJSIP/13800138000@trunk",
        context="callback",
        exten="s",
        priority=1,
        caller_id=ami_actions.format_caller_id("投诉热线", "4008001234"),
        timeout_ms=30000,
        channel_id="cb-42",
        other_channel_id="cb-42b",
        variables=[("COMPLAINT_ID", "42"), ("CALLBACK_TRY", "2")],
    )
    assert action.get_all("Variable") == ["COMPLAINT_ID=42", "CALLBACK_TRY=2"]
    assert (
        action.encode()
        == (
            "Action: Originate\r\nActionID: o1\r\nChannel: PJSIP/13800138000@trunk\r\n"
            "Context: callback\r\nExten: s\r\nPriority: 1\r\nTimeout: 30000\r\n"
            'CallerID: "投诉热线" <4008001234>\r\nAsync: true\r\nChannelId: cb-42\r\n'
            "OtherChannelId: cb-42b\r\nVariable: COMPLAINT_ID=42\r\nVariable: CALLBACK_TRY=2\r\n\r\n"
        ).encode()
    )


def test_originate_to_an_application_without_async() -> None:
    action = ami_actions.originate(
        "o2", "Local/4000@hotline", application="Playback", data="tt-monkeys", async_=False
    )
    assert action.fields == (
        ("Channel", "Local/4000@hotline"),
        ("Application", "Playback"),
        ("Data", "tt-monkeys"),
    )


def test_originate_needs_exactly_one_destination() -> None:
    with pytest.raises(LocalProtocolError):
        ami_actions.originate("o3", "Local/1@x")
    with pytest.raises(LocalProtocolError):
        ami_actions.originate("o4", "Local/1@x", context="c", exten="s", application="Playback")


def test_queue_add_writes_paused_as_true_or_false() -> None:
    action = ami_actions.queue_add("q1", "hotline-agents", "PJSIP/agent7", paused=True, penalty=2)
    assert action.encode() == (
        b"Action: QueueAdd\r\nActionID: q1\r\nQueue: hotline-agents\r\nInterface: PJSIP/agent7\r\n"
        b"Penalty: 2\r\nPaused: true\r\n\r\n"
    )


def test_small_actions() -> None:
    assert ami_actions.ping("p").encode() == b"Action: Ping\r\nActionID: p\r\n\r\n"
    assert ami_actions.logoff("l").encode() == b"Action: Logoff\r\nActionID: l\r\n\r\n"
    assert ami_actions.core_show_channels("c").encode() == (
        b"Action: CoreShowChannels\r\nActionID: c\r\n\r\n"
    )
    assert ami_actions.command("x", "core show uptime").encode() == (
        b"Action: Command\r\nActionID: x\r\nCommand: core show uptime\r\n\r\n"
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: Action("Ping", ""),
        lambda: Action("Ping", "a\r\nAction: Logoff"),
        lambda: Action("Ping Pong", "1"),
        lambda: Action("Ping", "1", (("Bad Key", "v"),)),
        lambda: Action("Ping", "1", (("ActionID", "2"),)),
        lambda: Action("Ping", "1", (("Key", "line\r\nAction: Logoff"),)),
        lambda: ami_actions.originate("o", "L/1", context="c", variables={"A=B": "1"}),
        lambda: ami_actions.originate("o", "L/1", context="c", variables={"A": "1\n2"}),
        lambda: ami_actions.format_caller_id('say "hi"', "1"),
    ],
)
def test_values_that_would_inject_or_break_a_line_are_refused(build: object) -> None:
    with pytest.raises(LocalProtocolError):
        build()  # type: ignore[operator]
