"""FastAGI protocol core: bytes from Asterisk in, AGI events out (sans-I/O).

Modelled on h11: ``receive_data(bytes)`` (``b""`` means EOF), ``next_event()``
returns one event or ``NEED_DATA``, ``send(command)`` returns the bytes to
write. No socket, no asyncio, no clock.

What Asterisk says (all lines end in LF; a trailing CR is tolerated):

1. the ``agi_*: value`` block ending with an empty line -> ``AgiRequest``;
2. per command: optional ``100 result=0 Trying...`` (``AgiTrying``), then one
   reply: ``200 result=...`` (``AgiResponse``), ``510``/``511``/other 5xx
   (``AgiError``) or ``520`` single- or multi-line (``AgiUsageError``);
3. at any time, ``HANGUP`` once the channel is gone (``AgiHangup``).

Rules, as in h11's ``_state.py``:

- Rule 1: one command at a time. ``send`` before the request arrived or
  while a command is outstanding raises ``LocalProtocolError``.
- Rule 2: a reply with no command outstanding, an unknown line, a broken
  ``agi_*`` block, or an event larger than ``max_buffer_size`` bytes raise
  ``RemoteProtocolError`` — never any other exception — and the connection
  stays broken.
- Bytes are reassembled into whole lines/blocks before UTF-8 decoding;
  invalid UTF-8 becomes U+FFFD, it does not raise.
- After EOF ``next_event`` returns ``ConnectionClosed`` forever (no spin).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import parse_qs, unquote

from callcenter.telephony.asterisk.agi_commands import AgiCommand
from callcenter.telephony.asterisk.errors import LocalProtocolError, RemoteProtocolError
from callcenter.telephony.asterisk.stream import NEED_DATA, ConnectionClosed, NeedData

__all__ = [
    "NEED_DATA",
    "AgiConnection",
    "AgiError",
    "AgiEvent",
    "AgiHangup",
    "AgiReply",
    "AgiRequest",
    "AgiResponse",
    "AgiState",
    "AgiTrying",
    "AgiUsageError",
    "ConnectionClosed",
    "LocalProtocolError",
    "RemoteProtocolError",
]

DEFAULT_MAX_BUFFER_SIZE: Final = 64 * 1024
_UNKNOWN: Final = "unknown"


# --- events ---------------------------------------------------------------


@dataclass(frozen=True)
class AgiRequest:
    """The ``agi_*`` block Asterisk sends when it connects.

    ``env`` keeps every variable as sent (keys with their ``agi_`` prefix).
    ``callerid``, ``calleridname``, ``dnid`` and ``rdnis`` are ``None`` where
    Asterisk says ``unknown``. ``args`` are ``agi_arg_1..N`` URL-decoded
    (``raw_args`` as sent). ``network_script`` has its ``?query`` cut off;
    the query is kept in ``query``.
    """

    env: Mapping[str, str] = field(hash=False)
    network_script: str
    query: str
    request: str
    channel: str
    uniqueid: str
    linkedid: str | None
    language: str
    channel_type: str
    version: str
    callerid: str | None
    calleridname: str | None
    dnid: str | None
    rdnis: str | None
    context: str
    extension: str
    priority: int
    accountcode: str
    threadid: str
    args: tuple[str, ...]
    raw_args: tuple[str, ...]

    @property
    def query_params(self) -> dict[str, list[str]]:
        return parse_qs(self.query, keep_blank_values=True)


@dataclass(frozen=True)
class AgiResponse:
    """``NNN result=R [(data)] [endpos=N]`` or ``NNN result=R free text``.

    ``result`` stays a string: GET DATA digits keep their leading zeros and
    ``result=`` may be empty. ``timed_out`` is true for ``(timeout)``.
    """

    code: int
    result: str
    data: str | None = None
    endpos: int | None = None
    timed_out: bool = False

    @property
    def result_int(self) -> int | None:
        try:
            return int(self.result)
        except ValueError:
            return None


@dataclass(frozen=True)
class AgiTrying:
    """Interim ``100 result=0 Trying...`` (GOSUB); the reply is still to come."""

    code: int
    text: str


@dataclass(frozen=True)
class AgiError:
    """A 5xx reply without a result: 510 unknown command, 511 dead channel, ..."""

    code: int
    message: str

    @property
    def is_dead_channel(self) -> bool:
        return self.code == 511

    @property
    def is_invalid_command(self) -> bool:
        return self.code == 510


@dataclass(frozen=True)
class AgiUsageError:
    """520: invalid syntax; ``usage`` is the proper-usage text (may be empty)."""

    code: int
    message: str
    usage: str


@dataclass(frozen=True)
class AgiHangup:
    """Asterisk's asynchronous ``HANGUP`` line: the channel is gone."""


