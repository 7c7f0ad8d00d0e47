"""The asyncio AMI client: one long-lived connection to Asterisk's Manager Interface.

Built on the sans-I/O core (`ami_protocol.AmiConnection`); this module only
owns the socket, the clock and the tasks.

Guarantees:
- Every action gets its own ActionID and a future; `action()` returns the
  response (or the whole `EventListResult`) or raises `AmiTimeout`. An action
  whose connection drops before its answer raises `AmiDisconnected`; it is
  **never re-sent** on the next connection (an Originate may already have
  dialled). `AmiNotConnected` means nothing was sent.
- Keepalive: a Ping every `ping_interval`; no Pong within `ping_timeout`
  drops the connection, which is then re-opened with exponential backoff and
  jitter. After each (re)login the client asks for `CoreShowChannels` and
  hands the snapshot to the resync listeners *in event order*, so the call
  log can settle calls that ended while we were away.
- The socket reader never waits for the listeners: events go through one
  bounded queue to a single dispatcher (so listeners see them in wire order).
  When the queue is full the event is dropped, `callcenter_ami_events_dropped_total`
  counts it, and a resync is requested once the queue has drained.
- A listener that raises is logged with the call's Linkedid; the next event
  is still delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Final, cast

from callcenter.metrics import REGISTRY
from callcenter.telephony.asterisk import ami_actions
from callcenter.telephony.asterisk.ami_actions import Action
from callcenter.telephony.asterisk.ami_protocol import (
    AmiConnection,
    AmiEvent,
    AmiGreeting,
    AmiResponse,
    EventListResult,
)
from callcenter.telephony.asterisk.errors import RemoteProtocolError
from callcenter.telephony.asterisk.stream import NEED_DATA, ConnectionClosed

log = logging.getLogger(__name__)

EVENTS_DROPPED = REGISTRY.counter(
    "callcenter_ami_events_dropped_total", "AMI events dropped because the event queue was full"
)
EVENTS_IN = REGISTRY.counter("callcenter_ami_events_total", "AMI events queued for listeners")
RECONNECTS = REGISTRY.counter("callcenter_ami_reconnects_total", "AMI connection attempts after a loss")
CONNECTED = REGISTRY.gauge("callcenter_ami_connected", "1 while logged in to the AMI")
QUEUE_DEPTH = REGISTRY.gauge("callcenter_ami_event_queue_depth", "AMI events waiting for listeners")

EventListener = Callable[[AmiEvent], Awaitable[None]]
# (channels of the CoreShowChannels snapshot, time.monotonic() when it was asked for)
ResyncListener = Callable[[list[AmiEvent], float], Awaitable[None]]
AmiAnswer = AmiResponse | EventListResult
_READ_SIZE: Final = 65536
_YIELD_EVERY: Final = 256  # events delivered in a row before the dispatcher lets others run


class AmiError(Exception):
    """Base of the AMI client's errors."""


class AmiNotConnected(AmiError):
    """Not logged in to Asterisk right now; the action was not sent."""


class AmiDisconnected(AmiError):
    """The connection dropped after the action was sent: it may or may not have run."""


class AmiTimeout(AmiError, TimeoutError):
    """No answer in time; the action may still run. Do not resend blindly."""


class AmiLoginFailed(AmiError):
    """Asterisk refused the login: check AMI_USER / AMI_SECRET and manager.conf."""


@dataclass(frozen=True)
class AmiConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "callcenter"
    secret: str = "callcenter"
    events: str = "call,agent,user"  # event classes asked for at login
    connect_timeout: float = 5.0
    action_timeout: float = 10.0
    ping_interval: float = 20.0
    ping_timeout: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    queue_size: int = 10_000


@dataclass(frozen=True)
class _Resync:
    channels: list[AmiEvent]
    requested_at: float


