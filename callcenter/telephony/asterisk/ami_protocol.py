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
  whole messages buffered are taken at once as a run and handed out one by
  one.
- The run is split into lines (bytes) at once, and each line is looked up
  among the lines learnt (in this process, bounded): a line the line rules
  took before gives the same ``(key, value)`` pair object again (AMI repeats
  most lines: Privilege, Context, a call's Uniqueid and names), so a message
  of learnt lines is a slice of those pairs, with no string or tuple made
  for it but the slice. The lines not learnt (a call's new ids, a timestamp)
  are decoded together (a line break is ASCII: that is decoding each in its
  message) and read at once by C functions when each is "Key: Value" with a
  key taken before, else one by one by the line rules; then learnt. A
  message with a line the rules refuse is read whole by them, for its
  error. Both give the same fields and raise the same errors at the same
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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
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
_SHAPES_MAX: Final = 4096
_LINES_MAX: Final = 1 << 14
_LINE_KEPT_MAX: Final = 128  # longer lines are not kept (read again each time)
_new_object = object.__new__
_new_tuple = tuple.__new__
_first = itemgetter(0)
_second = itemgetter(1)
_third = itemgetter(2)


class _Shape:
    """One list of keys, as messages carry it: where each key is first found (exact and
    case-folded), and what the message is. Built once per distinct list of keys."""

    __slots__ = ("action_id_at", "folded", "index", "is_event", "is_message", "keys")

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys: tuple[str, ...] = tuple(keys)
        last = len(self.keys) - 1
        self.index: dict[str, int] = {k: last - i for i, k in enumerate(reversed(self.keys))}
        self.folded: dict[str, int] = {
            k.lower(): last - i for i, k in enumerate(reversed(self.keys))}
        at = self.index.get("ActionID")
        self.action_id_at: int = self.folded.get("actionid", -1) if at is None else at
        kind = self.keys[0].lower() if self.keys else ""
        self.is_event: bool = kind == "event"
        self.is_message: bool = kind in ("event", "response")  # else the line rules refuse it


# Learnt in this process (bounded; emptied when full), shared by every connection:
# a list of keys -> its shape
_SHAPES: dict[tuple[str, ...], _Shape] = {}
# a "Key: Value" line the line rules take -> its (key, value) pair, one tuple for every
# message that carries the line (AMI repeats most lines: Privilege, Context, a call's
# Uniqueid and names...); the blank line -> `_BLANK`, so that a run's lines are all found
_LINES: dict[bytes, tuple[str, str]] = {}
# a key the line rules take -> that key, one string for every line that carries it; and
# the same key marked as `_learn_lines` splits it ("\r\nKey")
_KEYS: dict[str, str] = {}
_MARKED_KEYS: dict[str, str] = {}
_BLANK: Final = ("", "")
# a line not learnt, as the run's lookups give it: the empty tuple, quick to tell from a pair
_MISSING: Final[tuple[str, str]] = ()  # type: ignore[assignment]
_LINES[b""] = _BLANK


def _forget() -> None:
    """Empty what was learnt (tests: every message read by the line rules)."""
    _SHAPES.clear()
    _KEYS.clear()
    _MARKED_KEYS.clear()
    _LINES.clear()
    _LINES[b""] = _BLANK


def _shape_of(keys: tuple[str, ...]) -> _Shape:
    shape = _SHAPES.get(keys)
    if shape is None:
        if len(_SHAPES) >= _SHAPES_MAX:
            _SHAPES.clear()
        shape = _SHAPES[keys] = _Shape(keys)
    return shape


class AmiFields:
    """The ``Key: Value`` lines of one message, in order, repeats kept."""

    __slots__ = ("_shape", "items")

    def __init__(self, items: tuple[tuple[str, str], ...] = ()) -> None:
        self.items: tuple[tuple[str, str], ...] = tuple(items)
        self._shape: _Shape | None = None

    def _lookup(self) -> _Shape:
        shape = self._shape
        if shape is None:  # made from items: its shape (not shared: keys may hold anything)
            shape = self._shape = _Shape([k for k, _ in self.items])
        return shape

    def get(self, key: str, default: str | None = None) -> str | None:
        shape = self._shape or self._lookup()
        at = shape.index.get(key)
        if at is None:
            at = shape.folded.get(key.lower())
            if at is None:
                return default
        return self.items[at][1]

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


def _learn_lines(lines: list[bytes], pairs: list[tuple[str, str] | None]) -> bool:
    """Fill in ``pairs`` (a run's lines looked up in the lines learnt, `_MISSING` for a
    line not learnt) with the lines not learnt read (a call's new Uniqueid, a timestamp...):
    together by maps of C functions when each is "Key: Value" with a key taken before, else
    one by one by the line rules; a line they refuse is ``None`` (its message is read by
    them, for its error). The lines read are learnt (but those too long, and all when more
    than can be kept), and each line's pair is the one learnt: one tuple for the line
    wherever it recurs. True when a line is refused."""
    at = []  # where they are: the empty tuple is quick to tell from a pair
    index = pairs.index
    i = -1
    try:
        while True:
            i = index(_MISSING, i + 1)
            at.append(i)
    except ValueError:
        pass
    new = list(dict.fromkeys(map(lines.__getitem__, at)))  # once each (a call's recur)
    # decoded together (a line break is ASCII: as decoding each in its message), each line
    # marked: after "\r\n", and ended by ": " but the last. Split on ": ", a line "Key: Value"
    # (no other ": ") is its key marked, "\r\nKey", then its value; with as many pieces as
    # that and each key taken before (marked: the ones that start with "\r\n", each after a
    # mark), every line is one (`_MARKED_KEYS`: no key holds a ":")
    pieces = str(b"\r\n" + b": \r\n".join(new), "utf-8", "replace").split(": ")
    keys = list(map(_MARKED_KEYS.get, pieces[::2]))
    if len(pieces) == 2 * len(new) and all(keys):
        if len(_LINES) + len(new) > _LINES_MAX:  # full: let the lines learnt go
            _LINES.clear()
            _LINES[b""] = _BLANK
        kept = _LINES
        if len(new) >= _LINES_MAX or max(map(len, new)) > _LINE_KEPT_MAX:
            kept = {}  # not kept
        kept.update(zip(new, zip(keys, pieces[1::2])))  # type: ignore[arg-type]  # noqa: B905
        get: Callable[[bytes], tuple[str, str] | None] = kept.__getitem__
        refused = False
    else:  # one by one by the line rules
        texts = str(b"\r\n".join(new), "utf-8", "replace").split("\r\n")
        read = dict(zip(new, map(_line_pair, texts)))  # noqa: B905 (zips of equal lengths)
        if len(_LINES) + len(read) > _LINES_MAX:
            _LINES.clear()
            _LINES[b""] = _BLANK
        if len(read) < _LINES_MAX:
            _LINES.update((line, pair) for line, pair in read.items()
                          if pair is not None and len(line) <= _LINE_KEPT_MAX)
        get = read.__getitem__
        refused = None in read.values()
    for i in at:
        pairs[i] = get(lines[i])
    return refused


def _line_pair(line: str) -> tuple[str, str] | None:
    """One line by the line rules (`_parse_fields`; its key checks are each about one
    line): its (key, value), or None when they refuse it. Its key is learnt."""
    key, colon, value = line.partition(":")
    if not colon or not key or not key.isprintable() or key[0] == " " or key[-1] == " ":
        return None
    if len(_KEYS) >= _SHAPES_MAX:
        _KEYS.clear()
        _MARKED_KEYS.clear()
    key = _KEYS.setdefault(key, key)
    _MARKED_KEYS["\r\n" + key] = key
    return (key, value.removeprefix(" "))


def _parse_fields(lines: list[str]) -> AmiFields:
    # the line-by-line rules (a message with a line not learnt); maps of C functions, not
    # loops. Split at the first ": " when no key holds a ":" (the same as at the first ":",
    # one space dropped), else at the first ":". Keys that are a list learnt (each key
    # checked then, none holding a ":") need no check again.
    parts = list(map(str.partition, lines, repeat(": ")))
    keys = tuple(map(_first, parts))
    shape = _SHAPES.get(keys)
    if shape is not None and all(map(_second, parts)):
        values: Iterable[str] = map(_third, parts)
    else:
        joined = "\x00".join(keys)
        if ":" in joined or not all(map(_second, parts)):
            parts = list(map(str.partition, lines, repeat(":")))
            keys = tuple(map(_first, parts))
            joined = "\x00".join(keys)
            values = map(str.removeprefix, map(_third, parts), repeat(" "))
        else:
            values = map(_third, parts)
        if "" in keys or not all(map(_second, parts)) or \
                not "".join(keys).isprintable() or joined.startswith(" ") or \
                joined.endswith(" ") or " \x00" in joined or "\x00 " in joined:
            _refuse_fields(lines)
        shape = _shape_of(keys)
    fields: AmiFields = _new_object(AmiFields)
    # zip without keywords (one takes a construction path twice as slow); lengths equal
    fields.items = tuple(zip(keys, values))  # noqa: B905
    fields._shape = shape
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
        # the last run of whole messages decoded together: its bytes, its lines, the pair
        # of each line learnt before (else None), where the next message starts, and the
        # index of its last line (the messages are handed out while `_pos < _last`)
        self._run = b""
        self._lines: list[bytes] = []
        self._pairs: tuple[tuple[str, str] | None, ...] = ()
        self._keys: tuple[str, ...] = ()
        self._waiting = False
        self._pos = 0
        self._last = 0

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
            while self._pos < self._last or (self.state is AmiState.OPEN and self._take_run()):
                lines = self._lines
                start = self._pos
                end = lines.index(b"", start)  # its blank line (the run ends in two)
                self._pos = end + 1
                if end == start:
                    continue  # a stray blank line
                pairs = self._pairs[start:end]
                keys = self._keys[start:end]  # none when the run has a line refused
                if not keys and not all(pairs):  # a line refused: the line rules read it
                    message: AmiMessage = _build_message(_parse_fields(
                        list(map(str, lines[start:end], repeat("utf-8"), repeat("replace")))))
                else:  # every line learnt: the message is these pairs as they are
                    items: tuple[tuple[str, str], ...] = pairs  # type: ignore[assignment]
                    if not keys:
                        keys = tuple(map(_first, items))
                    shape = _SHAPES.get(keys) or _shape_of(keys)
                    fields: AmiFields = _new_object(AmiFields)
                    fields.items = items
                    fields._shape = shape
                    at = shape.action_id_at
                    action_id = items[at][1] if at >= 0 else None
                    if shape.is_event:
                        message = _new_tuple(AmiEvent, (items[0][1], action_id, fields))
                        if action_id is None:
                            return message  # the common case: an event for every listener
                    else:
                        message = _build_message(fields, action_id=action_id)
                routed = self._route(message)
                if routed is not None:
                    return routed
            if self._waiting and not self._eof:
                return NEED_DATA  # no message ends in what is buffered (within the limit)
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
        ``Response: Follows``) in one go and split it into lines, each line looked up in
        the lines learnt; False when there is none (the reader per message then decides:
        need data, EOF, a Follows response, a message too large)."""
        if self._lines:  # the last run is all handed out: let it go
            self._run, self._lines, self._pairs, self._keys = b"", [], (), ()
            self._pos = self._last = 0
        buf = self._buf
        end = buf.rfind(_END, 0, self.max_buffer_size)
        if end < 0:
            self._waiting = len(buf) < self.max_buffer_size
            return False
        self._waiting = False
        follows = buf.find(_FOLLOWS, 0, end + 2)
        if follows >= 0:
            end = buf.rfind(_END, 0, follows)
            if end < 0:
                return False
        end += len(_END)
        self._run = run = bytes(buf[:end])
        del buf[:end]
        # each line is looked up as it came; a line not learnt is decoded alone (a line
        # break is ASCII: that is decoding it in its message)
        lines = self._lines = run.split(b"\r\n")
        pairs: list[tuple[str, str] | None] = list(map(_LINES.get, lines, repeat(_MISSING)))
        # a message's pairs and keys: slices
        refused = _learn_lines(lines, pairs) if not all(pairs) else False
        self._pairs = tuple(pairs)
        self._keys = () if refused else tuple(map(_first, pairs))  # type: ignore[arg-type]
        self._pos = 0
        self._last = len(lines) - 1
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
        lines, at = self._lines, self._pos
        if at >= self._last:
            return bytes(self._buf), self._eof
        # the run's messages not handed out yet are unparsed too (from the first on)
        left = sum(1 for i in range(at, self._last) if lines[i] and (i == at or not lines[i - 1]))
        ends, done = [], 0
        for part in self._run.split(_END):
            done += len(part) + len(_END)
            if part.removeprefix(b"\r\n"):
                ends.append(done)
        delivered = len(ends) - left
        start = ends[delivered - 1] if delivered else 0
        return self._run[start:] + bytes(self._buf), self._eof
