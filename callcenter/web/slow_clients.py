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
- A client must keep taking what we send it: a connection on which bytes wait to be
  sent (in the transport's buffer or the socket's send queue) and none of them was
  acknowledged for a whole HTTP_SEND_TIMEOUT_S is aborted, which ends the handler
  waiting on it and frees what it held (a slow-read attack: many requests for large
  answers, nothing read; a screen-pop or wallboard socket whose browser hangs). Logged
  once, as a client timeout (WARNING). One watch per connection, whatever it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import socket
import struct
import termios
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from callcenter.appkeys import SETTINGS
from callcenter.settings import Settings

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


_TCP_INFO_SIZE = 232
_TCP_INFO_BYTES_ACKED = 120  # offset of tcpi_bytes_acked (u64) in Linux's struct tcp_info


def _bytes_acked(sock: Any) -> int | None:
    """Bytes the peer acknowledged on `sock` (Linux), None where the kernel does not say."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    except (OSError, AttributeError):
        return None
    if len(info) < _TCP_INFO_BYTES_ACKED + 8:
        return None
    acked: int = struct.unpack_from("Q", info, _TCP_INFO_BYTES_ACKED)[0]
    return acked


def _unsent(transport: asyncio.BaseTransport, sock: Any) -> int:
    """Bytes waiting to go out: the transport's buffer and the socket's send queue."""
    waiting = transport.get_write_buffer_size() if isinstance(transport, asyncio.WriteTransport) else 0
    if sock is not None:
        with contextlib.suppress(OSError, ValueError):
            waiting += struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
    return waiting


class _SendWatch:
    """Aborts its connection once bytes waited to be sent and the client took none of them
    for a whole `timeout` (checked every `timeout`: cut between one and two of them)."""

    def __init__(self, transport: asyncio.Transport, timeout: float, path: str) -> None:
        self.transport, self.timeout, self.path = transport, timeout, path
        self.sock = transport.get_extra_info("socket")
        self.waiting_since: int | None = None  # bytes acknowledged when bytes were last seen waiting
        self.loop = asyncio.get_running_loop()
        self.loop.call_later(timeout, self.check)

    def check(self) -> None:
        if self.transport.is_closing():
            return
        acked = _bytes_acked(self.sock)
        if _unsent(self.transport, self.sock) == 0:
            self.waiting_since = None
        elif self.waiting_since is not None and acked is not None and acked == self.waiting_since:
            log.warning("client timeout: the client took nothing of what we sent it for %g s; "
                        "closing the connection", self.timeout, extra={"path": self.path})
            self.transport.abort()
            return
        else:
            self.waiting_since = acked if acked is not None else -1
        self.loop.call_later(self.timeout, self.check)


_watched: weakref.WeakSet[asyncio.BaseTransport] = weakref.WeakSet()


async def watch_sending(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: watch the connection's sending (once per connection)."""
    transport = request.transport
    if not isinstance(transport, asyncio.Transport) or transport in _watched or transport.is_closing():
        return
    _watched.add(transport)
    _SendWatch(transport, request.app[SETTINGS].http_send_timeout_s, request.path)


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
