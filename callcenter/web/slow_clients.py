"""Slow clients (slowloris) cannot hold connections or handlers open.

Guarantees:
- A connection must send a complete request head within
  HTTP_HEADER_TIMEOUT_S of opening or of its previous response, or it is
  closed (aiohttp's keep-alive timer, which fires while no whole request has
  arrived; `handler_args` sets it). Idle keep-alive connections close then too.
- A request body must arrive in full within HTTP_BODY_TIMEOUT_S of the head:
  after that any read of it raises 408 and the connection is closed once
  answered. WebSocket upgrades have no body and are not timed. It is logged
  once, as a client timeout (WARNING, no traceback): the rest of the body is
  not read (no lingering read that would raise the timeout again in aiohttp's
  connection loop and log it as an unhandled error).
- Bodies are capped at HTTP_MAX_BODY_BYTES (413), as `client_max_size`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from callcenter.appkeys import SETTINGS
from callcenter.settings import Settings

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def handler_args(settings: Settings) -> dict[str, Any]:
    """Connection settings for `web.Application(handler_args=...)` (they win over run_app's)."""
    return {"keepalive_timeout": settings.http_header_timeout_s}


def _cut(request: web.Request, timeout: float, cut: list[bool]) -> None:
    if request.content.is_eof():
        return
    cut.append(True)
    log.warning("client timeout: the request body arrived too slowly (over %g s); answering "
                "408 and closing the connection", timeout, extra={"path": request.path})
    request.content.set_exception(web.HTTPRequestTimeout(
        reason=f"the request body did not arrive within {timeout:g} s"))


def _stop_reading(request: web.Request) -> None:
    """Read nothing more from this client: the connection closes after the answer, and
    aiohttp does not wait for (and read, and fail on) the rest of the body."""
    if request.transport is not None:
        request.transport.pause_reading()
    if not request.content.is_eof():
        request.content.feed_eof()


@web.middleware
async def body_deadline_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.body_exists or request.content.is_eof():
        return await handler(request)
    timeout = request.app[SETTINGS].http_body_timeout_s
    cut: list[bool] = []
    timer = asyncio.get_running_loop().call_later(timeout, _cut, request, timeout, cut)
    try:
        response = await handler(request)
    except web.HTTPRequestTimeout:
        response = web.Response(status=408, text="the request body arrived too slowly")
    finally:
        timer.cancel()
    if cut:  # whatever answered (a 408 here, or the JSON one of `error_middleware`)
        _stop_reading(request)
        response.force_close()
    return response
