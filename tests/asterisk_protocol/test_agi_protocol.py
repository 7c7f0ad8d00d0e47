"""AgiConnection rules on hand-written bytes: the cases Asterisk will not produce on demand."""

from __future__ import annotations

import re

import pytest

from callcenter.telephony.asterisk.agi_commands import Answer, GetVariable, StreamFile
from callcenter.telephony.asterisk.agi_protocol import (
    NEED_DATA,
    AgiConnection,
    AgiError,
    AgiHangup,
    AgiRequest,
    AgiResponse,
    AgiState,
    AgiUsageError,
    LocalProtocolError,
    RemoteProtocolError,
)
from callcenter.telephony.asterisk.stream import ConnectionClosed

REQUEST = (
    "agi_network: yes\n"
    "agi_network_script: complaints/new?source=ivr\n"
    "agi_request: agi://10.0.0.5/complaints/new?source=ivr\n"
    "agi_channel: PJSIP/trunk-00000007\n"
    "agi_uniqueid: 1700000000.7\n"
    "agi_linkedid: 1700000000.6\n"
    "agi_callerid: 13800138000\n"
    "agi_calleridname: 李四\n"
    "agi_priority: 2\n"
    "\n"
).encode()


def connected() -> AgiConnection:
    conn = AgiConnection()
    conn.receive_data(REQUEST)
    assert isinstance(conn.next_event(), AgiRequest)
    return conn


def reply_to(conn: AgiConnection, line: bytes) -> object:
    conn.send(Answer())
    conn.receive_data(line)
    return conn.next_event()


def test_request_keeps_linkedid_when_asterisk_sends_it() -> None:
    conn = connected()
    assert conn.request is not None
    assert conn.request.linkedid == "1700000000.6"
    assert conn.request.network_script == "complaints/new"
    assert conn.request.query == "source=ivr"


def test_request_waits_for_the_empty_line() -> None:
    conn = AgiConnection()
    conn.receive_data(REQUEST[:-1])
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"\n")
    assert isinstance(conn.next_event(), AgiRequest)


def test_chinese_name_split_between_reads_is_decoded_whole() -> None:
    cut = REQUEST.index("李".encode()) + 1
    conn = AgiConnection()
    conn.receive_data(REQUEST[:cut])
    assert conn.next_event() is NEED_DATA
    conn.receive_data(REQUEST[cut:])
    request = conn.next_event()
    assert isinstance(request, AgiRequest) and request.calleridname == "李四"


def test_invalid_utf8_in_caller_name_is_replaced_not_raised() -> None:
    conn = AgiConnection()
    conn.receive_data(REQUEST.replace("李四".encode(), b"\xe6\x9d\xff"))
    request = conn.next_event()
    assert isinstance(request, AgiRequest) and "\ufffd" in (request.calleridname or "")


@pytest.mark.parametrize(
    "bad_block",
    [
        b"HTTP/1.1 200 OK\n\n",
        b"agi_channel PJSIP/x\n\n",
        b"agi_channel: PJSIP/x\nagi_uniqueid: 1\n\n",  # no agi_request
        REQUEST.replace(b"agi_priority: 2", b"agi_priority: two"),
        REQUEST.replace(b"agi_priority: 2\n", b"agi_arg_2: skipped one\n"),
    ],
)
def test_a_broken_request_block_is_the_peers_fault(bad_block: bytes) -> None:
    conn = AgiConnection()
    conn.receive_data(bad_block)
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


def test_sending_before_the_request_arrived_is_our_fault() -> None:
    with pytest.raises(LocalProtocolError):
        AgiConnection().send(Answer())


def test_sending_a_second_command_before_the_reply_is_our_fault() -> None:
    conn = connected()
    conn.send(StreamFile("welcome", "0123"))
    with pytest.raises(LocalProtocolError, match="StreamFile is still waiting"):
        conn.send(GetVariable("X"))


def test_the_next_command_may_go_once_the_reply_arrived() -> None:
    conn = connected()
    assert reply_to(conn, b"200 result=0\n") == AgiResponse(200, "0")
    assert conn.state is AgiState.IDLE
    assert conn.send(GetVariable("X")) == b"GET VARIABLE X\n"


def test_a_reply_nobody_asked_for_is_the_peers_fault() -> None:
    conn = connected()
    conn.receive_data(b"200 result=0\n")
    with pytest.raises(RemoteProtocolError, match="IDLE"):
        conn.next_event()


