"""The live wallboard: `/wallboard` (page), `/wallboard/ws` (updates), `/api/wallboard` (JSON).

Supervisors and managers (and admins) see callers waiting per queue with the
longest wait, agents by state, and today's offered / answered / abandoned /
service level / ASA / AHT (`board.snapshot`, the daily report's own figures).

Guarantees:
- Live: an agent's committed state change and the AMI's queue events poke
  the feed; it recomputes at once (pokes within `DEBOUNCE_S` share one read)
  and publishes over the screen-pop's fan-out (PostgreSQL NOTIFY between
  processes) to every wallboard socket. A process with wallboard sockets
  also re-reads every `REFRESH_S` seconds (Twilio status webhooks, late
  events) and sends only what changed.
- An update sends the live parts (waiting, agents: two grouped reads) at
  once; when a call moved, today's KPIs are re-read and a second update
  follows, so the KPI read (a day of calls) never delays the live figures.
  Otherwise KPIs are re-read at most every `KPI_REFRESH_S` seconds.
- Today's KPIs (a day of calls through pandas) are read in a worker process
  (`callcenter.offload`), never on the loop the calls share (`today_off_loop`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import WSMsgType, web

from callcenter.appkeys import CLOCK, DB, SCREENPOP, SERVICES, SETTINGS, WALLBOARD
from callcenter.offload import in_worker
from callcenter.screenpop.hub import Hub, dumps
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.wallboard import board
from callcenter.web.auth import CSRF, requires
from callcenter.web.edge import same_origin
from crm.enums import Role

__all__ = ["WALLBOARD", "WALLBOARD_EVENTS", "WallboardFeed", "setup", "today_off_loop"]
log = logging.getLogger(__name__)
WALLBOARD_KEY = 0  # the hub key of wallboard sockets (staff ids start at 1)
WALLBOARD_EVENTS = ("QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentConnect",
                    "AgentComplete", "CEL")
DEBOUNCE_S = 0.005
REFRESH_S = 2.0
KPI_REFRESH_S = 2.0
VIEWERS = (Role.SUPERVISOR, Role.MANAGER)


Kpis = Callable[[datetime], Awaitable[dict[str, Any] | None]]


def today_off_loop(app: web.Application) -> Kpis:
    """`board.today` at a moment, in a worker process on the app's database."""
    async def read(now: datetime) -> dict[str, Any] | None:
        return await in_worker(app, "callcenter.wallboard.board:today", app[SETTINGS], now)

    return read


