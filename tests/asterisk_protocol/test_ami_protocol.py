"""AmiConnection rules on hand-written bytes: splits, lists, legacy output, garbage, caps."""

from __future__ import annotations

import pytest

from callcenter.telephony.asterisk import ami_actions
from callcenter.telephony.asterisk.ami_protocol import (
    NEED_DATA,
    AmiConnection,
    AmiEvent,
    AmiFields,
    AmiGreeting,
    AmiOutput,
    AmiResponse,
    AmiState,
    EventListResult,
    LocalProtocolError,
    RemoteProtocolError,
)
from callcenter.telephony.asterisk.stream import ConnectionClosed

GREETING = b"Asterisk Call Manager/11.0.0\r\n"


def opened(**limits: int) -> AmiConnection:
    conn = AmiConnection(**limits)
    conn.receive_data(GREETING)
    assert conn.next_event() == AmiGreeting("Asterisk Call Manager", "11.0.0")
    return conn


def drain(conn: AmiConnection) -> list[AmiOutput]:
    out: list[AmiOutput] = []
    while (event := conn.next_event()) is not NEED_DATA:
        out.append(event)
        if isinstance(event, ConnectionClosed):
            break
    return out


def test_several_messages_in_one_read_come_out_one_by_one() -> None:
    conn = opened()
    conn.receive_data(
        b"Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n"
        b"Response: Success\r\nActionID: p1\r\nPing: Pong\r\n\r\n"
        b"Event: Newexten\r\nApplication: AGI\r\n\r\nEvent: Hal"
    )
    first, second, third = drain(conn)
    assert isinstance(first, AmiEvent) and first.name == "FullyBooted"
    assert isinstance(second, AmiResponse) and second.action_id == "p1"
    assert isinstance(third, AmiEvent) and third.fields["Application"] == "AGI"
    assert conn.trailing_data == (b"Event: Hal", False)


def test_greeting_and_first_message_may_share_a_read() -> None:
    conn = AmiConnection()
    conn.receive_data(GREETING + b"Response: Success\r\nActionID: l1\r\n\r\n")
    greeting, response = drain(conn)
    assert isinstance(greeting, AmiGreeting) and greeting.version == "11.0.0"
    assert isinstance(response, AmiResponse) and response.response == "Success"


def test_invalid_utf8_is_replaced_never_raised() -> None:
    conn = opened()
    conn.receive_data(b"Event: Newchannel\r\nCallerIDName: \xe5\xbc\xa0\xff\r\n\r\n")
    (event,) = drain(conn)
    assert isinstance(event, AmiEvent) and event.fields["CallerIDName"] == "张\ufffd"


def test_values_keep_colons_and_empty_values_stay_empty() -> None:
    conn = opened()
    conn.receive_data(b"Event: CEL\r\nAppData: a:b: c\r\nPeer: \r\nExtra:\r\n\r\n")
    (event,) = drain(conn)
    assert isinstance(event, AmiEvent)
    assert list(event.fields) == [
        ("Event", "CEL"),
        ("AppData", "a:b: c"),
        ("Peer", ""),
        ("Extra", ""),
    ]


def test_field_lookup_ignores_key_case_and_keeps_repeats() -> None:
    fields = AmiFields((("Linkedid", "1"), ("Variable", "A=1"), ("variable", "B=2")))
    assert fields["LinkedID"] == "1"
    assert fields.get_all("VARIABLE") == ["A=1", "B=2"]
    assert "linkedid" in fields and "Uniqueid" not in fields
    with pytest.raises(KeyError):
        fields["Uniqueid"]


def test_event_list_holds_its_items_while_other_events_flow() -> None:
    conn = opened()
    conn.send(ami_actions.Action("QueueStatus", "q1"))
    conn.receive_data(
        b"Response: Success\r\nActionID: q1\r\nEventList: start\r\nMessage: Queue status will follow\r\n\r\n"
        b"Event: QueueParams\r\nActionID: q1\r\nQueue: hotline-agents\r\n\r\n"
        b"Event: Newchannel\r\nUniqueid: call-9\r\n\r\n"
        b"Event: QueueMember\r\nActionID: q1\r\nName: \xe6\x9d\x8e\xe5\x9b\x9b\r\n\r\n"
        b"Event: QueueStatusComplete\r\nActionID: q1\r\nEventList: Complete\r\nListItems: 2\r\n\r\n"
    )
    newchannel, result = drain(conn)
    assert isinstance(newchannel, AmiEvent) and newchannel.fields["Uniqueid"] == "call-9"
    assert isinstance(result, EventListResult)
    assert result.action_id == "q1"
    assert result.response.message == "Queue status will follow"
    assert [e.name for e in result.events] == ["QueueParams", "QueueMember"]
    assert result.events[1].fields["Name"] == "李四"
    assert result.complete.fields["ListItems"] == "2"
    assert conn.outstanding_action_ids == frozenset()


