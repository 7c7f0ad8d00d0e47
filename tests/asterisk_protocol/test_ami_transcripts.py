"""The AMI core against a session recorded from a real Asterisk 22 (two hotline calls)."""

from __future__ import annotations

import pytest

from callcenter.telephony.asterisk.ami_protocol import (
    AmiEvent,
    AmiGreeting,
    AmiOutput,
    AmiResponse,
    EventListResult,
)
from callcenter.telephony.asterisk.stream import ConnectionClosed

from .replay import TWO_CALLS, chunked, from_asterisk, replay_ami, split_at, to_asterisk

NAME = "ami_two_calls"


@pytest.fixture(scope="module")
def session() -> list[AmiOutput]:
    events, _ = replay_ami(TWO_CALLS, [from_asterisk(NAME)])
    return events


def responses(session: list[AmiOutput]) -> dict[str, AmiResponse]:
    return {e.action_id: e for e in session if isinstance(e, AmiResponse) and e.action_id}


def lists(session: list[AmiOutput]) -> dict[str, EventListResult]:
    return {e.action_id: e for e in session if isinstance(e, EventListResult)}


def events_named(session: list[AmiOutput], name: str) -> list[AmiEvent]:
    return [e for e in session if isinstance(e, AmiEvent) and e.name == name]


def test_our_actions_encode_to_the_recorded_bytes() -> None:
    _, sent = replay_ami(TWO_CALLS, [])
    assert sent == to_asterisk(NAME)


@pytest.mark.parametrize("chunk_size", [1, 3, 1000])
def test_session_read_in_pieces_gives_the_same_events(
    session: list[AmiOutput], chunk_size: int
) -> None:
    events, _ = replay_ami(TWO_CALLS, chunked(from_asterisk(NAME), chunk_size))
    assert events == session


def test_a_chinese_name_cut_between_reads_arrives_whole(session: list[AmiOutput]) -> None:
    data = from_asterisk(NAME)
    cuts = [data.index("张".encode()) + 1, data.index("李".encode()) + 2]
    events, _ = replay_ami(TWO_CALLS, split_at(data, cuts))
    assert events == session
    assert "\ufffd" not in repr(events)


def test_session_starts_with_the_greeting_and_ends_closed(session: list[AmiOutput]) -> None:
    assert session[0] == AmiGreeting("Asterisk Call Manager", "11.0.0")
    assert session[-1] == ConnectionClosed()
    goodbye = session[-2]
    assert isinstance(goodbye, AmiResponse) and goodbye.response == "Goodbye"


def test_every_action_got_exactly_one_answer(session: list[AmiOutput]) -> None:
    answered = [e.action_id for e in session if isinstance(e, AmiResponse | EventListResult)]
    assert answered == [action.action_id for action in TWO_CALLS]


def test_login_ping_and_queue_add_succeed(session: list[AmiOutput]) -> None:
    by_id = responses(session)
    assert by_id["a1"].message == "Authentication accepted"
    assert by_id["a2"].fields["Ping"] == "Pong"
    assert by_id["a5"].message == "Added interface to queue"
    assert all(by_id[i].ok for i in ("a1", "a2", "a5", "a6", "a7", "a9"))


def test_an_unknown_action_is_an_error_response(session: list[AmiOutput]) -> None:
    error = responses(session)["a4"]
    assert error.response == "Error" and not error.ok
    assert error.message is not None and "FrobnicateAll" in error.message


def test_command_output_lines_are_kept_in_order(session: list[AmiOutput]) -> None:
    output = responses(session)["a6"].output
    assert len(output) == 2
    assert output[0].startswith("System uptime:") and output[1].startswith("Last reload:")


def test_core_show_channels_with_no_calls_is_an_empty_list(session: list[AmiOutput]) -> None:
    result = lists(session)["a3"]
    assert result.events == ()
    assert result.response.message == "Channels will follow"
    assert result.complete.name == "CoreShowChannelsComplete"
    assert result.complete.fields["ListItems"] == "0"


def test_core_show_channels_during_the_call_lists_both_legs(session: list[AmiOutput]) -> None:
    result = lists(session)["a8"]
    assert [e.name for e in result.events] == ["CoreShowChannel", "CoreShowChannel"]
    assert {e.fields["Uniqueid"] for e in result.events} == {"call-1", "call-1b"}
    assert {e.fields["Linkedid"] for e in result.events} == {"call-1"}
    assert result.complete.fields["ListItems"] == "2"


def test_list_items_do_not_also_flow_as_plain_events(session: list[AmiOutput]) -> None:
    assert events_named(session, "CoreShowChannel") == []
    assert events_named(session, "CoreShowChannelsComplete") == []


def test_originate_response_is_a_plain_event_with_our_action_id(session: list[AmiOutput]) -> None:
    first, second = events_named(session, "OriginateResponse")
    assert (first.action_id, second.action_id) == ("a7", "a9")
    assert first.fields["Uniqueid"] == "call-1"
    assert first.fields["CallerIDName"] == "张三"
    assert first.fields["Response"] == "Success"


def test_channels_going_up_carry_the_chinese_caller_name(session: list[AmiOutput]) -> None:
    up = [e for e in events_named(session, "Newstate") if e.fields["Linkedid"] == "call-1"]
    assert [(e.fields["Uniqueid"], e.fields["ChannelStateDesc"]) for e in up] == [
        ("call-1b", "Up"),
        ("call-1", "Up"),
    ]
    assert {e.fields["CallerIDName"] for e in up} == {"张三"}


def test_repeated_chan_variable_lines_keep_every_value(session: list[AmiOutput]) -> None:
    newchannel = events_named(session, "Newchannel")[0]
    assert newchannel.fields.get_all("ChanVariable") == ["DIGITS=", "CALLER_TAIL_WAIT="]
    assert newchannel.fields["ChanVariable"] == "DIGITS="


def test_queue_member_name_is_decoded(session: list[AmiOutput]) -> None:
    (added,) = events_named(session, "QueueMemberAdded")
    assert added.fields["MemberName"] == "李四"
    assert added.action_id is None


def test_both_calls_hang_up_and_end_their_linkedid(session: list[AmiOutput]) -> None:
    hung_up = {e.fields["Uniqueid"] for e in events_named(session, "Hangup")}
    assert hung_up == {"call-1", "call-1b", "call-2", "call-2b"}
    ended = [e for e in events_named(session, "CEL") if e.fields["EventName"] == "LINKEDID_END"]
    # CEL writes LinkedID; lookups ignore the case of keys.
    assert [e.fields["linkedid"] for e in ended] == ["call-1", "call-2"]


def test_agi_commands_show_up_as_agi_exec_events(session: list[AmiOutput]) -> None:
    starts = events_named(session, "AGIExecStart")
    assert any(e.fields.get("Command") == "GET VARIABLE COMPLAINT_NOTE" for e in starts)
