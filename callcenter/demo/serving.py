"""The app on a real local port, for the demo, the tests and the benches: one way to do it.

`free_port()` picks a port first (the settings name it: `public_base_url` must
match for Twilio's signatures); `app_on_port(app, port)` then runs the app's
cleanup contexts (database, FastAGI, jobs...) and serves HTTP on that port
until the block ends. `port=None` runs the cleanup contexts without HTTP.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator

from aiohttp import web

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def app_on_port(app: web.Application, port: int | None,
                      host: str = HOST) -> AsyncIterator[web.AppRunner]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        if port is not None:
            await web.TCPSite(runner, host, port).start()
        yield runner
    finally:
        await runner.cleanup()
