"""A lean load generator: Twilio callers on a raw HTTP/1.1 client, signed as Twilio signs.

Why it exists: the bench's callers run on the same 2 cores as the service
and PostgreSQL, so every millisecond of CPU the generator burns is taken
from the system under test. `SimulatedCaller` on an aiohttp `ClientSession`
costs about 0.8-1.5 ms of CPU per webhook (one core saturates near 1000
webhooks/s); this generator sends the very same requests for about
0.1 ms per webhook at 3000 webhooks/s (more per webhook when the service
answers slowly: fewer events per event-loop wake-up, more connections).

What it sends, honestly (the same as `SimulatedCaller`, which the tests use):
- every webhook is a form-encoded POST with the parameters
  `SimulatedCaller.params()` sends (AccountSid, ApiVersion, CallSid, From,
  To, Caller, Called, Direction, CallStatus, plus Digits / CallDuration),
  signed with `signed_headers`, i.e. Twilio's
  `RequestValidator(token).compute_signature(full URL, params)`;
- a call POSTs ``/twilio/voice`` (CallStatus ``ringing``), then follows the
  TwiML it gets back: ``<Say>``, ``<Play>``, ``<Pause>`` are heard,
  ``<Gather>`` takes the next scripted key and POSTs it as Digits to its
  action URL, ``<Redirect>`` POSTs to its URL, ``<Hangup/>`` ends the call;
  when the script runs out at a ``<Gather>`` the caller hangs up. Then the
  ``completed`` status callback with CallDuration goes to ``/twilio/status``.

How it stays cheap: a call is a chain of callbacks (no task or future per
webhook); the think time of all callers is one queue with one timer
(`Pacer`); a TwiML document is parsed with ElementTree once per distinct
document (the parse is a pure function of the bytes, and every caller of
the survey gets the same documents); the parameters go to the validator as
a `MultiDict`, as the server's form does.

Guarantees:
- no silent success: TwiML this caller does not understand (another verb,
  a ``<Gather>`` that does not take DTMF by POST or has no action, an
  action URL off the service, a document that is not a ``<Response>``)
  raises `UnexpectedTwiML`; HTTP it cannot frame (neither Content-Length
  nor chunked, a 1xx, bytes nobody asked for) raises `ProtocolError`; a
  request with no whole answer in `ConnectionPool.timeout_s` raises
  `RequestTimeout`; each fails its call. `CallOutcome.ok` is true only
  when every response was 200 and the TwiML hung up;
- HTTP/1.1 keep-alive connections with TCP_NODELAY, one request in flight
  per connection, shared by all callers through a free list (a new one is
  opened when none is free, up to `limit`; beyond that a request waits for
  one, and the wait counts in its latency, as the caller sees it);
- a request is retried once, on a new connection, only when its connection
  closed before any byte of the answer arrived (a keep-alive connection the
  server closed); otherwise `ConnectionClosed` is raised.
"""

from __future__ import annotations

import asyncio
import functools
import re
import socket
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote_plus

from multidict import MultiDict
from twilio.request_validator import SIGNATURE_HEADER

from callcenter.demo.simulated_twilio import ACCOUNT_SID, HOTLINE_NUMBER, new_call_sid
from callcenter.telephony.twilio.signature import signed_headers

MAX_HEAD = 64 * 1024  # a response head longer than this is not one our service sends

#: `urllib.parse.quote_plus`, remembered: the values repeat (statuses, keys, numbers)
_quote = functools.lru_cache(maxsize=4096)(quote_plus)


def form_encode(params: dict[str, str]) -> str:
    """``application/x-www-form-urlencoded``, as `urllib.parse.urlencode` writes it."""
    return "&".join(f"{_quote(k)}={_quote(v)}" for k, v in params.items())


class ProtocolError(Exception):
    """The server's bytes are not an HTTP/1.1 response this client can frame."""


