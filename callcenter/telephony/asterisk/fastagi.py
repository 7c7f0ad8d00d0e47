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
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from callcenter.logs import bind_call_id
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


class CallerGone(Exception):
    """The channel is gone (511, HANGUP or a closed socket): stop issuing commands."""


class AgiCommandFailed(Exception):
    """Asterisk refused a command (510 unknown / 520 usage): a bug on our side."""


class AgiDeadline(TimeoutError):
    """Asterisk did not answer a command in time."""


class AgiChannel:
    """One FastAGI connection, seen from a handler: send a command, get its reply.

    The socket side is an `asyncio.BufferedProtocol` (`_AgiProtocol`): bytes are
    read into one buffer the server reuses (no 256 KiB allocation per read, as
    the stream reader does), fed to the sans-I/O `AgiConnection`, and the
    handler's task is woken once per reply. The command deadline is one
    timer per connection, re-armed lazily, not a timeout context per command.
    """

    def __init__(
        self, transport: asyncio.BaseTransport, *, command_deadline_s: float = 30.0,
    ) -> None:
        self.transport = transport
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
        self._waiter: asyncio.Future[None] | None = None
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timed_out = False
        self._eof = False

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
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _arm(self, within_s: float) -> None:
        self._deadline = deadline = self._loop.time() + within_s
        timer = self._timer
        if timer is not None:
            if timer.when() <= deadline:
                return  # it fires first and re-arms itself for the rest
            timer.cancel()
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # not waiting for Asterisk now: the next command re-arms
        if self._loop.time() >= self._deadline:
            self._timed_out = True
            waiter.set_result(None)
        else:
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
            try:
                await waiter
            finally:
                self._waiter = None
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
        if self.transport.is_closing():
            self.hung_up = True
            raise CallerGone("socket closed while sending")
        self.transport.write(data)  # type: ignore[attr-defined]
        self.commands += 1
        deadline = self.deadline_for(command)
        self._arm(deadline)
        try:
            reply = await self._reply()
        except TimeoutError:
            raise AgiDeadline(
                f"no reply to {type(command).__name__} within {deadline:.0f} s"
            ) from None
        self._replied_at = self._read_at  # our time starts when the reply's bytes arrived
        return reply

    async def _reply(self) -> AgiResponse:
        while True:
            try:
                event = await self._next()
            except RemoteProtocolError:
                if self._eof:  # cut off in the middle of a line: the caller is gone all the same
                    self.hung_up = True
                    raise CallerGone("Asterisk closed the AGI connection mid-reply") from None
                raise
            if type(event) is AgiResponse:
                return event
            if isinstance(event, AgiTrying):
                continue
            if isinstance(event, AgiHangup):
                self.hung_up = True  # the reply (often 511) still follows
                continue
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
        with contextlib.suppress(Exception):
            self.transport.close()


class _AgiProtocol(asyncio.BufferedProtocol):
    """The socket of one FastAGI connection: reads into the server's buffer, feeds the channel."""

    def __init__(self, server: FastAgiServer) -> None:
        self.server = server
        self.channel: AgiChannel | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.channel = self.server._connected(transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.server._read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self.channel is not None:
            self.channel.data_in(self.server._read_buffer[:nbytes].tobytes())

    def eof_received(self) -> bool:
        if self.channel is not None:
            self.channel.data_in(b"")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.channel is not None:
            self.channel.data_in(b"")


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
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        # One read buffer for every connection: each read is copied out before the next.
        self._read_buffer = memoryview(bytearray(_READ_SIZE))

    async def wait_idle(self) -> None:
        """Return once no session is running (tests, graceful shutdown)."""
        await self._idle.wait()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _AgiProtocol(self), self.host, self.port, backlog=1024)
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])
        log.info("FastAGI listening on %s:%s (%s)", self.host, self.port, ", ".join(self.routes))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._sessions:
            _, running = await asyncio.wait(set(self._sessions), timeout=self.drain_s)
            for task in running:
                task.cancel()
            for task in running:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    @property
    def active(self) -> int:
        return len(self._sessions)

    def _connected(self, transport: asyncio.BaseTransport) -> AgiChannel | None:
        if self.allowed_peers is not None:
            peer = transport.get_extra_info("peername")
            address = str(peer[0]) if peer else "unknown"
            if not address_in(address, self.allowed_peers):
                log.warning("FastAGI refused a connection from %s: not in FASTAGI_ALLOWED_PEERS", address)
                SESSIONS.inc(script="-", end="refused")
                transport.close()
                return None
        channel = AgiChannel(transport, command_deadline_s=self.command_deadline_s)
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
        with bind_call_id(request.uniqueid):
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
