"""The AGI core against FastAGI sessions recorded from a real Asterisk 22."""

from __future__ import annotations

import pytest

from callcenter.telephony.asterisk.agi_commands import AgiCommand
from callcenter.telephony.asterisk.agi_protocol import (
    AgiError,
    AgiEvent,
    AgiHangup,
    AgiRequest,
    AgiResponse,
    AgiTrying,
    AgiUsageError,
)
from callcenter.telephony.asterisk.stream import ConnectionClosed

from .replay import (
    CALLER_HANGS_UP,
    HOTLINE_TOUR,
    AgiReplay,
    chunked,
    from_asterisk,
    replay_agi,
    to_asterisk,
)


def replies_by_command(
    name: str, commands: list[AgiCommand]
) -> tuple[AgiRequest, list[tuple[AgiCommand, list[AgiEvent]]]]:
    """Pair each command with what Asterisk said until its reply."""
    events = replay_agi(from_asterisk(name), commands, chunk_size=None)
    request = events.pop(0)
    assert isinstance(request, AgiRequest)
    assert events.pop() == ConnectionClosed()
    paired: list[tuple[AgiCommand, list[AgiEvent]]] = []
    current: list[AgiEvent] = []
    for event in events:
        current.append(event)
        if isinstance(event, AgiResponse | AgiError | AgiUsageError):
            paired.append((commands[len(paired)], current))
            current = []
    assert current == []
    return request, paired


@pytest.fixture(scope="module")
def tour() -> list[list[AgiEvent]]:
    _, paired = replies_by_command("agi_hotline_tour", HOTLINE_TOUR)
    assert [cmd for cmd, _ in paired] == HOTLINE_TOUR
    return [events for _, events in paired]


@pytest.mark.parametrize(
    "name, commands",
    [
        ("agi_hotline_tour", HOTLINE_TOUR),
        ("agi_caller_hangs_up", CALLER_HANGS_UP),
    ],
)
def test_our_commands_encode_to_the_recorded_bytes(name: str, commands: list[AgiCommand]) -> None:
    replay = AgiReplay(commands)
    replay.run([from_asterisk(name)])
    assert bytes(replay.sent) == to_asterisk(name)


@pytest.mark.parametrize(
    "name, commands",
    [
        ("agi_hotline_tour", HOTLINE_TOUR),
        ("agi_caller_hangs_up", CALLER_HANGS_UP),
    ],
)
@pytest.mark.parametrize("chunk_size", [1, 2, 7, 100])
def test_session_read_in_pieces_gives_the_same_events_as_read_whole(
    name: str, commands: list[AgiCommand], chunk_size: int
) -> None:
    whole = replay_agi(from_asterisk(name), commands, chunk_size=None)
    pieces = AgiReplay(commands).run(chunked(from_asterisk(name), chunk_size))
    assert pieces == whole
    assert len(whole) == len(commands) + 2 + sum(
        isinstance(e, AgiHangup | AgiTrying) for e in whole
    )


def test_request_carries_the_callers_chinese_name_and_number() -> None:
    request, _ = replies_by_command("agi_hotline_tour", HOTLINE_TOUR)
    assert request.calleridname == "张三"
    assert request.callerid == "13800138000"
    assert request.uniqueid == "call-1b"
    assert request.channel == "Local/4000@hotline-00000000;2"
    assert (request.context, request.extension, request.priority) == ("hotline", "4000", 3)
    assert request.network_script == "hotline"
    assert request.query == ""
    assert request.args == ()
    assert request.linkedid is None  # Asterisk 22 does not send agi_linkedid
    assert request.dnid is None  # "unknown"
    assert request.env["agi_version"] == "22.10.1"
    assert request.accountcode == ""


def test_request_splits_the_query_off_the_script_and_url_decodes_args() -> None:
    request, _ = replies_by_command("agi_caller_hangs_up", CALLER_HANGS_UP)
    assert request.network_script == "hotline"
    assert request.query == "campaign=complaints&lang=zh"
    assert request.query_params == {"campaign": ["complaints"], "lang": ["zh"]}
    assert request.request == "agi://127.0.0.1:14573/hotline?campaign=complaints&lang=zh"
    assert request.args == ("first arg", "中文", "投诉", "")
    assert request.raw_args == ("first arg", "%E4%B8%AD%E6%96%87", "投诉", "")
    assert request.calleridname == "王小明"