class WallboardFeed:
    def __init__(self, db: Database, settings: Settings, clock: Any, hub: Hub, bus: Any,
                 today: Kpis) -> None:
        self.db, self.settings, self.clock, self.hub, self.bus = db, settings, clock, hub, bus
        self.today = today
        self._kpis: tuple[float, dict[str, Any] | None] | None = None
        self._kpis_stale = False
        self._pending: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._last_sent = ""

    def _kpis_old(self) -> bool:
        return self._kpis is None or asyncio.get_running_loop().time() - self._kpis[0] > KPI_REFRESH_S

    async def snapshot(self, *, fresh_kpis: bool = False, cached_kpis: bool = False) -> dict[str, Any]:
        """The board now; today's KPIs re-read when asked or older than KPI_REFRESH_S (with
        `cached_kpis`, the last ones read, if any: the live parts do not wait for a worker)."""
        now = self.clock()
        clock = asyncio.get_running_loop().time()
        if self._kpis is None or fresh_kpis or (self._kpis_old() and not cached_kpis):
            self._kpis = (clock, await self.today(now))
            self._kpis_stale = False
        return await board.snapshot(self.db, self.settings, now, self._kpis[1])

    def poke(self, *_args: Any) -> None:
        """Something changed: publish a fresh snapshot soon (pokes close together share one)."""
        if self._pending is None or self._pending.done():
            self._pending = asyncio.get_running_loop().create_task(self._publish_soon())

    async def on_agent_state(self, _staff_id: int, _status: str, _reason: str | None) -> None:
        self.poke()

    async def on_ami_event(self, event: Any) -> None:
        """After the call log handled it (listeners run in order): queue moves, calls end."""
        if event.name == "CEL" and event.fields.get("EventName") != "LINKEDID_END":
            return
        self._kpis_stale = True  # a call moved: today's figures follow the live parts
        self.poke()

    async def _publish_soon(self) -> None:
        """The live parts at once (two grouped reads), then today's KPIs if a call moved."""
        await asyncio.sleep(DEBOUNCE_S)
        try:
            await self._publish(await self.snapshot(cached_kpis=True))
            if self._kpis_stale or self._kpis_old():
                await self._publish(await self.snapshot(fresh_kpis=True))
        except Exception:
            log.exception("wallboard update failed; the next change or refresh retries")

    async def _publish(self, snap: dict[str, Any]) -> None:
        text = dumps(snap)
        self._last_sent = text
        await self.bus.publish(WALLBOARD_KEY, snap, text)

    async def refresh_forever(self) -> None:
        """While this process has wallboard sockets: re-read and send what changed."""
        while True:
            await asyncio.sleep(REFRESH_S)
            if not self.hub.sockets.get(WALLBOARD_KEY):
                continue
            try:
                snap = await self.snapshot()
                text = dumps({**snap, "as_of": None})
                if text != self._last_sent:
                    self._last_sent = text
                    await self.hub.deliver(WALLBOARD_KEY, snap)
            except Exception:
                log.exception("wallboard refresh failed; retrying in %s s", REFRESH_S)

    def start(self) -> None:
        self._refresher = asyncio.get_running_loop().create_task(self.refresh_forever())

    async def close(self) -> None:
        for task in (self._pending, self._refresher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def feed(app: web.Application) -> WallboardFeed:
    found = app[SERVICES].get(WALLBOARD)
    if found is None:
        raise web.HTTPServiceUnavailable(reason="the wallboard is starting; retry in a moment")
    return found  # type: ignore[no-any-return]


@requires(*VIEWERS)
async def wallboard_socket(request: web.Request) -> web.StreamResponse:
    if not same_origin(request):
        raise web.HTTPForbidden(reason="WebSocket from another site refused")
    wall = feed(request.app)
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    wall.hub.add(WALLBOARD_KEY, ws)
    try:
        await ws.send_str(dumps(await wall.snapshot()))
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and msg.data == '{"type":"ping"}':
                await ws.send_str('{"type":"pong"}')
    finally:
        wall.hub.remove(WALLBOARD_KEY, ws)
    return ws


PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{csrf}">
<title>监控墙 Wallboard · Hotline</title>
<link rel="stylesheet" href="/static/app.css"><link rel="stylesheet" href="/static/wallboard.css"></head>
<body class="wallboard"><header><h1>监控墙 Wallboard</h1>
<span id="conn" class="badge">connecting…</span> <span id="as-of"></span></header>
<section class="tiles">
<div class="tile"><b>排队 Waiting</b><span id="waiting">–</span></div>
<div class="tile"><b>最长等待 Longest wait</b><span id="longest">–</span></div>
<div class="tile"><b>来电 Offered</b><span id="offered">–</span></div>
<div class="tile"><b>接通 Answered</b><span id="answered">–</span></div>
<div class="tile"><b>放弃 Abandoned</b><span id="abandoned">–</span></div>
<div class="tile"><b id="sl-label">服务水平 SL</b><span id="sl">–</span></div>
<div class="tile"><b>平均应答 ASA</b><span id="asa">–</span></div>
<div class="tile"><b>平均处理 AHT</b><span id="aht">–</span></div>
</section>
<section><h2>队列 Queues</h2><table id="queues"><thead><tr><th>queue</th><th>waiting</th>
<th>longest wait</th></tr></thead><tbody></tbody></table></section>
<section><h2>坐席 Agents</h2><table id="agents"><tbody></tbody></table>
<p id="reasons"></p></section>
<script src="/static/wallboard.js"></script></body></html>"""


@requires(*VIEWERS)
async def wallboard_page(request: web.Request) -> web.Response:
    import html

    return web.Response(text=PAGE.format(csrf=html.escape(request.get(CSRF) or "")),
                        content_type="text/html", headers={"Cache-Control": "no-store"})


async def wallboard_ctx(app: web.Application) -> AsyncIterator[None]:
    pop = app[SERVICES].get(SCREENPOP)
    if pop is None:  # the screen-pop's hub and fan-out carry the wallboard too
        yield
        return
    wall = WallboardFeed(app[DB], app[SETTINGS], app[CLOCK], pop.hub, pop.bus, today_off_loop(app))
    pop.state_listeners.append(wall.on_agent_state)
    app[SERVICES][WALLBOARD] = wall
    wall.start()
    yield
    app[SERVICES].pop(WALLBOARD, None)
    if wall.on_agent_state in pop.state_listeners:
        pop.state_listeners.remove(wall.on_agent_state)
    await wall.close()


def setup(app: web.Application) -> None:
    app.router.add_get("/wallboard", wallboard_page)
    app.router.add_get("/wallboard/ws", wallboard_socket)
    app.cleanup_ctx.append(wallboard_ctx)
