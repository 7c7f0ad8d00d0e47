"""`/healthz` (is the database reachable? does this process own FastAGI/AMI?) and
`/metrics` (Prometheus text).

`/metrics` is per worker process: with several HTTP workers a scrape reaches
one of them, named by `callcenter_event_loop_info{loop=...,pid=...}`.
"""

from __future__ import annotations

import asyncio
import os
import time

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from callcenter.appkeys import DB, OWNER, SERVICES
from callcenter.metrics import REGISTRY
from callcenter.web.auth import public

HTTP_LATENCY = REGISTRY.histogram("callcenter_http_request_seconds", "HTTP handling time")
EVENT_LOOP_INFO = REGISTRY.gauge(
    "callcenter_event_loop_info",
    "the event loop this worker process runs (loop: uvloop or asyncio; pid: the worker)",
)


def running_loop_name() -> str:
    """`uvloop` or `asyncio`: the kind of the running event loop."""
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


@public("liveness probe: says only whether the database answers")
async def healthz(request: web.Request) -> web.Response:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(request.app[DB].ping(), timeout=2.0)
    except (TimeoutError, SQLAlchemyError, OSError) as exc:
        return web.json_response(
            {"status": "fail", "database": "unreachable", "error": type(exc).__name__}, status=503
        )
    return web.json_response(
        {
            "status": "ok",
            "database": request.app[DB].dialect,
            "db_ms": round((time.perf_counter() - started) * 1000, 2),
            # true: this process runs FastAGI/AMI/dialer; false: standing by; null: not electing
            "telephony_owner": None if (owner := request.app[SERVICES].get(OWNER)) is None
            else owner.is_owner,
        }
    )


@public("Prometheus scrape (counts and timings, no personal data)")
async def metrics(_request: web.Request) -> web.Response:
    EVENT_LOOP_INFO.values.clear()  # one series: the loop and pid of this process
    EVENT_LOOP_INFO.set(1, loop=running_loop_name(), pid=str(os.getpid()))
    return web.Response(text=REGISTRY.render(), content_type="text/plain", charset="utf-8")


@web.middleware
async def timing_middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    try:
        return await handler(request)
    finally:
        route = request.match_info.route.resource
        name = route.canonical if route is not None else "unmatched"
        HTTP_LATENCY.observe(time.perf_counter() - started, route=name)


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