def test_answer_succeeds_with_result_zero(tour: list[list[AgiEvent]]) -> None:
    assert tour[0] == [AgiResponse(200, "0")]


def test_get_data_returns_the_key_the_caller_pressed(tour: list[list[AgiEvent]]) -> None:
    assert tour[1] == [AgiResponse(200, "1")]


def test_streaming_a_missing_prompt_fails_at_offset_zero(tour: list[list[AgiEvent]]) -> None:
    assert tour[2] == [AgiResponse(200, "-1", endpos=0)]


def test_wait_for_digit_returns_the_ascii_code_of_the_key(tour: list[list[AgiEvent]]) -> None:
    (reply,) = tour[3]
    assert isinstance(reply, AgiResponse)
    assert reply.result_int is not None and chr(reply.result_int) == "2"


def test_get_data_timing_out_keeps_the_digits_typed_so_far(tour: list[list[AgiEvent]]) -> None:
    assert tour[4] == [AgiResponse(200, "3", data="timeout", timed_out=True)]


def test_a_value_with_quotes_and_backslash_round_trips(tour: list[list[AgiEvent]]) -> None:
    assert tour[5] == [AgiResponse(200, "1")]
    assert tour[6] == [AgiResponse(200, "1", data='12 "quoted" \\ back')]


def test_a_chinese_value_round_trips(tour: list[list[AgiEvent]]) -> None:
    assert tour[8] == [AgiResponse(200, "1", data="投诉: 噪音")]
    assert tour[9] == [AgiResponse(200, "1", data="张三")]


def test_channel_status_six_means_up(tour: list[list[AgiEvent]]) -> None:
    assert tour[10] == [AgiResponse(200, "6")]


def test_record_file_reports_timeout_and_end_position(tour: list[list[AgiEvent]]) -> None:
    assert tour[11] == [AgiResponse(200, "0", data="timeout", endpos=0, timed_out=True)]


def test_record_file_with_a_missing_beep_fails(tour: list[list[AgiEvent]]) -> None:
    assert tour[12] == [AgiResponse(200, "-1", data="randomerror", endpos=0)]


def test_gosub_sends_trying_before_its_reply(tour: list[list[AgiEvent]]) -> None:
    assert tour[16] == [
        AgiTrying(100, "result=0 Trying..."),
        AgiResponse(200, "0", data="Gosub complete"),
    ]


def test_an_unknown_command_is_510(tour: list[list[AgiEvent]]) -> None:
    (reply,) = tour[17]
    assert isinstance(reply, AgiError) and reply.is_invalid_command


def test_bad_syntax_is_520_with_the_usage_text(tour: list[list[AgiEvent]]) -> None:
    (reply,) = tour[18]
    assert isinstance(reply, AgiUsageError)
    assert reply.message == "Invalid command syntax.  Proper usage follows:"
    assert reply.usage.startswith("Waits up to <replaceable>timeout</replaceable> milliseconds")
    assert "\n" not in reply.usage  # one usage line in this recording, no "520 End" in it


def test_after_our_hangup_asterisk_says_hangup_then_511(tour: list[list[AgiEvent]]) -> None:
    assert tour[19] == [AgiResponse(200, "1")]
    hangup, refused = tour[20]
    assert hangup == AgiHangup()
    assert isinstance(refused, AgiError) and refused.is_dead_channel


def test_variables_stay_readable_on_a_dead_channel(tour: list[list[AgiEvent]]) -> None:
    assert tour[21] == [AgiResponse(200, "1", data='12 "quoted" \\ back')]
    (refused,) = tour[22]
    assert isinstance(refused, AgiError) and refused.code == 511


def test_caller_hanging_up_mid_wait_gives_minus_one_then_hangup() -> None:
    replay = AgiReplay(CALLER_HANGS_UP)
    events = replay.run([from_asterisk("agi_caller_hangs_up")])
    assert events[1] == AgiResponse(200, "-1")
    assert events[2] == AgiHangup()
    assert isinstance(events[3], AgiError) and events[3].is_dead_channel
    assert events[4] == AgiResponse(200, "1", data="Local/4001@hotline-00000001;2")
    assert replay.conn.channel_hung_up