class ConnectionClosed(Exception):
    """The connection closed while a request was in flight."""

    def __init__(self, received: bool) -> None:
        super().__init__("closed after part of the response" if received
                         else "closed before any byte of the response")
        self.received = received


class RequestTimeout(Exception):
    """No whole response within the pool's `timeout_s`: the call fails (the bench never hangs)."""


class UnexpectedTwiML(Exception):
    """TwiML the lean caller does not understand: the call fails loudly."""


# -- HTTP/1.1 ------------------------------------------------------------------------------------


class Response(NamedTuple):
    status: int
    body: bytes
    keep_alive: bool


def _dechunk(buf: bytes, pos: int) -> tuple[bytes, int] | None:
    """The body of a chunked message starting at `pos` and where it ends; None if incomplete."""
    parts: list[bytes] = []
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        try:
            size = int(buf[pos:eol].split(b";", 1)[0], 16)
        except ValueError as exc:
            raise ProtocolError(f"bad chunk size line {buf[pos:eol]!r}") from exc
        pos = eol + 2
        if size == 0:  # last chunk: trailers (usually none), then an empty line
            if buf[pos:pos + 2] == b"\r\n":
                return b"".join(parts), pos + 2
            end = buf.find(b"\r\n\r\n", pos)
            return None if end < 0 else (b"".join(parts), end + 4)
        if len(buf) < pos + size + 2:
            return None
        if buf[pos + size:pos + size + 2] != b"\r\n":
            raise ProtocolError("chunk not followed by CRLF")
        parts.append(buf[pos:pos + size])
        pos += size + 2


#: a response head: the status line and header lines (token ":" value), nothing else
_HEAD = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: [^\r\n]*)?"
                   rb"((?:\r\n[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\r\n]*)*)")
#: the headers that frame the body or end the connection, in the lowercased header lines
_FRAMING = re.compile(rb"\r\n(content-length|transfer-encoding|connection):[ \t]*([^\r\n]*?)[ \t]*"
                      rb"(?=\r\n|\Z)")


def _parse_head(head: bytes) -> tuple[int, int, bool, bool]:
    """(status, content length or -1, chunked, keep-alive) of a response head."""
    match = _HEAD.fullmatch(head)
    if match is None:
        raise ProtocolError(f"not an HTTP/1.x response head: {head[:300]!r}")
    status = int(match[2])
    if status < 200:
        raise ProtocolError(f"unexpected interim response {status} (no Expect was sent)")
    length, chunked, keep_alive = -1, False, match[1] == b"1"
    for name, value in _FRAMING.findall(match[3].lower()):
        if name == b"content-length":
            if length >= 0 or not value.isdigit():
                raise ProtocolError(f"bad or repeated Content-Length {value!r}")
            length = int(value)
        elif name == b"transfer-encoding":
            if chunked or [c.strip() for c in value.split(b",")] != [b"chunked"]:
                raise ProtocolError(f"unsupported Transfer-Encoding {value!r}")
            chunked = True
        else:  # connection
            keep_alive = b"close" not in value and (keep_alive or b"keep-alive" in value)
    if chunked and length >= 0:
        raise ProtocolError("both Content-Length and Transfer-Encoding")
    if not chunked and length < 0:
        if status in (204, 304):
            length = 0
        else:
            raise ProtocolError(f"response {status} has neither Content-Length nor chunked body")
    return status, length, chunked, keep_alive