def test_an_event_list_over_the_item_cap_is_refused() -> None:
    conn = opened(max_event_list_items=2)
    conn.receive_data(b"Response: Success\r\nActionID: big\r\nEventList: start\r\n\r\n")
    conn.receive_data(b"Event: CoreShowChannel\r\nActionID: big\r\n\r\n" * 3)
    with pytest.raises(RemoteProtocolError, match="2 events"):
        drain(conn)


def test_legacy_follows_output_is_read_until_end_command() -> None:
    conn = opened()
    conn.receive_data(
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: c1\r\n"
        b"Channel              Location\n"
        b"SIP/100-0001: \r\n\r\n 2 active channels\n"
        b"--END COMMAND--\r\n\r\n"
        b"Event: Ping\r\n\r\n"
    )
    response, event = drain(conn)
    assert isinstance(response, AmiResponse)
    assert response.response == "Follows" and response.action_id == "c1"
    # a blank CRLF line inside the output does not end the message early
    assert response.output == (
        "Channel              Location",
        "SIP/100-0001: ",
        "",
        " 2 active channels",
    )
    assert isinstance(event, AmiEvent) and event.name == "Ping"


def test_legacy_follows_with_no_output() -> None:
    conn = opened()
    conn.receive_data(b"Response: Follows\r\nActionID: c2\r\n--END COMMAND--\r\n\r\n")
    (response,) = drain(conn)
    assert isinstance(response, AmiResponse) and response.output == ()


@pytest.mark.parametrize(
    "garbage",
    [
        b"Response: Success\r\nno colon here\r\n\r\n",
        b"Channel: PJSIP/1\r\nEvent: Hangup\r\n\r\n",
        b": empty key\r\n\r\n",
        b" Event: leading space\r\n\r\n",
    ],
)
def test_garbage_messages_raise_remote_protocol_error_and_stay_broken(garbage: bytes) -> None:
    conn = opened()
    conn.receive_data(garbage)
    with pytest.raises(RemoteProtocolError):
        conn.next_event()
    assert conn.state is AmiState.ERROR
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


@pytest.mark.parametrize("line", [b"SSH-2.0-OpenSSH_9.2\r\n", b"\r\n", b"HTTP 200\r\n"])
def test_a_peer_that_is_not_asterisk_fails_at_the_greeting(line: bytes) -> None:
    conn = AmiConnection()
    conn.receive_data(line)
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


def test_a_message_that_never_ends_hits_the_buffer_cap() -> None:
    conn = opened(max_buffer_size=4096)
    conn.receive_data(b"Event: Flood\r\n" + b"Key: value\r\n" * 400)
    with pytest.raises(RemoteProtocolError, match="4096"):
        conn.next_event()


def test_stray_blank_lines_between_messages_are_skipped() -> None:
    conn = opened()
    conn.receive_data(b"\r\n\r\nEvent: A\r\n\r\n\r\nEvent: B\r\n\r\n")
    assert [e.name for e in drain(conn) if isinstance(e, AmiEvent)] == ["A", "B"]


def test_clean_eof_closes_and_keeps_saying_closed() -> None:
    conn = opened()
    conn.receive_data(b"Response: Goodbye\r\nActionID: x\r\n\r\n")
    conn.receive_data(b"")
    assert isinstance(conn.next_event(), AmiResponse)
    assert conn.next_event() == ConnectionClosed()
    assert conn.next_event() == ConnectionClosed()
    with pytest.raises(LocalProtocolError):
        conn.send(ami_actions.ping("late"))


def test_eof_in_the_middle_of_a_message_is_the_peers_fault() -> None:
    conn = opened()
    conn.receive_data(b"Event: Hangup\r\nUniqueid: call-1\r\n")
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match="middle"):
        conn.next_event()


