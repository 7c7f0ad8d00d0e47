"""Asterisk Manager Interface core: bytes in, AMI events out (sans-I/O).

Modelled on h11: ``receive_data(bytes)`` (``b""`` means EOF), ``next_event()``
returns one event or ``NEED_DATA``, ``send(action)`` returns the bytes to
write. No socket, no asyncio, no clock; ActionIDs come from the caller.

The wire: one greeting line ``Asterisk Call Manager/X.Y.Z\\r\\n``, then
messages of ``Key: Value\\r\\n`` lines, each ended by an empty ``\\r\\n``.

Guarantees:

- Bytes are reassembled into whole messages *before* UTF-8 decoding, so a
  Chinese CallerIDName split across reads arrives intact; invalid UTF-8
  becomes U+FFFD and never raises. Several messages per read are fine: the
  whole messages buffered are decoded at once (a blank line is ASCII, so that
  is the same text as decoding each alone) and handed out one by one.
- The run of whole messages is split by a few string operations on all of
  it (`_split_run`): a message whose lines are each ``Key: Value`` with one
  ``": "`` and whose keys are a list seen before (in this process, from
  messages the line rules read) is taken from those pieces as they are; any
  other (a new list of keys, a value holding ``": "``, ``Key:`` without the
  space, a bad key, a NUL, stray blank lines) is read by the line-by-line
  rules. Both give the same fields and raise the same errors at the same
  message (tests/asterisk_protocol/test_ami_runs.py).
- Keys keep their order and repeats (``ChanVariable``, ``Output``); lookups
  are case-insensitive (Asterisk writes both ``Linkedid`` and ``LinkedID``)
  and answered from the message's key list (built once per distinct list):
  no dictionary per message.
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple

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
# The split of a run of whole messages (no NUL in it): every line break becomes ": \0", so
# one split on ": " gives each line's key (behind a "\0" mark) and value, and a bare "\0"
# (a cached one-character string) where a message ends.
_MARK: Final = "\x00"
_LINE_TO_MARK: Final = ": \x00"
_SHAPES_MAX: Final = 4096
_new_object = object.__new__
_new_tuple = tuple.__new__


class _Shape:
    """One list of keys, as messages carry it: where each key is first found (exact and
    case-folded), and what the message is. Built once per distinct list of keys."""

    __slots__ = ("action_id_at", "folded", "index", "is_event", "is_message", "key_tokens",
                 "keys", "marks", "span")

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys: tuple[str, ...] = tuple(keys)
        self.key_tokens: list[str] = [_MARK + key for key in keys]  # as the run split gives them
        self.span = 2 * len(self.keys)  # its tokens in the run split
        self.marks = len(self.keys) + 1  # its marks there: its lines', its end's
        last = len(self.keys) - 1
        self.index: dict[str, int] = {k: last - i for i, k in enumerate(reversed(self.keys))}
        self.folded: dict[str, int] = {
            k.lower(): last - i for i, k in enumerate(reversed(self.keys))}
        at = self.index.get("ActionID")
        self.action_id_at: int = self.folded.get("actionid", -1) if at is None else at
        kind = self.keys[0].lower() if self.keys else ""
        self.is_event: bool = kind == "event"
        self.is_message: bool = kind in ("event", "response")  # else the line rules refuse it


# the first value of a message (its event name, its response) -> the key lists seen with it
# that passed the line rules, the latest first
_SHAPES: dict[str, list[_Shape]] = {}
_SHAPES_PER_NAME: Final = 16


def _shape_of(name: str, keys: Sequence[str]) -> _Shape:
    """The shape of keys the line rules took (learnt for the run split)."""
    for shape in _SHAPES.get(name, ()):
        if shape.keys == keys:
            return shape
    if len(_SHAPES) >= _SHAPES_MAX:
        _SHAPES.clear()
    shapes = _SHAPES.setdefault(name, [])
    shapes.insert(0, _Shape(keys))
    del shapes[_SHAPES_PER_NAME:]
    return shapes[0]


class AmiFields:
    """The ``Key: Value`` lines of one message, in order, repeats kept."""

    __slots__ = ("_items", "_shape", "_values")

    def __init__(self, items: tuple[tuple[str, str], ...] = ()) -> None:
        self._items: tuple[tuple[str, str], ...] | None = tuple(items)
        self._shape: _Shape | None = None
        self._values: Sequence[str] = ()

    @property
    def items(self) -> tuple[tuple[str, str], ...]:
        items = self._items
        if items is None:  # made by the run split: the keys are its shape's
            items = self._items = tuple(zip(self._shape.keys, self._values, strict=False))  # type: ignore[union-attr]
        return items

    def _lookup(self) -> _Shape:
        shape = self._shape
        if shape is None:  # made from items: its shape (not shared: keys may hold anything)
            items = self.items
            shape = self._shape = _Shape([k for k, _ in items])
            self._values = [v for _, v in items]
        return shape

    def get(self, key: str, default: str | None = None) -> str | None:
        shape = self._shape or self._lookup()
        at = shape.index.get(key)
        if at is None:
            at = shape.folded.get(key.lower())
            if at is None:
                return default
        return self._values[at]

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
        return len(self._values) if self._items is None else len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AmiFields):
            return NotImplemented
        return self.items == other.items

    def __hash__(self) -> int:
        return hash(self.items)

    def __repr__(self) -> str:
        return f"AmiFields(items={self.items!r})"


@dataclass(frozen=True)
class AmiGreeting:
    product: str
    version: str


class AmiResponse(NamedTuple):
    """``Response: Success|Error|Goodbye|Follows`` to one action."""

    response: str
    action_id: str | None
    message: str | None
    fields: AmiFields
    output: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.response.lower() in ("success", "follows", "goodbye")


class AmiEvent(NamedTuple):
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
    return parse_message(_decode(bytes(buf[start:end]))), end + len(_END)


def parse_message(text: str) -> AmiMessage:
    """One decoded message (its lines without the blank line that ends it), by the
    line-by-line rules."""
    return _build_message(_parse_fields(text.split("\r\n")))


def _split_run(tokens: list[str], breaks: int) -> tuple[list[int], list[_Shape | str]] | None:
    """Where each message of a run starts in its tokens, with its shape, or its text for
    the line-by-line rules; None when those rules must read the run message by message
    (stray blank lines, a line without ``": "``).

    The run (whole messages, the last one ending in its blank line, no NUL) had each of
    its ``breaks`` CR LF made ``": \\0"`` and was split on ``": "``: each message is its
    key (behind its mark), value, key, value... then a bare mark where it ends. A
    message whose keys are a list seen before (each of its lines holding exactly one
    ``": "``) is taken from the tokens as they are; any other is put back together for
    the line rules. Every mark must then be a key's or a message end's: one followed by a
    value (a line without ``": "``) makes the count of marks taken differ from
    ``breaks``."""
    last = len(tokens) - 1  # tokens[last] is the mark of the run's last blank line
    shapes_of = _SHAPES.get
    starts: list[int] = []
    kinds: list[_Shape | str] = []
    marks = 0
    start = 0
    while start < last:
        for shape in shapes_of(tokens[start + 1], ()):
            end = start + shape.span
            if end <= last and tokens[end] == _MARK and tokens[start:end:2] == shape.key_tokens \
                    and shape.is_message:
                kinds.append(shape)
                marks += shape.marks
                break
        else:  # put back together for the line rules
            end = tokens.index(_MARK, start)
            if end == start or not tokens[start].startswith(_MARK):
                return None  # a blank line, a line ": ..." or a value where a message starts
            message_text = ": ".join(tokens[start:end])[1:].replace(_LINE_TO_MARK, "\r\n")
            kinds.append(message_text)
            marks += message_text.count("\r\n") + 2
        starts.append(start)
        start = end + 1
    return (starts, kinds) if marks == breaks else None


def _parse_fields(lines: list[str]) -> AmiFields:
    # the line-by-line rules (any message the whole-message split does not take)
    parts = [line.partition(":") for line in lines]
    keys = [key for key, _, _ in parts]
    joined = "\x00".join(keys)
    if "" in keys or not all(colon for _, colon, _ in parts) or \
            not "".join(keys).isprintable() or joined.startswith(" ") or joined.endswith(" ") or \
            " \x00" in joined or "\x00 " in joined:
        _refuse_fields(lines)
    values = [value.removeprefix(" ") for _, _, value in parts]
    fields: AmiFields = _new_object(AmiFields)
    fields._items = tuple(zip(keys, values, strict=True))
    fields._shape = _shape_of(values[0] if values else "", keys)
    fields._values = values
    return fields


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
    if not len(fields):
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
        # whole messages decoded together, not handed out yet (last one first): the shape
        # of each and where it starts in `_tokens`, or its text for the line rules; they
        # are the first `_run_len` bytes of `_buf`, dropped when the last one goes
        self._ready: list[_Shape | str] = []
        self._starts: list[int] = []
        self._tokens: list[str] = []
        self._run_len = 0

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
            ready = self._ready
            while ready or (self.state is AmiState.OPEN and self._take_run()):
                kind = ready.pop()
                start = self._starts.pop()
                tokens = self._tokens
                if not ready:
                    del self._buf[:self._run_len]
                    self._run_len = 0
                    self._tokens = []
                if isinstance(kind, str):
                    message: AmiMessage = parse_message(kind)
                else:
                    values = tokens[start + 1:start + kind.span:2]
                    fields: AmiFields = _new_object(AmiFields)
                    fields._items = None
                    fields._shape = kind
                    fields._values = values
                    at = kind.action_id_at
                    action_id = values[at] if at >= 0 else None
                    if kind.is_event:
                        message = _new_tuple(AmiEvent, (values[0], action_id, fields))
                        if action_id is None:
                            return message  # the common case: an event for every listener
                    else:
                        message = _build_message(fields, action_id=action_id)
                routed = self._route(message)
                if routed is not None:
                    return routed
            while True:
                output = self._next_message()
                if output is None:
                    continue  # absorbed into an open event list
                return output
        except RemoteProtocolError as exc:
            self.state = AmiState.ERROR
            self._error = exc
            raise

    def _take_run(self) -> bool:
        """Decode every whole message buffered (within ``max_buffer_size``, before any legacy
        ``Response: Follows``) in one go; False when there is none (the reader per message
        then decides: need data, EOF, a Follows response, a message too large)."""
        buf = self._buf
        end = buf.rfind(_END, 0, self.max_buffer_size)
        if end < 0:
            return False
        follows = buf.find(_FOLLOWS, 0, end + 2)
        if follows >= 0:
            end = buf.rfind(_END, 0, follows)
            if end < 0:
                return False
        end += len(_END)
        if buf.find(0, 0, end) < 0:  # no NUL: the run split (its marks are NULs)
            joined = buf[:end].replace(b"\r\n", b": \x00")  # ASCII for ASCII: decoding
            tokens = str(joined, "utf-8", "replace").split(": ")  # is unchanged
            tokens[0] = _MARK + tokens[0]
            parsed = _split_run(tokens, len(joined) - end)
            del joined
            if parsed is not None:
                starts, kinds = parsed
                starts.reverse()
                kinds.reverse()
                self._tokens = tokens
                self._starts += starts  # in place: next_event holds the list
                self._ready += kinds
                self._run_len = end
                return True
        with memoryview(buf) as view:
            text = str(view[:end], "utf-8", "replace")
        messages = text.split("\r\n\r\n")
        unused = len(messages.pop())  # CR LF left over when the run ends in blank lines
        while messages and not messages[-1]:
            messages.pop()
            unused += len(_END)  # blank lines before the next message count as its own
        texts: list[_Shape | str] = [m for m in (m.removeprefix("\r\n") for m in messages) if m]
        if not texts:
            return False
        texts.reverse()
        self._ready += texts
        self._starts += [0] * len(texts)
        self._run_len = end - unused
        return True

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
        start = 0
        if self._ready:  # the run's messages not handed out yet are unparsed too
            ends, at = [], 0
            for part in bytes(self._buf[:self._run_len]).split(_END):
                at += len(part) + len(_END)
                if part.removeprefix(b"\r\n"):
                    ends.append(at)
            delivered = len(ends) - len(self._ready)
            start = ends[delivered - 1] if delivered else 0
        return bytes(self._buf[start:]), self._eof