AgiReply = AgiResponse | AgiError | AgiUsageError
AgiEvent = AgiRequest | AgiReply | AgiTrying | AgiHangup | ConnectionClosed


# --- state ----------------------------------------------------------------


class AgiState(enum.Enum):
    AWAIT_REQUEST = "AWAIT_REQUEST"
    IDLE = "IDLE"
    AWAIT_REPLY = "AWAIT_REPLY"
    CLOSED = "CLOSED"
    ERROR = "ERROR"


_THEIR_TRANSITIONS: Final[dict[AgiState, dict[type, AgiState]]] = {
    AgiState.AWAIT_REQUEST: {AgiRequest: AgiState.IDLE},
    AgiState.IDLE: {AgiHangup: AgiState.IDLE},
    AgiState.AWAIT_REPLY: {
        AgiTrying: AgiState.AWAIT_REPLY,
        AgiHangup: AgiState.AWAIT_REPLY,
        AgiResponse: AgiState.IDLE,
        AgiError: AgiState.IDLE,
        AgiUsageError: AgiState.IDLE,
    },
}
# Enum member lookups cost a class __getattr__ on Python 3.11: the hot path reads these.
_IDLE: Final = AgiState.IDLE
_AWAIT_REPLY: Final = AgiState.AWAIT_REPLY
# Our side (AgiConnection.send): a command only in IDLE, which moves to AWAIT_REPLY.


# --- readers: bytes -> event, or None for "need more" ----------------------