def test_reusing_an_action_id_still_waiting_is_our_bug() -> None:
    conn = opened()
    conn.send(ami_actions.ping("p1"))
    with pytest.raises(LocalProtocolError, match="p1"):
        conn.send(ami_actions.ping("p1"))
    conn.receive_data(b"Response: Success\r\nActionID: p1\r\nPing: Pong\r\n\r\n")
    drain(conn)
    assert conn.send(ami_actions.ping("p1")) == b"Action: Ping\r\nActionID: p1\r\n\r\n"


def test_an_action_id_stays_taken_until_its_event_list_completes() -> None:
    conn = opened()
    conn.send(ami_actions.core_show_channels("l1"))
    conn.receive_data(b"Response: Success\r\nActionID: l1\r\nEventList: start\r\n\r\n")
    assert drain(conn) == []
    with pytest.raises(LocalProtocolError):
        conn.send(ami_actions.core_show_channels("l1"))


def test_nothing_may_be_sent_after_logoff() -> None:
    conn = opened()
    conn.send(ami_actions.logoff("bye"))
    with pytest.raises(LocalProtocolError, match="Logoff"):
        conn.send(ami_actions.ping("p2"))


def test_actions_may_be_sent_before_the_greeting_arrives() -> None:
    conn = AmiConnection()
    data = conn.send(ami_actions.login("l1", "callcenter", "s3cret"))
    assert data.startswith(b"Action: Login\r\nActionID: l1\r\n")


CHINESE_EMPTY_LAST = (
    "Event: Newchannel\r\nChannel: PJSIP/trunk-0001\r\nCallerIDName: 张三丰\r\n"
    "ActionID: a7\r\nAccountCode: \r\n\r\n"
    "Event: Hangup\r\nConnectedLineName: 李四\r\nCause-txt: Normal Clearing\r\nLinkedid: \r\n\r\n"
).encode()
CHINESE_EMPTY_LAST_FIELDS = [
    (("Event", "Newchannel"), ("Channel", "PJSIP/trunk-0001"), ("CallerIDName", "张三丰"),
     ("ActionID", "a7"), ("AccountCode", "")),
    (("Event", "Hangup"), ("ConnectedLineName", "李四"), ("Cause-txt", "Normal Clearing"),
     ("Linkedid", "")),
]


@pytest.mark.parametrize("cut", range(1, len(CHINESE_EMPTY_LAST)))
def test_chinese_names_and_empty_last_headers_survive_a_cut_at_every_byte(cut: int) -> None:
    conn = opened()
    conn.receive_data(CHINESE_EMPTY_LAST[:cut])
    events = drain(conn)
    conn.receive_data(CHINESE_EMPTY_LAST[cut:])
    events += drain(conn)
    assert [e.fields.items for e in events if isinstance(e, AmiEvent)] == CHINESE_EMPTY_LAST_FIELDS
    assert [e.action_id for e in events if isinstance(e, AmiEvent)] == ["a7", None]


@pytest.mark.parametrize("line", [b"ACTIONID: x1", b"actionid: x1", b"ActionId:x1"])
def test_an_action_id_in_another_spelling_is_still_the_action_id(line: bytes) -> None:
    conn = opened()
    conn.receive_data(b"Event: UserEvent\r\n" + line + b"\r\nNote: actionid\r\n\r\n")
    [event] = drain(conn)
    assert isinstance(event, AmiEvent) and event.action_id == "x1"


@pytest.mark.parametrize("line", [b"Key:no space", b"Key:", b"Ke y: v", b"Key : v", b" Key: v",
                                  b"K\tey: v", b"a:b: c"])
def test_lines_off_the_usual_shape_keep_the_line_by_line_rules(line: bytes) -> None:
    key, _, value = line.decode().partition(":")
    ok = bool(key) and key == key.strip() and key.isprintable()
    conn = opened()
    conn.receive_data(b"Event: X\r\n" + line + b"\r\n\r\n")
    if not ok:
        with pytest.raises(RemoteProtocolError):
            conn.next_event()
        return
    [event] = drain(conn)
    assert isinstance(event, AmiEvent)
    assert event.fields.items[1] == (key, value.removeprefix(" "))
