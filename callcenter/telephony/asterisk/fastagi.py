"""The asyncio FastAGI server: Asterisk connects, we drive the call with AGI commands.

Built on the sans-I/O core (`agi_protocol.AgiConnection`); this module owns
sockets, deadlines and tasks. Handlers are looked up by the script path of
the AGI URL (`agi://host:4573/hotline` -> "hotline"; a `?query` is ignored)
in a dict the app builds, like wazo-agid's `register`.

Guarantees:
- One task per connection; an exception in one session is logged with its
  call id and never touches another session or the server.
- `AgiChannel.command` waits for exactly one reply under a deadline
  (`command_deadline_s` plus the command's own timeout). The caller hanging
  up at any moment -- a 511 reply, an async `HANGUP` line, or the socket
  closing -- raises `CallerGone`; handlers turn it into "save what was given".
- A session that fails (deadline, protocol garbage, a bug) takes the safe
  path: `IVR_ACTION=fallback` is set when the channel still answers, so the
  dialplan can route the caller on (agents / classic AGI) instead of dropping.
- An unknown script path gets the same fallback, and a log line.
- Only PBXes in `allowed_peers` (FASTAGI_ALLOWED_PEERS) are served: any other
  peer's connection is closed before a byte is read, with a warning naming it.
- `close()` stops accepting, gives running sessions `drain_s` to finish, then
  cancels the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from callcenter.logs import call_id_var
from callcenter.metrics import REGISTRY
from callcenter.networks import Network, address_in
from callcenter.telephony.asterisk import agi_commands as agi
from callcenter.telephony.asterisk.agi_commands import AgiCommand
from callcenter.telephony.asterisk.agi_protocol import (
    AgiConnection,
    AgiError,
    AgiHangup,
    AgiRequest,
    AgiResponse,
    AgiTrying,
    AgiUsageError,
)
from callcenter.telephony.asterisk.errors import RemoteProtocolError
from callcenter.telephony.asterisk.stream import NEED_DATA, ConnectionClosed

log = logging.getLogger(__name__)

SESSIONS = REGISTRY.counter("callcenter_fastagi_sessions_total", "FastAGI sessions by script and end")
ACTIVE = REGISTRY.gauge("callcenter_fastagi_active_sessions", "FastAGI sessions running now")
OVERHEAD = REGISTRY.histogram(
    "callcenter_fastagi_turn_seconds", "our time between an AGI reply and the next command"
)
_READ_SIZE: Final = 16384
_BACKLOG: Final = 1024
_ACCEPT_BATCH: Final = 64  # connections taken per readable listening socket, then others' turn
_ACCEPT_RETRY_S: Final = 1.0
_PEER_VERDICTS: Final = 1024


class CallerGone(Exception):
    """The channel is gone (511, HANGUP or a closed socket): stop issuing commands."""


class AgiCommandFailed(Exception):
    """Asterisk refused a command (510 unknown / 520 usage): a bug on our side."""


class AgiDeadline(TimeoutError):
    """Asterisk did not answer a command in time."""


class AgiChannel:
    """One FastAGI connection, seen from a handler: send a command, get its reply.

    The socket is driven straight off the event loop (`add_reader`, `recv_into`,
    `send`), without an asyncio transport: bytes are read into one buffer the
    server reuses, fed to the sans-I/O `AgiConnection`, and the handler's task
    is woken once per reply. A command is written with one `send`; only when
    the kernel takes part of it is the rest buffered behind `add_writer`. The
    command deadline is one timer per connection, re-armed lazily, not a
    timeout context per command. At EOF (or a reset) the socket stops being
    watched at once, so a caller gone costs nothing afterwards.
    """

    def __init__(
        self, sock: socket.socket, *, command_deadline_s: float = 30.0,
        read_buffer: memoryview | None = None,
    ) -> None:
        self.sock = sock
        self.conn = AgiConnection()
        self.command_deadline_s = command_deadline_s
        self.request: AgiRequest | None = None
        self.hung_up = False
        self.commands = 0
        self.our_time = 0.0  # seconds spent between a reply and our next command
        self.turn_times: list[float] = []  # the same, per command (bench, diagnostics)
        self.bytes_received = 0
        self._replied_at: float | None = None
        self._read_at = 0.0
        self._loop = asyncio.get_running_loop()
        self._buffer = read_buffer if read_buffer is not None else memoryview(bytearray(_READ_SIZE))
        self._fd = sock.fileno()
        self._reading = False
        self._closed = False
        self._unsent = bytearray()  # what the kernel did not take yet (rare: commands are short)
        self._waiter: asyncio.Future[None] | None = None
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0  # when _timer fires (its when() is a Python call)
        self._timed_out = False
        self._eof = False

    # -- the socket side ------------------------------------------------------------------

    def start_reading(self) -> None:
        self._loop.add_reader(self._fd, self._readable)
        self._reading = True

    def _readable(self) -> None:
        try:
            n = self.sock.recv_into(self._buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # reset by the peer: the caller is gone all the same
            n = 0
        if n:
            self.data_in(self._buffer[:n].tobytes())
        else:
            self._abort()

    def _abort(self) -> None:
        """EOF, a reset or a failed send: stop watching the socket, close it, tell the handler."""
        self._close_socket()
        self.data_in(b"")

    def write(self, data: bytes) -> None:
        if self._closed:
            return
        if self._unsent:
            self._unsent += data
            return
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:  # EPIPE / ECONNRESET: the caller hung up under us
            self._abort()
            return
        if sent < len(data):
            self._unsent += data[sent:]
            self._loop.add_writer(self._fd, self._writable)

    def _writable(self) -> None:
        try:
            sent = self.sock.send(self._unsent)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._abort()
            return
        del self._unsent[:sent]
        if not self._unsent:
            self._loop.remove_writer(self._fd)

    def _close_socket(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)
        if self._unsent:
            self._unsent.clear()
            self._loop.remove_writer(self._fd)
        self.sock.close()

    def is_closing(self) -> bool:
        return self._closed

    # -- the protocol side ----------------------------------------------------------------

    def data_in(self, data: bytes) -> None:
        """Bytes from the socket (b"" at EOF): give them to the core, wake the waiting handler."""
        self._read_at = time.perf_counter()
        if data:
            self.bytes_received += len(data)
        elif self._eof:
            return
        else:
            self._eof = True
        self.conn.receive_data(data)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():  # done: cancelled with its task
                waiter.set_result(None)

    def _arm(self, within_s: float) -> None:
        self._deadline = deadline = self._loop.time() + within_s
        timer = self._timer
        if timer is not None:
            if self._timer_at <= deadline:
                return  # it fires first and re-arms itself for the rest
            timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # not waiting for Asterisk now: the next command re-arms
        if self._loop.time() >= self._deadline:
            self._timed_out = True
            self._waiter = None
            waiter.set_result(None)
        else:
            self._timer_at = self._deadline
            self._timer = self._loop.call_at(self._deadline, self._on_timer)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _next(self) -> object:
        """The next event from Asterisk; TimeoutError past the armed deadline."""
        conn = self.conn
        while True:
            event = conn.next_event()
            if event is not NEED_DATA:
                return event
            if self._timed_out:
                raise TimeoutError
            self._waiter = waiter = self._loop.create_future()
            await waiter
            if self._timed_out:
                raise TimeoutError

    # -- the handler side -----------------------------------------------------------------

    async def read_request(self, within_s: float) -> AgiRequest:
        self._arm(within_s)
        event = await self._next()
        if isinstance(event, AgiRequest):
            self.request = event
            self._replied_at = time.perf_counter()
            return event
        raise CallerGone("connection closed before the agi_* variables")

    def deadline_for(self, command: AgiCommand) -> float:
        own_ms = getattr(command, "timeout_ms", None)
        if isinstance(own_ms, int) and own_ms > 0:
            return self.command_deadline_s + own_ms / 1000
        return self.command_deadline_s

    async def command(self, command: AgiCommand) -> AgiResponse:
        """Send `command`, return its `200` reply. Raises CallerGone / AgiCommandFailed / AgiDeadline."""
        if self.hung_up:
            raise CallerGone("the caller already hung up")
        if self._replied_at is not None:
            spent = time.perf_counter() - self._replied_at
            self.our_time += spent
            self.turn_times.append(spent)
            OVERHEAD.observe(spent)
        data = self.conn.send(command)
        if self._closed:
            self.hung_up = True
            raise CallerGone("socket closed while sending")
        self.write(data)
        self.commands += 1
        deadline = self.deadline_for(command)
        self._arm(deadline)
        conn = self.conn
        try:
            while True:
                event = conn.next_event()
                if event is NEED_DATA:  # the usual case: wait for the reply's bytes
                    if self._timed_out:
                        raise TimeoutError
                    self._waiter = waiter = self._loop.create_future()
                    await waiter
                    if self._timed_out:
                        raise TimeoutError
                elif type(event) is AgiResponse:
                    break
                else:
                    self._not_a_reply(event)  # raises, or returns for 100 Trying / HANGUP
        except TimeoutError:
            raise AgiDeadline(
                f"no reply to {type(command).__name__} within {deadline:.0f} s"
            ) from None
        except RemoteProtocolError:
            if self._eof:  # cut off in the middle of a line: the caller is gone all the same
                self.hung_up = True
                raise CallerGone("Asterisk closed the AGI connection mid-reply") from None
            raise
        self._replied_at = self._read_at  # our time starts when the reply's bytes arrived
        return event

    def _not_a_reply(self, event: object) -> None:
        """An event other than a `200` reply while a command waits: raise, or keep waiting."""
        if isinstance(event, AgiTrying):
            return
        if isinstance(event, AgiHangup):
            self.hung_up = True  # the reply (often 511) still follows
            return
        if isinstance(event, ConnectionClosed):
            self.hung_up = True
            raise CallerGone("Asterisk closed the AGI connection")
        if isinstance(event, AgiError):
            if event.is_dead_channel:
                self.hung_up = True
                raise CallerGone("511: the channel is dead")
            raise AgiCommandFailed(f"{event.code} {event.message}")
        if isinstance(event, AgiUsageError):
            raise AgiCommandFailed(f"520 {event.message}: {event.usage[:200]}")
        raise RemoteProtocolError(f"unexpected {type(event).__name__} while awaiting a reply")

    async def get_variable(self, name: str) -> str | None:
        reply = await self.command(agi.GetVariable(name))
        return reply.data if reply.result == "1" else None

    async def set_variable(self, name: str, value: str) -> None:
        await self.command(agi.SetVariable(name, value))

    def close(self) -> None:
        self._disarm()
        self._close_socket()


AgiHandler = Callable[[AgiChannel, AgiRequest], Awaitable[None]]


class FastAgiServer:
    """Accepts Asterisk's FastAGI connections and runs the handler of each script path."""

    def __init__(
        self, routes: Mapping[str, AgiHandler], *, host: str = "127.0.0.1", port: int = 4573,
        command_deadline_s: float = 30.0, request_timeout_s: float = 5.0, drain_s: float = 5.0,
        allowed_peers: tuple[Network, ...] | None = None,
    ) -> None:
        self.allowed_peers = allowed_peers  # None: anyone (tests of the protocol alone)
        self.routes = {name.strip("/"): handler for name, handler in routes.items()}
        self.host, self.port = host, port
        self.command_deadline_s = command_deadline_s
        self.request_timeout_s = request_timeout_s
        self.drain_s = drain_s
        self._listeners: list[socket.socket] = []
        self._sessions: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._peer_verdicts: dict[str, bool] = {}  # address -> allowed (bounded, see _allowed)
        # One read buffer for every connection: each read is copied out before the next.
        self._read_buffer = memoryview(bytearray(_READ_SIZE))

    async def wait_idle(self) -> None:
        """Return once no session is running (tests, graceful shutdown)."""
        await self._idle.wait()

    async def start(self) -> None:
        """Listen on every address `host` resolves to (as `loop.create_server` does)."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(self.host or None, self.port, family=socket.AF_UNSPEC,
                                       type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        listeners: list[socket.socket] = []
        try:
            for family, kind, proto, _name, address in dict.fromkeys(infos):
                try:
                    sock = socket.socket(family, kind, proto)
                except OSError:  # an address family this host does not have (IPv6 off)
                    continue
                listeners.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    sock.bind(address)
                except OSError as exc:
                    raise OSError(exc.errno, f"FastAGI cannot listen on {self.host}:{self.port} "
                                             f"({family.name}): {exc.strerror}") from None
                sock.listen(_BACKLOG)
                sock.setblocking(False)
            if not listeners:
                raise OSError(f"FastAGI: no address to listen on for {self.host!r}")
        except BaseException:
            for sock in listeners:
                sock.close()
            raise
        self._listeners = listeners
        for sock in listeners:
            loop.add_reader(sock.fileno(), self._accept, sock)
        self.port = int(listeners[0].getsockname()[1])
        log.info("FastAGI listening on %s:%s (%s)", self.host, self.port, ", ".join(self.routes))

    async def close(self) -> None:
        self._stop_listening()
        if self._sessions:
            _, running = await asyncio.wait(set(self._sessions), timeout=self.drain_s)
            for task in running:
                task.cancel()
            for task in running:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _stop_listening(self) -> None:
        loop = asyncio.get_running_loop()
        for sock in self._listeners:
            loop.remove_reader(sock.fileno())
            sock.close()
        self._listeners = []

    @property
    def active(self) -> int:
        return len(self._sessions)

    def _accept(self, listener: socket.socket) -> None:
        """The listening socket is readable: take what is queued (a bounded batch)."""
        family = listener.family
        for _ in range(_ACCEPT_BATCH):
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if listener.fileno() < 0:
                    return
                # out of descriptors or memory: stop accepting for a second, do not spin
                log.error("FastAGI cannot accept a connection (%s); retrying in %.0f s",
                          exc, _ACCEPT_RETRY_S)
                loop = asyncio.get_running_loop()
                loop.remove_reader(listener.fileno())
                loop.call_later(_ACCEPT_RETRY_S, self._resume_accepting, listener)
                return
            self._connected(sock, address, family)

    def _resume_accepting(self, listener: socket.socket) -> None:
        if listener in self._listeners:
            asyncio.get_running_loop().add_reader(listener.fileno(), self._accept, listener)

    def _allowed(self, address: str) -> bool:
        assert self.allowed_peers is not None
        verdict = self._peer_verdicts.get(address)
        if verdict is None:
            if len(self._peer_verdicts) >= _PEER_VERDICTS:
                self._peer_verdicts.clear()
            verdict = self._peer_verdicts[address] = address_in(address, self.allowed_peers)
        return verdict

    def _connected(self, sock: socket.socket, address: object,
                   family: int = socket.AF_INET) -> AgiChannel | None:
        if self.allowed_peers is not None:
            peer = str(address[0]) if isinstance(address, tuple) and address else "unknown"
            if not self._allowed(peer):
                log.warning("FastAGI refused a connection from %s: not in FASTAGI_ALLOWED_PEERS", peer)
                SESSIONS.inc(script="-", end="refused")
                sock.close()
                return None
        try:
            sock.setblocking(False)
            if family == socket.AF_INET or family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # reset between accept and here
            sock.close()
            return None
        channel = AgiChannel(sock, command_deadline_s=self.command_deadline_s,
                             read_buffer=self._read_buffer)
        channel.start_reading()
        task = asyncio.get_running_loop().create_task(self._run(channel))
        self._sessions.add(task)
        self._idle.clear()
        ACTIVE.set(len(self._sessions))
        task.add_done_callback(self._session_done)
        return channel

    def _session_done(self, task: asyncio.Task[None]) -> None:
        self._sessions.discard(task)
        ACTIVE.set(len(self._sessions))
        if not self._sessions:
            self._idle.set()

    async def _run(self, channel: AgiChannel) -> None:
        try:
            await self._session(channel)
        finally:
            channel.close()

    async def _session(self, channel: AgiChannel) -> None:
        try:
            request = await channel.read_request(self.request_timeout_s)
        except (CallerGone, TimeoutError, RemoteProtocolError, ConnectionError) as exc:
            if channel.bytes_received:
                log.warning("FastAGI connection without a valid request: %s", exc)
            else:  # a TCP health check or a port scan: nothing was said, nothing to report
                log.debug("FastAGI connection closed without a byte: %s", exc)
            channel.close()
            return
        script = request.network_script.strip("/")
        call_id_var.set(request.uniqueid)  # in this session's own task context: no reset needed
        handler = self.routes.get(script)
        end = "ok"
        try:
            if handler is None:
                end = "unknown_script"
                log.error("FastAGI script %r has no handler (have: %s)", script,
                          ", ".join(self.routes))
                await self._fallback(channel)
            else:
                await handler(channel, request)
        except CallerGone:
            end = "caller_gone"
        except asyncio.CancelledError:
            end = "cancelled"
            raise
        except (AgiDeadline, AgiCommandFailed, RemoteProtocolError, ConnectionError) as exc:
            end = type(exc).__name__
            log.error("FastAGI %s session failed: %s; safe path", script, exc)
            await self._fallback(channel)
        except Exception:
            end = "error"
            log.exception("FastAGI %s handler failed; safe path", script)
            await self._fallback(channel)
        finally:
            SESSIONS.inc(script=script if handler else "unknown", end=end)
            channel.close()

    async def _fallback(self, channel: AgiChannel) -> None:
        """Tell the dialplan to route the caller on; ignore a channel that is gone."""
        if channel.hung_up or channel.conn.pending_command is not None:
            return
        with contextlib.suppress(CallerGone, AgiDeadline, AgiCommandFailed, RemoteProtocolError,
                                 ConnectionError):
            async with asyncio.timeout(2.0):
                await channel.set_variable("IVR_ACTION", "fallback")