def test_hangup_may_arrive_while_no_command_runs() -> None:
    conn = connected()
    conn.receive_data(b"HANGUP\n")
    assert conn.next_event() == AgiHangup()
    assert conn.channel_hung_up


@pytest.mark.parametrize(
    "line, reply",
    [
        (b"200 result= (timeout)\n", AgiResponse(200, "", data="timeout", timed_out=True)),
        (b"200 result=1 (a (nested) value)\n", AgiResponse(200, "1", data="a (nested) value")),
        (b"200 result=1 ()\n", AgiResponse(200, "1", data="")),
        (b"200 result=49 endpos=8640\n", AgiResponse(200, "49", endpos=8640)),
        (b"200 result=*12#\n", AgiResponse(200, "*12#")),
        (
            b"200 result=-1 Gosub label not found\n",
            AgiResponse(200, "-1", data="Gosub label not found"),
        ),
        (
            b"503 result=-2 Memory allocation failure\n",
            AgiResponse(503, "-2", data="Memory allocation failure"),
        ),
        (b"200 result=0\r\n", AgiResponse(200, "0")),
    ],
)
def test_reply_lines_parse_into_typed_fields(line: bytes, reply: AgiResponse) -> None:
    assert reply_to(connected(), line) == reply


def test_leading_zeros_of_collected_digits_are_kept() -> None:
    reply = reply_to(connected(), b"200 result=0042\n")
    assert isinstance(reply, AgiResponse) and reply.result == "0042" and reply.result_int == 42


def test_single_line_520_has_empty_usage() -> None:
    line = b"520 Invalid command syntax.  Proper usage not available.\n"
    assert reply_to(connected(), line) == AgiUsageError(
        520, "Invalid command syntax.  Proper usage not available.", ""
    )


def test_multi_line_usage_is_collected_until_520_end() -> None:
    conn = connected()
    conn.send(Answer())
    conn.receive_data(b"520-Invalid command syntax.  Proper usage follows:\nUsage: A\n")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"second line\n520 End of proper usage.\n")
    reply = conn.next_event()
    assert isinstance(reply, AgiUsageError) and reply.usage == "Usage: A\nsecond line"


def test_any_other_5xx_is_an_error_reply() -> None:
    assert reply_to(connected(), b"599 Something new\n") == AgiError(599, "Something new")


@pytest.mark.parametrize(
    "garbage",
    [
        b"hello\n",
        b"200 everything fine\n",
        b"2000 result=0\n",
        b"510-not a usage\n",
        b"\n",
        b"\xff\xfe\n",
    ],
)
def test_garbage_replies_raise_remote_protocol_error_and_stay_broken(garbage: bytes) -> None:
    conn = connected()
    conn.send(Answer())
    conn.receive_data(garbage)
    with pytest.raises(RemoteProtocolError):
        conn.next_event()
    assert conn.state is AgiState.ERROR
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


def test_an_endless_line_hits_the_buffer_cap() -> None:
    conn = AgiConnection(max_buffer_size=1024)
    conn.receive_data(b"agi_network: " + b"y" * 1100)
    with pytest.raises(RemoteProtocolError, match="1024"):
        conn.next_event()


def test_a_whole_event_over_the_cap_is_refused_too() -> None:
    conn = AgiConnection(max_buffer_size=64)
    conn.receive_data(REQUEST)
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


def test_clean_eof_closes_and_keeps_saying_closed() -> None:
    conn = connected()
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.next_event() == ConnectionClosed()
    with pytest.raises(LocalProtocolError):
        conn.send(Answer())


def test_eof_in_the_middle_of_a_reply_is_the_peers_fault() -> None:
    conn = connected()
    conn.send(Answer())
    conn.receive_data(b"200 resu")
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match="middle"):
        conn.next_event()


def test_eof_before_any_request_is_a_clean_close() -> None:
    conn = AgiConnection()
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()


def test_data_after_eof_is_our_bug() -> None:
    conn = AgiConnection()
    conn.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"200 result=0\n")


def test_absurdly_long_numbers_do_not_escape_as_value_errors() -> None:
    reply = reply_to(connected(), b"200 result=1 endpos=" + b"9" * 5000 + b"\n")
    assert isinstance(reply, AgiResponse) and reply.endpos is None
    assert reply.result_int == 1
    conn = AgiConnection()
    conn.receive_data(REQUEST.replace(b"agi_priority: 2", b"agi_priority: " + b"1" * 5000))
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


