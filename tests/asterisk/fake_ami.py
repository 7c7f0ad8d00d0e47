"""A fake Asterisk Manager Interface on real TCP that replays a recorded event stream.

It greets, answers Login / Ping / CoreShowChannels / Originate / Logoff with
the client's own ActionIDs, and after each login streams the recorded events
from where the last connection stopped, cut into random-sized TCP writes (a
message, even a UTF-8 character, may be split anywhere). It can drop the
connection after N events (mid-message if asked), lose the events sent while
the client is away, stop answering pings, and holds Originates unanswered.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path

TRANSCRIPTS = Path(__file__).parent.parent / "asterisk_protocol" / "transcripts"
GREETING = b"Asterisk Call Manager/11.0.0\r\n"


def recorded_events(name: str = "ami_two_calls") -> list[bytes]:
    """The events Asterisk sent in a recording (responses and list items left out)."""
    data = (TRANSCRIPTS / f"{name}.from_asterisk.bin").read_bytes()
    data = data.split(b"\r\n", 1)[1]
    events = []
    for block in data.split(b"\r\n\r\n"):
        if block.startswith(b"Event: ") and not block.startswith(b"Event: CoreShowChannel"):
            events.append(block + b"\r\n\r\n")
    return events


def message(*pairs: tuple[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode()


def field_of(raw: bytes, key: str) -> str | None:
    for line in raw.decode(errors="replace").split("\r\n"):
        k, _, v = line.partition(": ")
        if k.lower() == key.lower():
            return v
    return None


@dataclass
class FakeAmi:
    events: list[bytes]
    seed: int = 7
    max_chunk: int = 200
    drop_after: list[int] = field(default_factory=list)  # event counts at which to drop, in turn
    drop_mid_message: bool = True
    lose_while_away: int = 0  # events that "happen" while the client is disconnected
    channels: list[bytes] = field(default_factory=list)  # CoreShowChannel bodies for resync
    answer_pings: bool = True
    answer_originate: bool = True
    originate_reason: str | None = None  # then send an OriginateResponse with this Reason
    secret: str = "callcenter"
    actions: list[bytes] = field(default_factory=list)
    logins: int = 0
    cursor: int = 0
    _server: asyncio.Server | None = None
    _rng: random.Random = field(init=False)
    _conns: set[asyncio.StreamWriter] = field(default_factory=set)
    _locks: dict[int, asyncio.Lock] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> FakeAmi:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        for writer in list(self._conns):
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def sent_actions(self, name: str) -> list[bytes]:
        return [a for a in self.actions if field_of(a, "Action") == name]

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        """One whole message, in random pieces; messages never interleave (as in Asterisk)."""
        lock = self._locks.setdefault(id(writer), asyncio.Lock())
        async with lock:
            while data:
                size = self._rng.randint(1, self.max_chunk)
                writer.write(data[:size])
                await writer.drain()
                data = data[size:]
                if self._rng.random() < 0.3:
                    await asyncio.sleep(0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add(writer)
        streamer: asyncio.Task[None] | None = None
        try:
            await self._write(writer, GREETING)
            buf = b""
            while True:
                data = await reader.read(4096)
                if not data:
                    return
                buf += data
                while b"\r\n\r\n" in buf:
                    raw, buf = buf.split(b"\r\n\r\n", 1)
                    self.actions.append(raw)
                    reply = await self._answer(raw, writer)
                    if reply == b"CLOSE":
                        return
                    if reply == b"LOGGED_IN":
                        streamer = asyncio.create_task(self._stream(writer))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if streamer is not None:
                streamer.cancel()
            self._conns.discard(writer)
            writer.close()

    async def _answer(self, raw: bytes, writer: asyncio.StreamWriter) -> bytes | None:
        action, aid = field_of(raw, "Action"), field_of(raw, "ActionID") or ""
        if action == "Login":
            if field_of(raw, "Secret") != self.secret:
                await self._write(writer, message(("Response", "Error"), ("ActionID", aid),
                                                  ("Message", "Authentication failed")))
                return None
            self.logins += 1
            if self.logins > 1:
                self.cursor += self.lose_while_away
            await self._write(writer, message(("Response", "Success"), ("ActionID", aid),
                                              ("Message", "Authentication accepted")))
            return b"LOGGED_IN"
        if action == "Ping":
            if self.answer_pings:
                await self._write(writer, message(("Response", "Success"), ("ActionID", aid),
                                                  ("Ping", "Pong"), ("Timestamp", "1795432818.3")))
            return None
        if action == "CoreShowChannels":
            out = message(("Response", "Success"), ("ActionID", aid), ("EventList", "start"),
                          ("Message", "Channels will follow"))
            for body in self.channels:
                out += f"Event: CoreShowChannel\r\nActionID: {aid}\r\n".encode() + body
            out += message(("Event", "CoreShowChannelsComplete"), ("ActionID", aid),
                           ("EventList", "Complete"), ("ListItems", str(len(self.channels))))
            await self._write(writer, out)
            return None
        if action == "Originate":
            if not self.answer_originate:
                return None
            await self._write(writer, message(("Response", "Success"), ("ActionID", aid),
                                              ("Message", "Originate successfully queued")))
            if self.originate_reason is not None:
                ok = "Success" if self.originate_reason == "4" else "Failure"
                await self._write(writer, message(
                    ("Event", "OriginateResponse"), ("Privilege", "call,all"), ("ActionID", aid),
                    ("Response", ok), ("Channel", "PJSIP/trunk-00000001"), ("Context", "callback-outbound"),
                    ("Exten", "s"), ("Reason", self.originate_reason),
                    ("Uniqueid", field_of(raw, "ChannelId") or "<null>"),
                    ("CallerIDNum", "<unknown>"), ("CallerIDName", "<unknown>")))
            return None
        if action == "Logoff":
            await self._write(writer, message(("Response", "Goodbye"), ("ActionID", aid),
                                              ("Message", "Thanks for all the fish.")))
            return b"CLOSE"
        await self._write(writer, message(("Response", "Error"), ("ActionID", aid),
                                          ("Message", f"Invalid/unknown command: {action}")))
        return None

    async def _stream(self, writer: asyncio.StreamWriter) -> None:
        sent_here = 0
        while self.cursor < len(self.events):
            if self.drop_after and sent_here >= self.drop_after[0]:
                self.drop_after.pop(0)
                if self.drop_mid_message:
                    half = self.events[self.cursor]
                    writer.write(half[: len(half) // 2])
                    self.cursor += 1  # that event is lost with the connection
                writer.close()
                return
            await self._write(writer, self.events[self.cursor])
            self.cursor += 1
            sent_here += 1