class AmiClient:
    """Connects, logs in, keeps alive, reconnects; dispatches events to listeners."""

    def __init__(
        self, config: AmiConfig, *, rng: random.Random | None = None, id_prefix: str = "cc"
    ) -> None:
        self.config = config
        self._rng = rng or random.Random()
        self._ids = itertools.count(1)
        self._id_prefix = id_prefix
        self._listeners: dict[str | None, list[EventListener]] = defaultdict(list)
        self._resync_listeners: list[ResyncListener] = []
        self._pending: dict[str, asyncio.Future[AmiAnswer]] = {}
        self._conn: AmiConnection | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._greeting: asyncio.Future[AmiGreeting] | None = None
        self._logged_in = asyncio.Event()
        self._queue: asyncio.Queue[tuple[float, AmiEvent | _Resync]] = asyncio.Queue(
            config.queue_size)
        #: time.monotonic() when the event being delivered now came off the socket
        self.delivering_received_at = 0.0
        self._overflowed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._closing = False
        self.sessions = 0  # successful logins so far

    # -- wiring -----------------------------------------------------------------------------

    def on_event(self, names: str | Iterable[str] | None, listener: EventListener) -> None:
        """Call `listener` for events of these names (None: every event)."""
        if names is None or isinstance(names, str):
            self._listeners[names].append(listener)
        else:
            for name in names:
                self._listeners[name].append(listener)

    def on_resync(self, listener: ResyncListener) -> None:
        self._resync_listeners.append(listener)

    @property
    def connected(self) -> bool:
        return self._logged_in.is_set()

    def next_action_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids)}"

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is None:
            self._closing = False
            self._dispatcher = asyncio.create_task(self._dispatch_forever(), name="ami-dispatch")
            self._runner = asyncio.create_task(self._run_forever(), name="ami-connect")

    async def wait_connected(self, within_s: float | None = None) -> None:
        await asyncio.wait_for(self._logged_in.wait(), within_s)

    async def close(self) -> None:
        """Log off (best effort), stop reconnecting, let queued events drain briefly."""
        self._closing = True
        if self.connected:
            with contextlib.suppress(AmiError, OSError, RemoteProtocolError):
                await self.action(ami_actions.logoff, answer_within_s=1.0)
        for task in (self._runner, *self._tasks):
            if task is not None:
                task.cancel()
        for task in (self._runner, *self._tasks):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._runner = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), 2.0)
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None

    # -- actions ----------------------------------------------------------------------------

    async def action(
        self, action: Action | Callable[[str], Action], *, answer_within_s: float | None = None
    ) -> AmiAnswer:
        """Send one action and wait for its answer. Raises AmiNotConnected / AmiTimeout /
        AmiDisconnected; an `Response: Error` is returned (check `.ok`)."""
        if not self.connected:
            raise AmiNotConnected("not logged in to the AMI; the action was not sent")
        return await self._request(action, answer_within_s)

    async def _request(
        self, action: Action | Callable[[str], Action], within_s: float | None
    ) -> AmiAnswer:
        conn, writer = self._conn, self._writer
        if conn is None or writer is None:
            raise AmiNotConnected("no AMI connection; the action was not sent")
        built = action if isinstance(action, Action) else action(self.next_action_id())
        data = conn.send(built)  # LocalProtocolError on a reused ActionID: our bug
        future: asyncio.Future[AmiAnswer] = asyncio.get_running_loop().create_future()
        self._pending[built.action_id] = future
        try:
            writer.write(data)
            return await asyncio.wait_for(future, within_s or self.config.action_timeout)
        except TimeoutError:
            raise AmiTimeout(
                f"no answer to {built.name} ({built.action_id}) within "
                f"{within_s or self.config.action_timeout} s"
            ) from None
        finally:
            self._pending.pop(built.action_id, None)

    # -- connection loop --------------------------------------------------------------------

    async def _run_forever(self) -> None:
        failures = 0
        while not self._closing:
            try:
                await self._session()
                failures = 0
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, RemoteProtocolError, AmiError) as exc:
                log.warning("AMI connection to %s:%s lost or refused: %s",
                            self.config.host, self.config.port, exc)
            finally:
                self._drop_connection()
            if self._closing:
                return
            failures += 1
            RECONNECTS.inc()
            await asyncio.sleep(self.backoff(failures))

    def backoff(self, failures: int) -> float:
        """Delay before attempt `failures` (1, 2, ...): exponential, capped, with ±50 % jitter."""
        base = min(self.config.backoff_max, self.config.backoff_initial * 2 ** (failures - 1))
        return base * (0.5 + self._rng.random())

    async def _session(self) -> None:
        cfg = self.config
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(cfg.host, cfg.port), cfg.connect_timeout
        )
        self._conn, self._writer = AmiConnection(), writer
        self._greeting = asyncio.get_running_loop().create_future()
        read_task = asyncio.create_task(self._read_loop(reader, self._conn), name="ami-read")
        try:
            await asyncio.wait_for(asyncio.shield(self._greeting), cfg.connect_timeout)
            answer = await self._request(
                lambda aid: ami_actions.login(aid, cfg.username, cfg.secret, cfg.events),
                cfg.action_timeout,
            )
            if not (isinstance(answer, AmiResponse) and answer.ok):
                raise AmiLoginFailed(
                    f"AMI login as {cfg.username!r} refused: set AMI_SECRET to the Asterisk "
                    "side's secret and make its manager.conf permit (AMI_PERMIT) admit this host")
            self._logged_in.set()
            CONNECTED.set(1)
            self.sessions += 1
            log.info("AMI logged in to %s:%s", cfg.host, cfg.port)
            self._spawn(self._resync())
            await self._keepalive(read_task)
        finally:
            read_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await read_task

    async def _keepalive(self, read_task: asyncio.Task[None]) -> None:
        """Return (or raise) when the connection is gone or stops answering pings."""
        while True:
            done, _ = await asyncio.wait({read_task}, timeout=self.config.ping_interval)
            if done:
                read_task.result()  # re-raise a protocol error
                raise AmiDisconnected("Asterisk closed the AMI connection")
            if self._closing:
                return
            try:
                await self._request(ami_actions.ping, self.config.ping_timeout)
            except AmiTimeout:
                raise AmiDisconnected(
                    f"no Pong within {self.config.ping_timeout} s; reconnecting"
                ) from None

    def _drop_connection(self) -> None:
        self._logged_in.clear()
        CONNECTED.set(0)
        if self._writer is not None:
            self._writer.close()
        self._conn = self._writer = None
        if self._greeting is not None and not self._greeting.done():
            self._greeting.cancel()
        pending, self._pending = self._pending, {}
        for action_id, future in pending.items():
            if not future.done():
                future.set_exception(AmiDisconnected(
                    f"AMI connection lost before the answer to {action_id}; not re-sent"
                ))

    async def _read_loop(self, reader: asyncio.StreamReader, conn: AmiConnection) -> None:
        listeners = self._listeners
        while True:
            data = await reader.read(_READ_SIZE)
            received_at = time.monotonic()  # every message of this read came off the socket now
            conn.receive_data(data)
            queued = 0
            try:
                while True:
                    item = conn.next_event()
                    if item.__class__ is AmiEvent:  # the common case first
                        event = cast(AmiEvent, item)
                        if (event.name in listeners or None in listeners) and \
                                self._enqueue(event, received_at):
                            queued += 1
                    elif item is NEED_DATA:
                        break
                    elif isinstance(item, ConnectionClosed):
                        return
                    else:
                        self._route(item, received_at)
            finally:
                if queued:
                    EVENTS_IN.inc(queued)

    def _route(self, item: object, received_at: float) -> None:
        if isinstance(item, AmiGreeting):
            if self._greeting is not None and not self._greeting.done():
                self._greeting.set_result(item)
        elif isinstance(item, AmiResponse | EventListResult):
            future = self._pending.get(item.action_id or "")
            if future is not None and not future.done():
                future.set_result(item)
        elif isinstance(item, AmiEvent):
            if (item.name in self._listeners or None in self._listeners) and \
                    self._enqueue(item, received_at):
                EVENTS_IN.inc()

    def _enqueue(self, item: AmiEvent, received_at: float) -> bool:
        """Queue `item` for the dispatcher; False when the queue is full (it is dropped)."""
        try:
            self._queue.put_nowait((received_at, item))
            return True
        except asyncio.QueueFull:
            EVENTS_DROPPED.inc()
            if not self._overflowed:
                log.error("AMI event queue full (%d): dropping events; will resync",
                          self.config.queue_size)
            self._overflowed = True
            return False

    # -- resync and dispatch ----------------------------------------------------------------

    async def _resync(self) -> None:
        requested_at = time.monotonic()
        try:
            answer = await self.action(ami_actions.core_show_channels)
        except AmiError as exc:
            log.warning("AMI resync (CoreShowChannels) failed: %s", exc)
            return
        if isinstance(answer, EventListResult):
            channels = [e for e in answer.events if e.name == "CoreShowChannel"]
            try:
                self._queue.put_nowait((time.monotonic(), _Resync(channels, requested_at)))
            except asyncio.QueueFull:
                self._overflowed = True

    async def resync(self) -> None:
        """Ask for a channel snapshot now (tests, admin)."""
        await self._resync()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch_forever(self) -> None:
        queue = self._queue
        while True:
            received_at, item = await queue.get()
            QUEUE_DEPTH.set(queue.qsize())
            delivered = 0
            while True:  # what is queued already goes without a wait per event
                self.delivering_received_at = received_at
                try:
                    await self._deliver(item)
                finally:
                    queue.task_done()
                if queue.empty():
                    break
                delivered += 1
                if delivered % _YIELD_EVERY == 0:
                    # a burst does not hold the event loop: the call log's flush (its
                    # database round trips overlap the events after), the socket, timers
                    await asyncio.sleep(0)
                received_at, item = queue.get_nowait()
            if self._overflowed and queue.empty() and self.connected:
                self._overflowed = False
                self._spawn(self._resync())

    async def _deliver(self, item: AmiEvent | _Resync) -> None:
        if isinstance(item, _Resync):
            for resync_listener in self._resync_listeners:
                try:
                    await resync_listener(item.channels, item.requested_at)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("AMI resync listener failed; calls may stay open until the next")
            return
        for listener in (*self._listeners.get(item.name, ()), *self._listeners.get(None, ())):
            try:
                await listener(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("AMI %s listener failed for linkedid %s; next event goes on",
                              item.name, item.fields.get("Linkedid"))