_ARG_KEY = re.compile(r"agi_arg_([1-9][0-9]{0,5})")
# One ``agi_*: value`` line: ASCII name, one optional blank after the colon (a trailing CR is
# cut afterwards).
_ENV_LINE = re.compile(r"^(agi_[A-Za-z0-9_]+): ?(.*)$", re.MULTILINE)
_PRIORITY = re.compile(r"[0-9]{1,9}")
_NOT_KNOWN: Final = frozenset({None, "", _UNKNOWN})
_REPLY_LINE = re.compile(r"([1-5][0-9][0-9])([ -])(.*)")
_RESULT = re.compile(r"result=(\S*)(.*)")
_RESULT_TAIL = re.compile(r"(?: \((.*)\))?(?: endpos=(-?[0-9]{1,18}))?")


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _strip_cr(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line


def _block_end(buf: bytearray) -> int:
    """Index just past the blank line that ends the ``agi_*`` block, or -1."""
    lf = buf.find(b"\n\n")
    if lf > 0 and buf[0] != 0x0A and buf.find(b"\r", 0, lf) < 0:
        return lf + 2  # the usual block: LF lines only
    if buf.startswith(b"\n"):
        return 1
    if buf.startswith(b"\r\n"):
        return 2
    lf = buf.find(b"\n\n")
    crlf = buf.find(b"\n\r\n")
    if lf < 0:
        return -1 if crlf < 0 else crlf + 3
    return lf + 2 if crlf < 0 or lf < crlf else crlf + 3


def read_request(buf: bytearray) -> tuple[AgiRequest, int] | None:
    """Parse the ``agi_*`` block at the start of ``buf``; ``None`` if incomplete.

    The block is found first and decoded once; nothing is parsed twice while
    its bytes trickle in. Its lines are read by one regular expression; only a
    block with a line it does not take (or a variable sent twice) is read
    again line by line, to name what is wrong.
    """
    end = _block_end(buf)
    if end < 0:
        return None
    text = buf[:end].decode("utf-8", errors="replace")
    pairs = _ENV_LINE.findall(text)
    env = dict(pairs)
    if len(env) != len(pairs) or len(pairs) != text.count("\n") - 1:
        _reject_block(text)
    if "\r" in text:  # CRLF lines: the CR is not part of the value
        env = {key: value[:-1] if value.endswith("\r") else value for key, value in env.items()}
    return _build_request(env, "agi_arg_" in text), end


def _reject_block(text: str) -> None:
    """Raise RemoteProtocolError naming the first bad line of a block the fast path refused."""
    seen: set[str] = set()
    lines = text.split("\n")
    del lines[-2:]  # the blank line and what follows its LF
    for line in lines:
        if line.endswith("\r"):
            line = line[:-1]
        key, colon, _value = line.partition(":")
        if not colon or not _is_env_key(key):
            raise RemoteProtocolError(f"not an agi_* variable line: {line[:80]!r}")
        if key in seen:
            raise RemoteProtocolError(f"AGI variable {key} sent twice")
        seen.add(key)
    raise RemoteProtocolError("malformed agi_* block")  # unreachable: the lines above decide


def _is_env_key(key: str) -> bool:
    name = key[4:]
    return (key.startswith("agi_") and name.isascii() and bool(name)
            and name.replace("_", "a").isalnum())


def _build_request(env: dict[str, str], has_args: bool = True) -> AgiRequest:
    """The request of ``env`` (a fresh dict it keeps); ``has_args=False``: no ``agi_arg_*`` key."""
    if "agi_request" not in env or "agi_channel" not in env or "agi_uniqueid" not in env:
        missing = next(k for k in ("agi_request", "agi_channel", "agi_uniqueid") if k not in env)
        raise RemoteProtocolError(f"AGI request lacks {missing}")
    priority_text = env.get("agi_priority", "0")
    if _PRIORITY.fullmatch(priority_text) is None:
        raise RemoteProtocolError(f"agi_priority is not a number: {priority_text[:40]!r}")
    raw_args: tuple[str, ...] = ()
    if has_args:
        numbered = sorted(
            (int(m.group(1)), value)
            for key, value in env.items()
            if key.startswith("agi_arg_") and (m := _ARG_KEY.fullmatch(key)) is not None
        )
        if [n for n, _ in numbered] != list(range(1, len(numbered) + 1)):
            raise RemoteProtocolError("agi_arg_N variables are not numbered 1..N")
        raw_args = tuple(value for _, value in numbered)
    script, _, query = env.get("agi_network_script", "").partition("?")
    get = env.get
    callerid, calleridname = get("agi_callerid"), get("agi_calleridname")
    dnid, rdnis = get("agi_dnid"), get("agi_rdnis")
    return _new_request(
        env=env,
        network_script=script,
        query=query,
        request=env["agi_request"],
        channel=env["agi_channel"],
        uniqueid=env["agi_uniqueid"],
        linkedid=get("agi_linkedid") or None,
        language=get("agi_language", ""),
        channel_type=get("agi_type", ""),
        version=get("agi_version", ""),
        callerid=None if callerid in _NOT_KNOWN else callerid,
        calleridname=None if calleridname in _NOT_KNOWN else calleridname,
        dnid=None if dnid in _NOT_KNOWN else dnid,
        rdnis=None if rdnis in _NOT_KNOWN else rdnis,
        context=get("agi_context", ""),
        extension=get("agi_extension", ""),
        priority=int(priority_text),
        accountcode=get("agi_accountcode", ""),
        threadid=get("agi_threadid", ""),
        args=tuple(unquote(arg, errors="replace") for arg in raw_args) if raw_args else (),
        raw_args=raw_args,
    )


def _new_request(**fields: object) -> AgiRequest:
    """An ``AgiRequest`` of exactly its fields, without the frozen ``__init__``.

    A frozen dataclass sets each of its 21 fields through ``object.__setattr__``;
    filling the instance's ``__dict__`` at once costs a tenth of that, once per
    call. The result is the same object (a test compares it with the dataclass
    constructor field by field).
    """
    request = object.__new__(AgiRequest)
    request.__dict__.update(fields)
    return request


# Replies repeat ("200 result=0", "200 result=1 (timeout)"...), and events are
# immutable: a short line parsed once is answered from here afterwards.
_REPLY_CACHE: dict[bytes, AgiEvent] = {}
_REPLY_CACHE_LINE: Final = 96
_REPLY_CACHE_SIZE: Final = 2048
_FINAL_REPLIES: Final = frozenset({AgiResponse, AgiError, AgiUsageError})  # AWAIT_REPLY -> IDLE


def read_reply(buf: bytearray) -> tuple[AgiEvent, int] | None:
    """Parse one reply (or ``HANGUP``) at the start of ``buf``."""
    end = buf.find(b"\n")
    if end < 0:
        return None
    raw = bytes(buf[:end])
    cached = _REPLY_CACHE.get(raw)
    if cached is not None:
        return cached, end + 1
    parsed = _read_reply_line(buf, raw, end)
    if parsed is not None and end <= _REPLY_CACHE_LINE and parsed[1] == end + 1:
        if len(_REPLY_CACHE) >= _REPLY_CACHE_SIZE:
            _REPLY_CACHE.clear()
        _REPLY_CACHE[raw] = parsed[0]
    return parsed


def _read_reply_line(buf: bytearray, raw: bytes, end: int) -> tuple[AgiEvent, int] | None:
    line = _decode(_strip_cr(raw))
    if line == "HANGUP":
        return AgiHangup(), end + 1
    match = _REPLY_LINE.fullmatch(line)
    if match is None:
        raise RemoteProtocolError(f"not an AGI reply line: {line[:80]!r}")
    code, dash, text = int(match.group(1)), match.group(2), match.group(3)
    if dash == "-":
        return _read_usage(buf, code, text, end + 1)
    if code < 200:
        return AgiTrying(code, text), end + 1
    result = _RESULT.fullmatch(text)
    if result is not None:
        return _parse_result(code, result.group(1), result.group(2)), end + 1
    if code == 520:
        return AgiUsageError(code, text, ""), end + 1
    if code >= 500:
        return AgiError(code, text), end + 1
    raise RemoteProtocolError(f"AGI {code} reply without result=: {line[:80]!r}")


def _parse_result(code: int, result: str, tail: str) -> AgiResponse:
    parts = _RESULT_TAIL.fullmatch(tail)
    if parts is not None:
        data, endpos = parts.group(1), parts.group(2)
        return AgiResponse(
            code=code,
            result=result,
            data=data,
            endpos=int(endpos) if endpos is not None else None,
            timed_out=data == "timeout",
        )
    free_text = tail.strip()
    return AgiResponse(code=code, result=result, data=free_text or None)


def _read_usage(buf: bytearray, code: int, first: str, pos: int) -> tuple[AgiEvent, int] | None:
    if code != 520:
        raise RemoteProtocolError(f"multi-line AGI reply with code {code}; only 520 has one")
    usage: list[str] = []
    while True:
        end = buf.find(b"\n", pos)
        if end < 0:
            return None
        line = _decode(_strip_cr(bytes(buf[pos:end])))
        pos = end + 1
        if line.startswith("520 "):
            return AgiUsageError(code, first, "\n".join(usage)), pos
        usage.append(line)


# --- connection -----------------------------------------------------------


class AgiConnection:
    """One FastAGI session, seen from our (the server's) side."""

    def __init__(self, max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE) -> None:
        self.max_buffer_size = max_buffer_size
        self.state = AgiState.AWAIT_REQUEST
        self.request: AgiRequest | None = None
        self.pending_command: AgiCommand | None = None
        self.channel_hung_up = False
        self._buf = bytearray()
        self._eof = False
        self._error: RemoteProtocolError | None = None

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the socket; ``b""`` means the peer closed."""
        if self._eof:
            if data:
                raise LocalProtocolError("received data after EOF")
            return
        if data:
            self._buf += data
        else:
            self._eof = True

    def next_event(self) -> AgiEvent | NeedData:
        if self.state is _AWAIT_REPLY and self._error is None:
            # The hot path: a whole reply line already parsed once (see _REPLY_CACHE).
            buf = self._buf
            end = buf.find(b"\n", 0, _REPLY_CACHE_LINE + 1)
            if end >= 0:
                event = _REPLY_CACHE.get(bytes(buf[:end]))
                if (event is not None and type(event) in _FINAL_REPLIES
                        and end < self.max_buffer_size):
                    del buf[:end + 1]
                    self.state = _IDLE
                    self.pending_command = None
                    return event
        if self._error is not None:
            raise self._error
        if self.state is AgiState.CLOSED:
            return ConnectionClosed()
        try:
            return self._next_event()
        except RemoteProtocolError as exc:
            self.state = AgiState.ERROR
            self._error = exc
            raise

    def _next_event(self) -> AgiEvent | NeedData:
        if self.state is AgiState.AWAIT_REQUEST:
            parsed: tuple[AgiEvent, int] | None = read_request(self._buf)
        else:
            parsed = read_reply(self._buf)
        if parsed is None:
            if len(self._buf) >= self.max_buffer_size:
                raise RemoteProtocolError(f"an AGI event over {self.max_buffer_size} bytes")
            if not self._eof:
                return NEED_DATA
            if self._buf:
                raise RemoteProtocolError("connection closed in the middle of an AGI event")
            self.state = AgiState.CLOSED
            return ConnectionClosed()
        event, consumed = parsed
        if consumed > self.max_buffer_size:
            raise RemoteProtocolError(f"an AGI event over {self.max_buffer_size} bytes")
        next_state = _THEIR_TRANSITIONS.get(self.state, {}).get(type(event))
        if next_state is None:
            raise RemoteProtocolError(
                f"Asterisk sent {type(event).__name__} in state {self.state.value}"
            )
        del self._buf[:consumed]
        self.state = next_state
        if isinstance(event, AgiRequest):
            self.request = event
        elif isinstance(event, AgiHangup):
            self.channel_hung_up = True
        elif next_state is AgiState.IDLE:
            self.pending_command = None
        return event

    def send(self, command: AgiCommand) -> bytes:
        """Return the bytes for ``command``; the caller writes them."""
        if self.state is not _IDLE:  # an identity test: hashing an Enum is a Python call
            if self.state is AgiState.AWAIT_REPLY:
                raise LocalProtocolError(
                    f"cannot send {type(command).__name__}: "
                    f"{type(self.pending_command).__name__} is still waiting for its reply"
                )
            raise LocalProtocolError(f"cannot send a command in state {self.state.value}")
        data = command.encode()
        self.state = _AWAIT_REPLY
        self.pending_command = command
        return data

    @property
    def trailing_data(self) -> tuple[bytes, bool]:
        """Unparsed bytes and whether EOF was seen (as h11)."""
        return bytes(self._buf), self._eof