AGI_BLOCK_CRLF = ("agi_network: yes\r\nagi_request: agi://127.0.0.1/hotline\r\n"
                  "agi_channel: PJSIP/trunk-1\r\nagi_uniqueid: 1.1\r\nagi_calleridname: 张三\r\n"
                  "agi_accountcode: \r\n\r\n200 result=1 (张三)\n").encode()


@pytest.mark.parametrize("cut", range(1, len(AGI_BLOCK_CRLF)))
def test_the_agi_block_and_a_reply_survive_a_cut_at_every_byte(cut: int) -> None:
    from callcenter.telephony.asterisk import agi_commands

    conn = AgiConnection()
    conn.receive_data(AGI_BLOCK_CRLF[:cut])
    first = conn.next_event()
    conn.receive_data(AGI_BLOCK_CRLF[cut:])
    request = first if first is not NEED_DATA else conn.next_event()
    assert isinstance(request, AgiRequest)
    assert request.calleridname == "张三" and request.accountcode == ""
    conn.send(agi_commands.GetVariable("CALLERID(name)"))
    assert conn.next_event() == AgiResponse(200, "1", data="张三")


def reference_env(block: bytes) -> dict[str, str]:
    """The agi_* block read the plain way: line by line, one CR and one blank cut."""
    env: dict[str, str] = {}
    for line in block.decode("utf-8", errors="replace").split("\n")[:-2]:
        line = line[:-1] if line.endswith("\r") else line
        key, _, value = line.partition(":")
        env[key] = value[1:] if value.startswith(" ") else value
    return env


ODD_BUT_VALID_LINES = [
    "agi_calleridname: 王: 五",      # a colon and a blank inside the value
    "agi_calleridname:no blank",     # no blank after the colon
    "agi_calleridname:  two blanks",  # only the first blank goes
    "agi_calleridname: ",            # empty
    "agi_calleridname:",             # empty, no blank
    "agi_calleridname: cr inside\rvalue",
    "agi_calleridname: two crs\r\r",  # one CR is the line end, the other is kept
    "agi_x_1: digits_and_underscores",
]


@pytest.mark.parametrize("line", ODD_BUT_VALID_LINES)
@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_the_agi_block_is_read_as_a_plain_line_by_line_reader_reads_it(line: str, eol: str) -> None:
    lines = ["agi_request: agi://10.0.0.5/hotline", "agi_channel: PJSIP/trunk-1",
             "agi_uniqueid: 1.1", line, "agi_arg_1: a%20b", "agi_arg_2: c"]
    block = (eol.join(lines) + eol + eol).encode()
    conn = AgiConnection()
    conn.receive_data(block)
    request = conn.next_event()
    assert isinstance(request, AgiRequest)
    assert dict(request.env) == reference_env(block)
    assert request.args == ("a b", "c") and request.raw_args == ("a%20b", "c")


@pytest.mark.parametrize(("line", "message"), [
    ("agi_channel: PJSIP/twice", "AGI variable agi_channel sent twice"),
    ("agi_名字: 张三", "not an agi_* variable line"),
    ("agi_: nameless", "not an agi_* variable line"),
    ("x_agi_channel: before the name", "not an agi_* variable line"),
    ("agi_no_colon", "not an agi_* variable line"),
    (" agi_indented: x", "not an agi_* variable line"),
])
def test_a_bad_line_in_the_agi_block_is_named(line: str, message: str) -> None:
    block = ("agi_request: agi://h/s\nagi_channel: PJSIP/1\nagi_uniqueid: 1\n" + line + "\n\n")
    conn = AgiConnection()
    conn.receive_data(block.encode())
    with pytest.raises(RemoteProtocolError, match=re.escape(message)):
        conn.next_event()


def test_the_request_read_from_the_wire_is_the_dataclass_built_field_by_field() -> None:
    """read_request fills AgiRequest without its frozen __init__: every field, nothing else."""
    import dataclasses

    conn = connected()
    request = conn.request
    assert request is not None
    fields = {f.name: getattr(request, f.name) for f in dataclasses.fields(AgiRequest)}
    assert set(vars(request)) == set(fields)
    assert AgiRequest(**fields) == request
    assert repr(AgiRequest(**fields)) == repr(request)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.channel = "changed"  # type: ignore[misc]
