"""The aiohttp application factory: `create_app(settings)`.

Everything long-lived (database engine, job loop, FastAGI server, AMI
client, dialer) is a cleanup context that opens, yields and closes, so
start-up and shutdown are clean and tests build the very same app on a real
port. No engine or socket is made at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from callcenter import features, heap
from callcenter.appkeys import (
    CLOCK,
    CPU_POOL,
    DB,
    JOB_LOOP,
    LOOP_LAG,
    OWNER_CONTEXTS,
    SERVICES,
    SETTINGS,
    TURN_STORE,
    Services,
)
from callcenter.clock import Clock, system_clock
from callcenter.jobs import JobLoop
from callcenter.looplag import LoopLag, loop_lag_ctx
from callcenter.offload import CpuPool, cpu_pool_ctx, cpu_pool_shutdown
from callcenter.owner import owner_ctx
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.turn_store_pg import PgTurnStore
from callcenter.web import auth, health, password_change, security_headers, slow_clients
from callcenter.web.edge import edge_middleware
from callcenter.web.errors import error_middleware

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "web" / "static"


#: the fast path's turn store: 7 batchers, one connection each but the call reads and the
#: turn saves, which get `busy` each
STORE_BATCHERS, STORE_BUSY_BATCHERS = 7, 2


def connection_budget(settings: Settings) -> tuple[int | None, int]:
    """(the engine's connections, the turn store's per busy batcher) so that one process
    holds at most DB_POOL_SIZE PostgreSQL connections (issue 19: 10 by default): the turn
    store's, the screen-pop's LISTEN connection and the engine's pool. (None, 2) on SQLite
    or without the fast path: the engine's pool as before."""
    if not settings.database_url.startswith("postgresql") or not settings.ivr_fast_path:
        return None, 2
    busy = 2 if settings.db_pool_size >= 14 else 1
    store = STORE_BATCHERS + STORE_BUSY_BATCHERS * (busy - 1)
    return max(2, settings.db_pool_size - store - 1), busy


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if DB not in app:
        app[DB] = Database.open(settings.database_url, pool_size=settings.db_pool_size,
                                connections=connection_budget(settings)[0])
    yield
    await app[DB].close()


async def turn_store_ctx(app: web.Application) -> AsyncIterator[None]:
    """The IVR fast path's store (PostgreSQL with IVR_FAST_PATH on), shared by the Twilio
    and Asterisk channels, connected before the first call."""
    settings = app[SETTINGS]
    store = PgTurnStore.for_database(app[DB], settings.ivr_fast_path)
    if store is not None and connection_budget(settings)[1] != 2:
        store = PgTurnStore(app[DB], connections=connection_budget(settings)[1])
    if store is not None:
        store.start()
        app[SERVICES][TURN_STORE] = store
    try:
        yield
    finally:
        if store is not None:
            app[SERVICES].pop(TURN_STORE, None)
            await store.close()


async def job_loop_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    loop = app[JOB_LOOP]
    loop.db = app[DB]
    loop.tick = settings.job_interval_s
    task: asyncio.Task[None] | None = None
    if settings.job_loop_enabled and loop.jobs:
        task = asyncio.create_task(loop.run_forever(), name="job-loop")
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_app(
    settings: Settings, *, db: Database | None = None, clock: Clock = system_clock
) -> web.Application:
    app = web.Application(
        middlewares=[health.timing_middleware, slow_clients.body_deadline_middleware,
                     error_middleware, edge_middleware, auth.auth_middleware],
        client_max_size=settings.http_max_body_bytes,
        handler_args=slow_clients.handler_args(settings),
    )
    security_headers.setup(app)
    app.on_response_prepare.append(slow_clients.watch_sending)
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[SERVICES] = Services()
    if db is not None:
        app[DB] = db
    app[JOB_LOOP] = JobLoop(db=db, clock=clock)  # type: ignore[arg-type]  # db set in database_ctx
    app[OWNER_CONTEXTS] = []  # FastAGI, AMI, dialer: run by the lease's owner only
    app[LOOP_LAG] = LoopLag(stall_s=settings.loop_stall_log_ms / 1000)
    app.cleanup_ctx.append(loop_lag_ctx)
    app[CPU_POOL] = CpuPool(settings.cpu_workers)
    app.cleanup_ctx.append(cpu_pool_ctx)
    app.on_shutdown.append(cpu_pool_shutdown)
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(turn_store_ctx)
    health.setup(app)
    auth.setup(app)
    password_change.setup(app)
    app.router.add_static("/static", STATIC)
    for setup in features.FEATURES:
        setup(app)
    app.cleanup_ctx.append(owner_ctx)  # after the features whose services the owner's parts use
    # the job loop starts last, once every feature registered its jobs
    app.cleanup_ctx.append(job_loop_ctx)
    heap.setup(app)  # last: freezes what every start-up hook made
    return app
