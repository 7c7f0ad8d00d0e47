"""Replay recorded Asterisk transcripts through the protocol cores.

A transcript is two files recorded byte-exact from Asterisk 22 (see
transcripts/README.md): ``NAME.from_asterisk.bin`` (what Asterisk sent) and
``NAME.to_asterisk.bin`` (what we sent). The replay feeds the first in
chunks of a given size — the whole file, or one byte at a time — and sends
our commands the way a FastAGI handler would: the next one after each reply.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from callcenter.telephony.asterisk import agi_commands as agi
from callcenter.telephony.asterisk import ami_actions as ami
from callcenter.telephony.asterisk.agi_commands import AgiCommand
from callcenter.telephony.asterisk.agi_protocol import (
    AgiConnection,
    AgiError,
    AgiEvent,
    AgiRequest,
    AgiResponse,
    AgiUsageError,
)
from callcenter.telephony.asterisk.ami_actions import Action
from callcenter.telephony.asterisk.ami_protocol import AmiConnection, AmiOutput
from callcenter.telephony.asterisk.stream import NEED_DATA, ConnectionClosed

TRANSCRIPTS = Path(__file__).parent / "transcripts"

# What we sent in each recording, in order (must encode to NAME.to_asterisk.bin).
HOTLINE_TOUR: list[AgiCommand] = [
    agi.Answer(),
    agi.GetData("", 3000, 1),
    agi.StreamFile("nonexistent", "0123"),
    agi.WaitForDigit(2000),
    agi.GetData("", 1000, 2),
    agi.SetVariable("HOTLINE_DIGITS", '12 "quoted" \\ back'),
    agi.GetVariable("HOTLINE_DIGITS"),
    agi.SetVariable("COMPLAINT_NOTE", "投诉: 噪音"),
    agi.GetVariable("COMPLAINT_NOTE"),
    agi.GetVariable("CALLERID(name)"),
    agi.ChannelStatus(),
    agi.RecordFile("hotline-rec", "wav", "#", 1500, silence_s=1),
    agi.RecordFile("hotline-rec2", "wav", "#", 1000, beep=True),
    agi.SayDigits("123"),
    agi.Verbose("hello from the hotline"),
    agi.Exec("NoOp", "agi exec test"),
    agi.RawCommand("GOSUB agi-sub s 1 fromagi"),
    agi.RawCommand("FROBNICATE NOW"),
    agi.RawCommand("WAIT FOR DIGIT"),
    agi.Hangup(),
    agi.Answer(),
    agi.GetVariable("HOTLINE_DIGITS"),
    agi.WaitForDigit(100),
]
CALLER_HANGS_UP: list[AgiCommand] = [
    agi.WaitForDigit(10000),
    agi.Answer(),
    agi.GetVariable("CHANNEL"),
    agi.StreamFile("nonexistent"),
]
TWO_CALLS: list[Action] = [
    ami.login("a1", "callcenter", "callcenter"),
    ami.ping("a2"),
    ami.core_show_channels("a3"),
    ami.Action("FrobnicateAll", "a4"),
    ami.queue_add(
        "a5", "hotline-agents", "PJSIP/softphone1", member_name="李四", penalty=0, paused=False
    ),
    ami.command("a6", "core show uptime"),
    ami.originate(
        "a7",
        "Local/4000@hotline",
        context="test-caller",
        exten="s",
        priority=1,
        caller_id=ami.format_caller_id("张三", "13800138000"),
        channel_id="call-1",
        other_channel_id="call-1b",
        variables=[("DIGITS", "1w2w3ww4"), ("CALLER_TAIL_WAIT", "12")],
    ),
    ami.core_show_channels("a8"),
    ami.originate(
        "a9",
        "Local/4001@hotline",
        context="test-caller",
        exten="s",
        priority=1,
        caller_id=ami.format_caller_id("王小明", "13912345678"),
        channel_id="call-2",
        other_channel_id="call-2b",
        variables={"CALLER_PRE_WAIT": "0", "CALLER_TAIL_WAIT": "2"},
    ),
    ami.logoff("a10"),
]


def from_asterisk(name: str) -> bytes:
    return (TRANSCRIPTS / f"{name}.from_asterisk.bin").read_bytes()


def to_asterisk(name: str) -> bytes:
    return (TRANSCRIPTS / f"{name}.to_asterisk.bin").read_bytes()


def chunked(data: bytes, size: int | None) -> Iterator[bytes]:
    if size is None:
        yield data
        return
    for start in range(0, len(data), size):
        yield data[start : start + size]


def split_at(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c for c in cuts if 0 < c < len(data))})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


class AgiReplay:
    """Drive an ``AgiConnection`` over received chunks, sending ``commands`` in turn."""

    def __init__(self, commands: Sequence[AgiCommand], max_buffer_size: int | None = None) -> None:
        self.conn = AgiConnection() if max_buffer_size is None else AgiConnection(max_buffer_size)
        self.commands = list(commands)
        self.events: list[AgiEvent] = []
        self.sent = bytearray()

    def run(self, chunks: Iterator[bytes] | Sequence[bytes]) -> list[AgiEvent]:
        for chunk in chunks:
            if chunk:  # b"" would mean EOF; it is given once, below
                self.conn.receive_data(chunk)
                self._drain()
        self.conn.receive_data(b"")
        self._drain()
        return self.events

    def _drain(self) -> None:
        while True:
            event = self.conn.next_event()
            if event is NEED_DATA:
                return
            self.events.append(event)
            if isinstance(event, ConnectionClosed):
                return
            answered = (AgiRequest, AgiResponse, AgiError, AgiUsageError)
            if isinstance(event, answered) and self.commands:
                self.sent += self.conn.send(self.commands.pop(0))


def replay_agi(
    data: bytes, commands: Sequence[AgiCommand], chunk_size: int | None
) -> list[AgiEvent]:
    return AgiReplay(commands).run(chunked(data, chunk_size))


def replay_ami(
    actions: Sequence[Action], chunks: Iterator[bytes] | Sequence[bytes]
) -> tuple[list[AmiOutput], bytes]:
    """Send every action first (as a client may), then read everything."""
    conn = AmiConnection()
    sent = b"".join(conn.send(action) for action in actions)
    events: list[AmiOutput] = []
    for chunk in [*chunks, b""]:
        conn.receive_data(chunk)
        while (event := conn.next_event()) is not NEED_DATA:
            events.append(event)
            if isinstance(event, ConnectionClosed):
                break
    return events, sent
