"""Asterisk Manager Interface core: bytes in, AMI events out (sans-I/O).

Modelled on h11: ``receive_data(bytes)`` (``b""`` means EOF), ``next_event()``
returns one event or ``NEED_DATA``, ``send(action)`` returns the bytes to
write. No socket, no asyncio, no clock; ActionIDs come from the caller.

The wire: one greeting line ``Asterisk Call Manager/X.Y.Z\\r\\n``, then
messages of ``Key: Value\\r\\n`` lines, each ended by an empty ``\\r\\n``.

Guarantees:

- Bytes are reassembled into whole messages *before* UTF-8 decoding, so a
  Chinese CallerIDName split across reads arrives intact; invalid UTF-8
  becomes U+FFFD and never raises. Several messages per read are fine.
- Keys keep their order and repeats (``ChanVariable``, ``Output``); lookups
  are case-insensitive (Asterisk writes both ``Linkedid`` and ``LinkedID``).
- A response with ``EventList: start`` is held back with the events that
  carry its ActionID until the ``EventList: Complete`` event, then delivered
  as one ``EventListResult``. Every other event (no ActionID, or one that is
  not an open list) flows out at once, so list results may arrive after
  events that followed them on the wire.
- Legacy ``Response: Follows`` command output (ending ``--END COMMAND--``)
  is read into ``AmiResponse.output`` like modern ``Output:`` lines.
- Garbage, a message larger than ``max_buffer_size`` bytes,
  or more than ``max_event_list_items`` events in one list, raises
  ``RemoteProtocolError`` and nothing else; the connection then stays
  broken. Sending after ``Logoff`` or reusing an ActionID still waiting for
  its answer raises ``LocalProtocolError``.
- After EOF ``next_event`` returns ``ConnectionClosed`` forever (no spin).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final

from callcenter.telephony.asterisk.ami_actions import Action
from callcenter.telephony.asterisk.errors import LocalProtocolError, RemoteProtocolError
from callcenter.telephony.asterisk.stream import NEED_DATA, ConnectionClosed, NeedData

__all__ = [
    "NEED_DATA",
    "Action",
    "AmiConnection",
    "AmiEvent",
    "AmiFields",
    "AmiGreeting",
    "AmiMessage",
    "AmiResponse",
    "AmiState",
    "ConnectionClosed",
    "EventListResult",
    "LocalProtocolError",
    "RemoteProtocolError",
]

DEFAULT_MAX_BUFFER_SIZE: Final = 1024 * 1024
DEFAULT_MAX_EVENT_LIST_ITEMS: Final = 100_000
_END: Final = b"\r\n\r\n"
_FOLLOWS: Final = b"Response: Follows\r\n"
_END_COMMAND: Final = b"--END COMMAND--\r\n\r\n"
_GREETING = re.compile(r"(.+)/(\S+)")


@dataclass(frozen=True)
class AmiFields:
    """The ``Key: Value`` lines of one message, in order, repeats kept."""

    items: tuple[tuple[str, str], ...] = ()

    @cached_property
    def _exact(self) -> dict[str, str]:
        """Key as sent -> its first value (built in C on the first lookup)."""
        return dict(reversed(self.items))  # the first one wins

    @cached_property
    def _first(self) -> dict[str, str]:
        """Case-folded key -> its first value (built when a lookup's case differs)."""
        return {k.lower(): value for k, value in reversed(self.items)}

    def get(self, key: str, default: str | None = None) -> str | None:
        value = self._exact.get(key)
        if value is not None:
            return value
        return self._first.get(key.lower(), default)

    def get_all(self, key: str) -> list[str]:
        folded = key.lower()
        return [value for k, value in self.items if k.lower() == folded]

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class AmiGreeting:
    product: str
    version: str


@dataclass(frozen=True)
class AmiResponse:
    """``Response: Success|Error|Goodbye|Follows`` to one action."""

    response: str
    action_id: str | None
    message: str | None
    fields: AmiFields
    output: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.response.lower() in ("success", "follows", "goodbye")


@dataclass(frozen=True)
class AmiEvent:
    name: str
    action_id: str | None
    fields: AmiFields


@dataclass(frozen=True)
class EventListResult:
    """A list action's response, its item events, and the closing event."""

    action_id: str
    response: AmiResponse
    events: tuple[AmiEvent, ...]
    complete: AmiEvent


AmiMessage = AmiResponse | AmiEvent
AmiOutput = AmiGreeting | AmiResponse | AmiEvent | EventListResult | ConnectionClosed


class AmiState(enum.Enum):
    AWAIT_GREETING = "AWAIT_GREETING"
    OPEN = "OPEN"
    CLOSED = "CLOSED"
    ERROR = "ERROR"


_THEIR_TRANSITIONS: Final[dict[AmiState, dict[type, AmiState]]] = {
    AmiState.AWAIT_GREETING: {AmiGreeting: AmiState.OPEN},
    AmiState.OPEN: {AmiResponse: AmiState.OPEN, AmiEvent: AmiState.OPEN},
}


# --- readers: bytes -> message, or None for "need more" --------------------


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def read_greeting(buf: bytearray) -> tuple[AmiGreeting, int] | None:
    end = buf.find(b"\n")
    if end < 0:
        return None
    line = _decode(bytes(buf[:end]).removesuffix(b"\r"))
    match = _GREETING.fullmatch(line)
    if match is None:
        raise RemoteProtocolError(f"not an AMI greeting: {line[:80]!r}")
    return AmiGreeting(product=match.group(1), version=match.group(2)), end + 1


def read_message(buf: bytearray) -> tuple[AmiMessage, int] | None:
    """One message at the start of ``buf`` (leading blank lines skipped)."""
    start = 0
    while buf.startswith(b"\r\n", start):
        start += 2
    if buf.startswith(_FOLLOWS, start):
        end = buf.find(_END_COMMAND, start)
        if end < 0:
            return None
        return _parse_follows(_decode(bytes(buf[start:end]))), end + len(_END_COMMAND)
    end = buf.find(_END, start)
    if end < 0:
        return None
    raw = bytes(buf[start:end])
    fields = _parse_fields(_decode(raw).split("\r\n"))
    # A C-level look for the ActionID in the bytes; the field scan only when it is there.
    action_id = fields.get("ActionID") if b"actionid" in raw.lower() else None
    return _build_message(fields, action_id=action_id), end + len(_END)


def _parse_fields(lines: list[str]) -> AmiFields:
    # the hot path (every message): whole-message checks in C, the per-line loop only
    # to name the first bad line
    parts = [line.partition(":") for line in lines]
    keys = [key for key, _, _ in parts]
    joined = "\x00".join(keys)
    if "" in keys or not all(colon for _, colon, _ in parts) or \
            not "".join(keys).isprintable() or joined.startswith(" ") or joined.endswith(" ") or \
            " \x00" in joined or "\x00 " in joined:
        _refuse_fields(lines)
    return AmiFields(tuple(zip(keys, [value.removeprefix(" ") for _, _, value in parts],
                               strict=True)))


def _refuse_fields(lines: list[str]) -> None:
    for line in lines:
        key, colon, _ = line.partition(":")
        if not colon or not key or key != key.strip() or not key.isprintable():
            raise RemoteProtocolError(f"not an AMI 'Key: Value' line: {line[:80]!r}")
    raise RemoteProtocolError("not an AMI message")  # pragma: no cover (a key check above)


def _build_message(
    fields: AmiFields, output: tuple[str, ...] = (), action_id: str | None | bool = True,
) -> AmiMessage:
    """``action_id=True``: look it up in ``fields``; else the caller found it already."""
    if not fields.items:
        raise RemoteProtocolError("AMI message without any field")
    kind, value = fields.items[0]
    if action_id is True or action_id is False:
        action_id = fields.get("ActionID")
    if kind == "Event":
        return AmiEvent(name=value, action_id=action_id, fields=fields)
    if kind.lower() == "response":
        return AmiResponse(
            response=value,
            action_id=action_id,
            message=fields.get("Message"),
            fields=fields,
            output=tuple(fields.get_all("Output")) + output,
        )
    if kind.lower() == "event":
        return AmiEvent(name=value, action_id=action_id, fields=fields)
    raise RemoteProtocolError(f"AMI message starts with {kind!r}, not Response or Event")


def _parse_follows(text: str) -> AmiMessage:
    """Legacy ``Response: Follows``: header lines, then raw LF-ended output."""
    segments = text.split("\r\n")
    headers: list[str] = []
    while segments and "\n" not in segments[0] and segments[0]:
        if segments[0].endswith("--END COMMAND--"):
            break
        headers.append(segments.pop(0))
    body = "\r\n".join(segments).removesuffix("--END COMMAND--")
    output = tuple(line.removesuffix("\r") for line in body.split("\n"))
    if output and output[-1] == "":
        output = output[:-1]
    return _build_message(_parse_fields(headers), output)


def _is_list_start(message: AmiMessage) -> bool:
    return (message.fields.get("EventList") or "").lower() == "start"


def _is_list_end(message: AmiMessage) -> bool:
    return (message.fields.get("EventList") or "").lower() in ("complete", "cancelled")


@dataclass
class _OpenList:
    response: AmiResponse
    events: list[AmiEvent] = field(default_factory=list)


class AmiConnection:
    """One AMI session, seen from our (the client's) side."""

    def __init__(
        self,
        max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE,
        max_event_list_items: int = DEFAULT_MAX_EVENT_LIST_ITEMS,
    ) -> None:
        self.max_buffer_size = max_buffer_size
        self.max_event_list_items = max_event_list_items
        self.state = AmiState.AWAIT_GREETING
        self.logged_off = False
        self._outstanding: set[str] = set()
        self._lists: dict[str, _OpenList] = {}
        self._buf = bytearray()
        self._eof = False
        self._error: RemoteProtocolError | None = None

    @property
    def outstanding_action_ids(self) -> frozenset[str]:
        """ActionIDs sent whose response (or whole event list) has not arrived."""
        return frozenset(self._outstanding)

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

    def next_event(self) -> AmiOutput | NeedData:
        if self._error is not None:
            raise self._error
        try:
            while True:
                event = self._next_message()
                if event is None:
                    continue  # absorbed into an open event list
                return event
        except RemoteProtocolError as exc:
            self.state = AmiState.ERROR
            self._error = exc
            raise

    def _next_message(self) -> AmiOutput | NeedData | None:
        if self.state is AmiState.CLOSED:
            return ConnectionClosed()
        if self.state is AmiState.AWAIT_GREETING:
            parsed: tuple[AmiGreeting | AmiMessage, int] | None = read_greeting(self._buf)
        else:
            parsed = read_message(self._buf)
        if parsed is None:
            return self._incomplete()
        message, consumed = parsed
        if consumed > self.max_buffer_size:
            raise RemoteProtocolError(f"an AMI message over {self.max_buffer_size} bytes")
        next_state = _THEIR_TRANSITIONS.get(self.state, {}).get(type(message))
        if next_state is None:
            raise RemoteProtocolError(f"{type(message).__name__} in state {self.state.value}")
        del self._buf[:consumed]
        self.state = next_state
        if isinstance(message, AmiGreeting):
            return message
        return self._route(message)

    def _incomplete(self) -> NeedData | ConnectionClosed:
        if len(self._buf) >= self.max_buffer_size:
            raise RemoteProtocolError(f"an AMI message over {self.max_buffer_size} bytes")
        if not self._eof:
            return NEED_DATA
        if self._buf.strip(b"\r\n"):
            raise RemoteProtocolError("connection closed in the middle of an AMI message")
        self._buf.clear()
        self.state = AmiState.CLOSED
        return ConnectionClosed()

    def _route(self, message: AmiMessage) -> AmiOutput | None:
        action_id = message.action_id
        if isinstance(message, AmiResponse):
            if action_id is not None and _is_list_start(message):
                if action_id in self._lists:
                    raise RemoteProtocolError(
                        f"second event list opened for ActionID {action_id!r}"
                    )
                self._lists[action_id] = _OpenList(message)
                return None
            if action_id is not None:
                self._outstanding.discard(action_id)
            return message
        open_list = self._lists.get(action_id) if action_id is not None else None
        if open_list is None or action_id is None:
            return message
        if _is_list_end(message):
            del self._lists[action_id]
            self._outstanding.discard(action_id)
            return EventListResult(action_id, open_list.response, tuple(open_list.events), message)
        if len(open_list.events) >= self.max_event_list_items:
            raise RemoteProtocolError(
                f"event list {action_id!r} exceeds {self.max_event_list_items} events"
            )
        open_list.events.append(message)
        return None

    def send(self, action: Action) -> bytes:
        """Return the bytes for ``action``; the caller writes them."""
        if self.logged_off:
            raise LocalProtocolError(f"cannot send {action.name}: Logoff was already sent")
        if self.state in (AmiState.CLOSED, AmiState.ERROR):
            raise LocalProtocolError(f"cannot send {action.name} in state {self.state.value}")
        if action.action_id in self._outstanding:
            raise LocalProtocolError(
                f"ActionID {action.action_id!r} is still waiting for its response; use a new one"
            )
        data = action.encode()
        self._outstanding.add(action.action_id)
        if action.name.lower() == "logoff":
            self.logged_off = True
        return data

    @property
    def trailing_data(self) -> tuple[bytes, bool]:
        """Unparsed bytes and whether EOF was seen (as h11)."""
        return bytes(self._buf), self._eof