#: what a request's sender is told, once: the response, or why there is none
OnResponse = Callable[[Response | BaseException], None]


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time.

    Callback style, no task or future per request: `send` writes the
    request, `data_received` frames the response, gives the connection
    back to the pool, then calls the sender's `OnResponse`."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buf = bytearray()
        self._head: tuple[int, int, bool, bool] | None = None
        self._body_at = 0
        self._request = b""
        self._on_response: OnResponse | None = None
        self._may_retry = False
        self._received = False
        self._sent_at = 0.0  # loop time the request in flight was written

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, request: bytes, on_response: OnResponse, may_retry: bool) -> None:
        assert self.transport is not None and self._on_response is None
        if self.closed:  # lost before the first request (connection_lost has run already)
            if may_retry:
                self.pool._connect_and_send(request, on_response, may_retry=False)
            else:
                on_response(ConnectionClosed(received=False))
            return
        self._request, self._on_response = request, on_response
        self._may_retry, self._received = may_retry, False
        self._sent_at = self.pool.loop.time()
        self.transport.write(request)

    def time_out(self, now: float) -> None:
        """Give up on the request in flight if it has waited too long (and on the connection)."""
        on_response = self._on_response
        if on_response is None or now - self._sent_at < self.pool.timeout_s:
            return
        self._on_response = None
        self.abort()
        line = self._request.split(b"\r\n", 1)[0].decode("ascii", "replace")
        on_response(RequestTimeout(f"no response to {line} in {self.pool.timeout_s:.0f} s"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        on_response, self._on_response = self._on_response, None
        self.pool._lost(self)
        if on_response is None:
            return
        if not self._received and self._may_retry:  # a keep-alive connection the server closed
            self.pool._connect_and_send(self._request, on_response, may_retry=False)
        else:
            on_response(ConnectionClosed(self._received))

    def data_received(self, data: bytes) -> None:
        on_response = self._on_response
        if on_response is None:
            self.abort()  # nobody asked: the connection is out of step, never reuse it
            return
        self._received = True
        buf = self._buf
        if buf:  # the rest of a response that came in pieces
            buf += data
            data = bytes(buf)
        try:
            response = self._parse(data)
        except (ProtocolError, ValueError) as exc:
            self._on_response = None
            self.abort()
            on_response(exc if isinstance(exc, ProtocolError) else ProtocolError(str(exc)))
            return
        if response is None:  # incomplete: keep what came
            if not buf:
                buf += data
            return
        buf.clear()
        self._on_response = None
        self.pool._release(self, response.keep_alive)
        on_response(response)

    def _parse(self, data: bytes) -> Response | None:
        """The response if `data` (all received so far) holds all of it, exactly."""
        if self._head is None:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if len(data) > MAX_HEAD:
                    raise ProtocolError("response head too long")
                return None
            self._head = _parse_head(data[:end])
            self._body_at = end + 4
        status, length, chunked, keep_alive = self._head
        if chunked:
            found = _dechunk(data, self._body_at)
            if found is None:
                return None
            body, end = found
        else:
            end = self._body_at + length
            if len(data) < end:
                return None
            body = data[self._body_at:end]
        if len(data) > end:
            raise ProtocolError(f"{len(data) - end} bytes after the response")
        self._head = None
        return Response(status, body, keep_alive)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class ConnectionPool:
    """Keep-alive connections to one host:port, shared by many callers (a free list).

    `request` takes a whole request and an `OnResponse`; it sends on a free
    connection, else on a new one (up to `limit` open), else as soon as one
    is given back. A request without its whole response after `timeout_s`
    gets `RequestTimeout` (checked once a second: no timer per request).
    Create it inside the running event loop."""

    def __init__(self, host: str, port: int, limit: int = 256, timeout_s: float = 60.0) -> None:
        self.host, self.port, self.limit, self.timeout_s = host, port, limit, timeout_s
        self.loop = asyncio.get_running_loop()
        self.opened = 0  # connections opened so far (a statistic)
        self._open = 0  # connections open or being opened
        self._conns: set[_Connection] = set()  # the open ones
        self._free: list[_Connection] = []
        self._pending: deque[tuple[bytes, OnResponse]] = deque()
        self._connecting: set[asyncio.Task[None]] = set()
        self._sweeper = self.loop.call_later(1.0, self._sweep)

    def request(self, request: bytes, on_response: OnResponse) -> None:
        free = self._free
        while free:
            conn = free.pop()
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                conn.send(request, on_response, may_retry=True)
                return
        if self._open < self.limit:
            self._connect_and_send(request, on_response, may_retry=True)
        else:
            self._pending.append((request, on_response))

    def close(self) -> None:
        self._sweeper.cancel()
        for conn in self._free:
            if conn.transport is not None:
                conn.transport.close()
        self._free.clear()
        for task in self._connecting:
            task.cancel()

    def _connect_and_send(self, request: bytes, on_response: OnResponse, may_retry: bool) -> None:
        self._open += 1
        self.opened += 1
        task = self.loop.create_task(self._connect(request, on_response, may_retry))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def _connect(self, request: bytes, on_response: OnResponse, may_retry: bool) -> None:
        try:
            _, conn = await self.loop.create_connection(
                lambda: _Connection(self), self.host, self.port)
        except BaseException as exc:
            self._lost(None)
            on_response(exc)
            if not isinstance(exc, Exception):
                raise
            return
        if not conn.closed:
            self._conns.add(conn)
        conn.send(request, on_response, may_retry)

    def _release(self, conn: _Connection, keep_alive: bool) -> None:
        if not keep_alive:
            if conn.transport is not None:
                conn.transport.close()  # connection_lost -> _lost serves a pending request
            return
        if self._pending:
            request, on_response = self._pending.popleft()
            conn.send(request, on_response, may_retry=True)
        else:
            self._free.append(conn)

    def _sweep(self) -> None:
        now = self.loop.time()
        for conn in list(self._conns):
            conn.time_out(now)
        self._sweeper = self.loop.call_later(1.0, self._sweep)

    def _lost(self, conn: _Connection | None) -> None:
        """A connection closed (or failed to open): room to open one for a pending request."""
        if conn is not None:
            self._conns.discard(conn)
        self._open -= 1
        if self._pending and self._open < self.limit:
            request, on_response = self._pending.popleft()
            self._connect_and_send(request, on_response, may_retry=True)


# -- the caller ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """One whole call: the latency of each webhook, how it ended, and whether all went well."""

    latencies: list[float]
    statuses: list[int]
    ended_by: str  # "twiml-hangup", "caller", "document-end", "http-<status>"
    paths: list[str]  # the webhook of each latency, e.g. "/twilio/gather?v=3"

    @property
    def ok(self) -> bool:
        return self.ended_by == "twiml-hangup" and all(s == 200 for s in self.statuses)


_HEARD = frozenset({"Say", "Play", "Pause"})  # verbs the caller only listens to


def _check_gather(verb: ET.Element) -> str:
    """The action URL of a ``<Gather>`` this caller can answer with a key; else raise."""
    attrib = verb.attrib
    if attrib.get("method", "POST").upper() != "POST":
        raise UnexpectedTwiML(f"<Gather method={attrib['method']!r}>: only POST is understood")
    if "dtmf" not in attrib.get("input", "dtmf").split():
        raise UnexpectedTwiML(f"<Gather input={attrib['input']!r}> does not take keys")
    for child in verb:
        if child.tag not in _HEARD:
            raise UnexpectedTwiML(f"<{child.tag}> inside <Gather> is not understood")
    action = attrib.get("action")
    if not action:
        raise UnexpectedTwiML("<Gather> without an action URL")
    return action


def _plan(twiml: bytes) -> tuple[str, str]:
    """What one TwiML document asks of the caller: ("gather" | "redirect", URL) or
    ("twiml-hangup" | "document-end", ""); raises `UnexpectedTwiML`."""
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError as exc:
        raise UnexpectedTwiML(f"not XML: {exc}") from exc
    if root.tag != "Response":
        raise UnexpectedTwiML(f"<{root.tag}> is not a TwiML <Response>")
    for verb in root:
        tag = verb.tag
        if tag in _HEARD:
            continue
        if tag == "Gather":
            return "gather", _check_gather(verb)
        if tag == "Redirect":
            if verb.attrib.get("method", "POST").upper() != "POST":
                raise UnexpectedTwiML("<Redirect> other than POST is not understood")
            url = (verb.text or "").strip()
            if not url:
                raise UnexpectedTwiML("<Redirect> without a URL")
            return "redirect", url
        if tag == "Hangup":
            return "twiml-hangup", ""
        raise UnexpectedTwiML(f"<{tag}> is not understood by the lean caller")
    return "document-end", ""


#: `_plan` of the documents seen so far: it is a pure function of the bytes, and the
#: survey's documents are the same for every caller; bounded, failures are not kept
_PLANS: dict[bytes, tuple[str, str]] = {}
_PLANS_MAX = 4096


def next_step(twiml: bytes, keys: deque[str]) -> tuple[str, dict[str, str]] | str:
    """Play one TwiML document: (URL, extra params) of the next webhook, or how the call ended.

    Consumes one of `keys` at a ``<Gather>``; raises `UnexpectedTwiML` on
    anything it does not understand."""
    plan = _PLANS.get(twiml)
    if plan is None:
        plan = _plan(twiml)
        if len(_PLANS) < _PLANS_MAX:
            _PLANS[twiml] = plan
    kind, url = plan
    if kind == "gather":
        if not keys:
            return "caller"  # the script ran out: the caller hangs up
        return url, {"Digits": keys.popleft()}
    if kind == "redirect":
        return url, {}
    return kind


class LeanCaller:
    """One inbound call to the service at `base_url`, over a shared `ConnectionPool`.

    `base_url` must be the pool's ``http://host:port`` (what Twilio signs and
    where the requests go)."""

    def __init__(self, pool: ConnectionPool, base_url: str, auth_token: str, *,
                 from_number: str, to_number: str = HOTLINE_NUMBER) -> None:
        self.pool = pool
        self.base_url = base_url.rstrip("/")
        self.auth_token = auth_token
        self.call_sid = new_call_sid()
        # what SimulatedCaller.params() sends, but CallStatus, which each webhook sets
        self._fixed = {
            "AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": self.call_sid,
            "From": from_number, "To": to_number, "Caller": from_number, "Called": to_number,
            "Direction": "inbound",
        }
        self._fixed_form = form_encode(self._fixed)
        self._head_tail = (f"Host: {self.base_url.split('://', 1)[1]}\r\n"
                           "User-Agent: TwilioProxy/1.1\r\n"
                           "Content-Type: application/x-www-form-urlencoded\r\n"
                           f"{SIGNATURE_HEADER}: ")

    def webhook(self, url_or_path: str, call_status: str,
                extra: dict[str, str] | None = None) -> bytes:
        """The whole HTTP request of one webhook: form-encoded, signed as Twilio signs."""
        url = url_or_path if "://" in url_or_path else self.base_url + url_or_path
        if not url.startswith(self.base_url + "/"):
            raise UnexpectedTwiML(f"webhook URL {url!r} is not on the service {self.base_url}")
        changing = {"CallStatus": call_status, **(extra or {})}
        if not changing.keys().isdisjoint(self._fixed):
            raise ValueError(f"extra parameters repeat fixed ones: {sorted(changing)}")
        # a MultiDict, as the server's form is: RequestValidator reads it with getall()
        params = MultiDict(self._fixed)
        params.extend(changing)
        signature = signed_headers(self.auth_token, url, params)[SIGNATURE_HEADER]
        body = f"{self._fixed_form}&{form_encode(changing)}".encode("ascii")
        return (f"POST {url[len(self.base_url):]} HTTP/1.1\r\n{self._head_tail}{signature}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode("ascii") + body

    def start(self, keys: Iterable[str], think: Pacer | None = None,
              done: asyncio.Future[CallOutcome] | None = None) -> asyncio.Future[CallOutcome]:
        """Start the whole call, like `SimulatedCaller.call`: ring, follow the TwiML, status
        callback; `done` (or a new future) gets its outcome, or what broke it
        (`UnexpectedTwiML`, `ProtocolError`, `ConnectionClosed`, `RequestTimeout`, OSError).

        `think` paces the caller: its delay is the pause after each answer
        before the next webhook (the status callback follows the call's end
        at once); None: no pause."""
        if done is None:
            done = self.pool.loop.create_future()
        try:
            _Call(self, deque(keys), think, done).start()
        except Exception as exc:  # the call fails with it, loudly
            done.set_exception(exc)
        return done

    async def call(self, keys: Iterable[str], *, think_s: float = 0.0) -> CallOutcome:
        """`start` the call and wait for its outcome (`think_s`: a `Pacer` of its own)."""
        return await self.start(keys, Pacer(self.pool.loop, think_s) if think_s else None)


class Pacer:
    """Runs callbacks `delay_s` after they are handed over, with one timer for all callers.

    The same as ``loop.call_later(delay_s, ...)`` for each, but as every
    delay is the same the waiting callbacks are already in deadline order: a
    queue instead of the event loop's timer heap (whose comparisons run in
    Python, per caller and per step)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, delay_s: float) -> None:
        self.loop, self.delay_s = loop, delay_s
        self._queue: deque[tuple[float, Callable[[bytes], None], bytes]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def later(self, callback: Callable[[bytes], None], arg: bytes) -> None:
        due = self.loop.time() + self.delay_s
        self._queue.append((due, callback, arg))
        if self._timer is None:
            self._timer = self.loop.call_at(due, self._fire)

    def _fire(self) -> None:
        queue = self._queue
        _, callback, arg = queue.popleft()  # the one the timer was set for
        callback(arg)
        now = self.loop.time()
        while queue and queue[0][0] <= now:
            _, callback, arg = queue.popleft()
            callback(arg)
        self._timer = self.loop.call_at(queue[0][0], self._fire) if queue else None


class _Call:
    """The steps of one call as callbacks: post, answer (after the think time), next post."""

    def __init__(self, caller: LeanCaller, keys: deque[str], think: Pacer | None,
                 done: asyncio.Future[CallOutcome]) -> None:
        self.caller, self.keys, self.think, self.done = caller, keys, think, done
        self.latencies: list[float] = []
        self.statuses: list[int] = []
        self.paths: list[str] = []
        self.url = ""
        self.ended_by = ""  # set when the call is over; then only the status callback is left
        self.started = 0.0

    def start(self) -> None:
        self._post("/twilio/voice", "ringing")

    def _post(self, url: str, call_status: str, extra: dict[str, str] | None = None) -> None:
        request = self.caller.webhook(url, call_status, extra)
        self.url = url
        self.started = time.perf_counter()
        self.caller.pool.request(request, self._answered)

    def _answered(self, response: Response | BaseException) -> None:
        try:
            if isinstance(response, BaseException):
                raise response
            self.latencies.append(time.perf_counter() - self.started)
            self.statuses.append(response.status)
            self.paths.append("/twilio/" + self.url.split("/twilio/", 1)[-1])
            if self.ended_by:  # that was the status callback
                if not self.done.done():
                    self.done.set_result(CallOutcome(self.latencies, self.statuses, self.ended_by,
                                                     self.paths))
            elif response.status != 200:
                self._end(f"http-{response.status}")
            elif self.think is not None:
                self.think.later(self._follow, response.body)
            else:
                self._follow(response.body)
        except BaseException as exc:  # the call fails with it, loudly
            self._fail(exc)

    def _follow(self, twiml: bytes) -> None:
        try:
            step = next_step(twiml, self.keys)
            if isinstance(step, str):
                self._end(step)
            else:
                self._post(step[0], "in-progress", step[1])
        except BaseException as exc:  # the call fails with it, loudly
            self._fail(exc)

    def _end(self, ended_by: str) -> None:
        self.ended_by = ended_by
        self._post("/twilio/status", "completed", {"CallDuration": str(5 * len(self.latencies))})

    def _fail(self, exc: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(exc)
