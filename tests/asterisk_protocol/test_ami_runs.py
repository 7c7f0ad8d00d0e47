"""The run split (whole messages decoded and split into lines at once, each message taken
from the pairs of lines learnt before) against the line-by-line rules.

The lines and lists of keys learnt are process-wide, so each test states them:
`forgotten()` empties them (every line read by the line rules), `known(...)` teaches them
by reading messages first. Whatever they hold, the events, the fields and the errors must
be the same."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from callcenter.telephony.asterisk import ami_protocol
from callcenter.telephony.asterisk.ami_protocol import (
    NEED_DATA,
    AmiConnection,
    AmiEvent,
    AmiOutput,
    AmiResponse,
    EventListResult,
    RemoteProtocolError,
)
from callcenter.telephony.asterisk.stream import ConnectionClosed

from .replay import from_asterisk

GREETING = b"Asterisk Call Manager/11.0.0\r\n"
CHINESE_EMPTY_LAST = (
    "Event: Newchannel\r\nChannel: PJSIP/trunk-0001\r\nCallerIDName: 张三丰\r\n"
    "ActionID: a7\r\nAccountCode: \r\n\r\n"
    "Event: Hangup\r\nConnectedLineName: 李四\r\nCause-txt: Normal Clearing\r\nLinkedid: \r\n\r\n"
    "Response: Success\r\nActionID: p9\r\nMessage: Pong: 张 \r\nPing: Pong\r\n\r\n"
    "Event: Newchannel\r\nChannel: PJSIP/trunk-0002\r\nCallerIDName: 王五\r\n"
    "ActionID: a8\r\nAccountCode: \r\n\r\n"
).encode()
RECORDED = from_asterisk("ami_two_calls")


@pytest.fixture(autouse=True)
def forgotten() -> Iterator[None]:
    """Nothing learnt before the test, nothing left behind."""
    ami_protocol._forget()
    yield
    ami_protocol._forget()


def known(*streams: bytes) -> None:
    """Teach the run split the lines of these messages (read once, whole)."""
    for stream in streams:
        read([GREETING + stream])


def read(chunks: list[bytes]) -> tuple[list[object], str | None]:
    """Every output as comparable values (fields as tuples), and the error if any."""
    conn = AmiConnection(max_buffer_size=1 << 20)
    out: list[object] = []
    try:
        for chunk in chunks:
            conn.receive_data(chunk)
            while (item := conn.next_event()) is not NEED_DATA:
                out.append(flat(item))
                if isinstance(item, ConnectionClosed):
                    break
    except RemoteProtocolError as exc:
        return out, f"RemoteProtocolError: {exc}"
    return out, None


def flat(item: AmiOutput) -> object:
    if isinstance(item, AmiEvent):
        return ("event", item.name, item.action_id, item.fields.items)
    if isinstance(item, AmiResponse):
        return ("response", item.response, item.action_id, item.message, item.output,
                item.fields.items)
    if isinstance(item, EventListResult):
        return ("list", flat(item.response), [flat(e) for e in item.events], flat(item.complete))
    return item


def by_line_rules(stream: bytes) -> tuple[list[object], str | None]:
    ami_protocol._forget()
    conn = AmiConnection(max_buffer_size=1 << 20)
    conn.receive_data(GREETING)
    out: list[object] = [conn.next_event()]
    start = 0  # one message per read: the line rules, message by message
    try:
        while (end := stream.find(b"\r\n\r\n", start)) >= 0:
            conn.receive_data(stream[start:end + 4])
            start = end + 4
            ami_protocol._forget()
            while (item := conn.next_event()) is not NEED_DATA:
                out.append(flat(item))
    except RemoteProtocolError as exc:
        return out, f"RemoteProtocolError: {exc}"
    return out, None


@pytest.mark.parametrize("cut", range(1, len(CHINESE_EMPTY_LAST)))
def test_chinese_names_and_empty_last_headers_cut_at_every_byte_with_the_keys_known(
        cut: int) -> None:
    known(CHINESE_EMPTY_LAST)
    got = read([GREETING + CHINESE_EMPTY_LAST[:cut], CHINESE_EMPTY_LAST[cut:]])
    assert got == read([GREETING + CHINESE_EMPTY_LAST]) and got[1] is None
    ami_protocol._forget()
    assert read([GREETING + CHINESE_EMPTY_LAST[:cut], CHINESE_EMPTY_LAST[cut:]]) == got
    events = [e for e in got[0] if isinstance(e, tuple) and e[0] == "event"]
    assert [e[3] for e in events][0] == (
        ("Event", "Newchannel"), ("Channel", "PJSIP/trunk-0001"), ("CallerIDName", "张三丰"),
        ("ActionID", "a7"), ("AccountCode", ""))
    assert [e[2] for e in events] == ["a7", None, "a8"]


def test_the_recorded_session_reads_the_same_known_or_not_in_reads_of_any_size() -> None:
    cold = read([RECORDED])
    known(RECORDED.partition(b"\r\n")[2])
    assert cold[1] is None
    for size in (1, 7, 137, 4096, 65536):
        assert read([RECORDED[i:i + size] for i in range(0, len(RECORDED), size)]) == cold


@pytest.mark.parametrize("stream", [
    # a line without ": " whose neighbours make the keys look like a list seen before
    b"Event: X\r\ng\r\nh\r\nK: v\r\n\r\n",
    # the same with the line's mark where a message starts
    b"Event: X\r\ng: 1\r\nK: 2\r\n\r\n: 3\r\nK: 4\r\n\r\n",
    b"Event: X\r\ng: 1\r\nK: 2\r\n\r\ng\r\nK: 4\r\n\r\n",
    b"Event: X\r\ng: 1\r\n: z\r\nK: 2\r\n\r\n",  # a line without its key, its mark bare
    b"Event: X\r\ng:1\r\nK: 2\r\n\r\n",  # "Key:value": the line rules read it
    b"Event: X\r\ng: a: b\r\nK: 2\r\n\r\n",  # a value holding ": "
    b"Event: X\r\ng: 1\r\n\r\n\r\nEvent: X\r\ng: 1\r\nK: 2\r\n\r\n",  # a stray blank line
    b"Event: X\r\ng: 1\x00\r\nK: 2\r\n\r\n",  # a NUL
    b"Event: X\r\n g: 1\r\nK: 2\r\n\r\n",  # a key with a space before it
    b"EVENT: X\r\ng: 1\r\nK: 2\r\n\r\n",  # the kind in other letters
    b"Eventually: X\r\ng: 1\r\nK: 2\r\n\r\n",  # not a message
])
def test_messages_off_the_usual_shape_read_as_the_line_rules_read_them(stream: bytes) -> None:
    ordinary = b"Event: X\r\ng: 1\r\nK: 2\r\n\r\n"
    expected = by_line_rules(ordinary + stream + ordinary)
    known(ordinary, b"Event: X\r\ng: 1\r\nK: 2\r\nK: 3\r\n\r\n")
    whole = read([GREETING + ordinary + stream + ordinary])
    assert whole == expected
    assert whole[0][1] == ("event", "X", None, (("Event", "X"), ("g", "1"), ("K", "2")))
    data = GREETING + ordinary + stream + ordinary
    for cut in range(1, len(data)):
        known(ordinary)
        assert read([data[:cut], data[cut:]]) == expected, cut


def test_unparsed_bytes_of_a_run_handed_out_in_part_are_still_unparsed() -> None:
    known(CHINESE_EMPTY_LAST)
    conn = AmiConnection()
    conn.receive_data(GREETING + CHINESE_EMPTY_LAST + b"\r\nEvent: Hal")
    conn.next_event()  # the greeting
    conn.next_event()
    conn.next_event()
    rest = CHINESE_EMPTY_LAST.split(b"\r\n\r\n", 2)[2]
    assert conn.trailing_data == (rest + b"\r\nEvent: Hal", False)


LINES = [
    "g: 1", "g:1", "g: a: b", "g:", "g: ", "g:  two", " g: 1", "g : 1", "g", ": z", ":",
    "g\x00: 1", "g: 1\x00", "张三: 丰", "g\t: 1", "g\u00a0: 1", "g\ufffd: 1", "g:\r", "Event: X",
    "ActionID: a1", "actionid: a2", "g: " + "x" * 300,
]


@pytest.mark.parametrize("line", LINES)
def test_a_line_learnt_is_read_as_the_line_rules_read_it_in_a_message(line: str) -> None:
    try:
        expected: object = ami_protocol.parse_message("Event: X\r\n" + line).fields.items[1]
    except RemoteProtocolError:
        expected = None
    assert ami_protocol._line_pair(line) == expected  # alone
    ami_protocol._forget()
    stream = f"Event: X\r\n{line}\r\nK: 2\r\n\r\n".encode()
    cold = read([GREETING + stream])  # read whole by the line rules
    assert cold == by_line_rules(stream)
    assert ami_protocol._LINES.get(line.encode()) == (  # lines are learnt as they came
        expected if len(line.encode()) <= ami_protocol._LINE_KEPT_MAX else None)
    assert read([GREETING + stream]) == cold  # its lines learnt now (if the rules took them)
    # the only line not learnt in a message of many: read alone
    many = "".join(f"V{i}: {i}\r\n" for i in range(8))
    known(f"Event: X\r\n{many}K: 2\r\n\r\n".encode())
    ami_protocol._LINES.pop(line.encode(), None)
    stream = f"Event: X\r\n{many}{line}\r\nK: 2\r\n\r\n".encode()
    alone = read([GREETING + stream])
    assert alone == by_line_rules(stream)
    assert alone[1] is None if expected else alone[1] is not None


def test_what_is_learnt_stays_bounded_and_reads_the_same_after_it_is_emptied() -> None:
    stream = b"".join(
        f"Event: Big\r\nUniqueid: 1716000000.{i}\r\nLinkedid: {i}\r\n\r\n".encode()
        for i in range(ami_protocol._LINES_MAX // 2 + 5)) + CHINESE_EMPTY_LAST
    first = read([GREETING + stream])
    assert first[1] is None and len(first[0]) == 1 + ami_protocol._LINES_MAX // 2 + 5 + 4
    assert first[0][-5] == ("event", "Big", None, (
        ("Event", "Big"), ("Uniqueid", f"1716000000.{ami_protocol._LINES_MAX // 2 + 4}"),
        ("Linkedid", f"{ami_protocol._LINES_MAX // 2 + 4}")))
    assert len(ami_protocol._LINES) <= ami_protocol._LINES_MAX
    assert read([GREETING + stream]) == first


@pytest.mark.parametrize("line", LINES + [
    "g: \xe5", "g: 1\r", "g: 1\n2", "g: \n", "g: 1: ", "g:: 1", "g: 1:", "Event", "g: 1\r\nh",
    # a line with two ": " then one without: as many pieces, the keys where they would be
    "g: 1: K\r\nh", "g: 1: V\r\nh: 2", "V\r\ng: K: 1",
])
def test_lines_not_learnt_with_keys_taken_are_read_together_as_the_line_rules_read_them(
        line: str) -> None:
    # the keys known, every line of the message new: they are read together
    known("Event: X\r\ng: 0\r\nh: 0\r\n张三: 0\r\ng\ufffd: 0\r\nK: 0\r\nV: 0\r\n\r\n".encode())
    stream = f"Event: X1\r\nV: 1\r\n{line}\r\nK: 1\r\nV: 2\r\n\r\n".encode()
    broken = f"Event: X2\r\nV: 3\r\n{line}\r\n".encode() + b"K: \xe4\xb8\r\nV: 4\r\n\r\n"
    expected = by_line_rules(stream + broken)
    ami_protocol._forget()
    known("Event: X\r\ng: 0\r\nh: 0\r\n张三: 0\r\ng\ufffd: 0\r\nK: 0\r\nV: 0\r\n\r\n".encode())
    assert read([GREETING + stream + broken]) == expected
