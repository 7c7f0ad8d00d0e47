"""The agents' WebSockets in this process, and the fan-out buses that feed them.

Guarantees:
- `Hub.deliver(staff_id, msg)` sends `msg` to every socket that staff member
  has open in this process, and remembers the latest offer state per agent,
  so a reconnecting browser gets the current offer again without a query.
- `LocalBus` (SQLite, one process): publish = deliver here.
- `PgBus` (PostgreSQL): publish = deliver here, then `pg_notify` on channel
  `screenpop` through a dedicated asyncpg connection; every other process
  LISTENs on its own dedicated connection and delivers to its sockets. Its own
  notifications are skipped (origin id). A lost LISTEN connection is re-opened
  with back-off. Payloads above the NOTIFY limit travel as a reference: the
  receiver reads the offer from `agent_states`.
- `remote_listeners` (PgBus): called with the staff id of every message another
  process published, after it was delivered here (the telephony owner follows
  agent states changed on other replicas through it). LocalBus has no remote.
- A message is JSON-encoded once: the same text goes to every local socket,
  inside the NOTIFY envelope, and (sliced back out) to the remote sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import asyncpg
from aiohttp import web
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
CHANNEL = "screenpop"
NOTIFY_LIMIT = 7000  # PostgreSQL refuses payloads of 8000 bytes and more


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str, separators=(",", ":"))


class Hub:
    def __init__(self) -> None:
        self.sockets: dict[int, set[web.WebSocketResponse]] = defaultdict(set)
        self.current: dict[int, dict[str, Any] | None] = {}

    def add(self, staff_id: int, ws: web.WebSocketResponse) -> None:
        self.sockets[staff_id].add(ws)

    def remove(self, staff_id: int, ws: web.WebSocketResponse) -> None:
        self.sockets[staff_id].discard(ws)
        if not self.sockets[staff_id]:
            del self.sockets[staff_id]

    @property
    def connected(self) -> int:
        return sum(len(s) for s in self.sockets.values())

    def remember(self, staff_id: int, msg: dict[str, Any]) -> None:
        """Keep the agent's current offer up to date from the messages that pass."""
        kind = msg.get("type")
        if kind == "offer":
            self.current[staff_id] = msg
        elif kind in ("card", "answered", "ended") and self.current.get(staff_id):
            offer = dict(self.current[staff_id] or {})
            if offer.get("offer_id") == msg.get("offer_id"):
                if kind == "card":
                    offer.update(card=msg.get("card"), loading=False, restricted=msg.get("restricted", False))
                else:
                    offer["phase"] = kind
                self.current[staff_id] = offer
        elif kind == "cleared":
            self.current[staff_id] = None

    async def deliver(self, staff_id: int, msg: dict[str, Any], text: str | None = None) -> None:
        """`text` is `dumps(msg)` when the caller has it already (encode once per offer)."""
        self.remember(staff_id, msg)
        sockets = list(self.sockets.get(staff_id, ()))
        if not sockets:
            return
        if text is None:
            text = dumps(msg)
        for ws in sockets:
            if ws.closed:
                continue
            try:
                await ws.send_str(text)
            except (ConnectionError, RuntimeError) as exc:
                log.info("agent socket of staff %s gone while sending: %s", staff_id, exc)


RemoteListener = Callable[[int], Awaitable[None]]


class Bus(Protocol):
    remote_listeners: list[RemoteListener]

    async def publish(self, staff_id: int, msg: dict[str, Any], text: str | None = None) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class LocalBus:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.remote_listeners: list[RemoteListener] = []  # one process: never called

    async def publish(self, staff_id: int, msg: dict[str, Any], text: str | None = None) -> None:
        await self.hub.deliver(staff_id, msg, text)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


def asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PgBus:
    """LISTEN/NOTIFY fan-out between processes sharing one PostgreSQL database."""

    def __init__(
        self, hub: Hub, database_url: str,
        load_offer: Callable[[int], Awaitable[dict[str, Any] | None]],
    ) -> None:
        self.hub = hub
        self.dsn = asyncpg_dsn(database_url)
        self.load_offer = load_offer
        self.origin = uuid.uuid4().hex
        self._notify: asyncpg.Connection | None = None
        self._notify_lock = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self.listening = asyncio.Event()
        self.remote_listeners: list[RemoteListener] = []

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen_forever(), name="screenpop-listen")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), 10)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        for task in list(self._deliveries):
            task.cancel()
        if self._notify is not None:
            await self._notify.close()

    async def publish(self, staff_id: int, msg: dict[str, Any], text: str | None = None) -> None:
        if text is None:
            text = dumps(msg)
        await self.hub.deliver(staff_id, msg, text)
        # the envelope wraps the encoded message as it is: the message is encoded once
        payload = f'{{"origin":"{self.origin}","staff_id":{int(staff_id)},"msg":{text}}}'
        if len(payload.encode()) > NOTIFY_LIMIT:
            payload = dumps({"origin": self.origin, "staff_id": staff_id, "ref": msg.get("type")})
        async with self._notify_lock:
            try:
                if self._notify is None or self._notify.is_closed():
                    self._notify = await asyncpg.connect(self.dsn)
                await self._notify.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
            except (OSError, asyncpg.PostgresError) as exc:
                self._notify = None
                log.warning("screen-pop NOTIFY failed (other processes miss one event): %s", exc)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            data = json.loads(payload)
            if data.get("origin") == self.origin:
                return
            staff_id = int(data["staff_id"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignored a malformed screen-pop notification: %s", exc)
            return
        task = asyncio.create_task(self._deliver_remote(staff_id, data, payload))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver_remote(self, staff_id: int, data: dict[str, Any], payload: str) -> None:
        msg = data.get("msg")
        text: str | None = None
        if msg is None:  # too large for NOTIFY: the sender stored it first
            msg = await self.load_offer(staff_id)
            if msg is None:
                await self._tell_remote_listeners(staff_id)
                return
        else:  # the sender's envelope (see `publish`) holds the socket text as it is
            head = f'{{"origin":"{data.get("origin")}","staff_id":{staff_id},"msg":'
            if payload.startswith(head) and payload.endswith("}"):
                text = payload[len(head):-1]
        await self.hub.deliver(staff_id, msg, text)
        await self._tell_remote_listeners(staff_id)

    async def _tell_remote_listeners(self, staff_id: int) -> None:
        for listener in list(self.remote_listeners):
            try:
                await listener(staff_id)
            except Exception:
                log.exception("screen-pop remote listener failed for staff %s", staff_id)

    async def _listen_forever(self) -> None:
        delay = 0.5
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.dsn)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, ev=lost: ev.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                self.listening.set()
                delay = 0.5
                await lost.wait()
                log.warning("screen-pop LISTEN connection lost; reconnecting")
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("screen-pop LISTEN connect failed (%s); retry in %.1fs", exc, delay)
            finally:
                self.listening.clear()
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(OSError, asyncpg.PostgresError):
                        await conn.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
