"""Slow clients (slowloris) cannot hold connections or handlers open.

Guarantees:
- A connection must send a complete request head within
  HTTP_HEADER_TIMEOUT_S of opening or of its previous response, or it is
  closed (aiohttp's keep-alive timer, which fires while no whole request has
  arrived; `handler_args` sets it). Idle keep-alive connections close then too.
- A request body must arrive in full within HTTP_BODY_TIMEOUT_S of the head:
  after that any read of it raises 408 and the connection is closed once
  answered. WebSocket upgrades have no body and are not timed.
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


def _cut(request: web.Request, timeout: float) -> None:
    if request.content.is_eof():
        return
    log.warning("closing a client that sent its body too slowly (over %.0f s)", timeout,
                extra={"path": request.path})
    request.content.set_exception(web.HTTPRequestTimeout(
        reason=f"the request body did not arrive within {timeout:g} s"))


@web.middleware
async def body_deadline_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.body_exists or request.content.is_eof():
        return await handler(request)
    timeout = request.app[SETTINGS].http_body_timeout_s
    timer = asyncio.get_running_loop().call_later(timeout, _cut, request, timeout)
    try:
        response = await handler(request)
    except web.HTTPRequestTimeout:
        timer.cancel()
        response = web.Response(status=408, text="the request body arrived too slowly")
        response.force_close()
        return response
    finally:
        timer.cancel()
    return response
