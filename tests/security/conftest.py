"""Security tests: the real app on a real port with the settings a test asks for."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import pytest

from callcenter.app import create_app
from callcenter.clock import FixedClock
from callcenter.demo.serving import app_on_port
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from tests.conftest import Served, free_port

Serve = Callable[..., AbstractAsyncContextManager[Served]]


@pytest.fixture
def serve(settings: Settings, db: Database, clock: FixedClock) -> Serve:
    """`async with serve(login_lockout_s=60) as served:` the app on a port with those settings."""

    @asynccontextmanager
    async def run(**updates: Any) -> AsyncIterator[Served]:
        port = free_port()
        changed = settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}",
                                              "http_port": port, **updates})
        app = create_app(changed, db=db, clock=clock)
        async with app_on_port(app, port):
            yield Served(app, f"http://127.0.0.1:{port}", changed)

    return run


async def login(http: aiohttp.ClientSession, base: str, username: str, password: str,
                headers: dict[str, str] | None = None) -> tuple[int, str]:
    """Fetch the login form, post it; (status, page text)."""
    async with http.get(base + "/login", headers=headers) as resp:
        page = await resp.text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    async with http.post(base + "/login", allow_redirects=False, headers=headers, data={
            "csrf_token": token.group(1), "username": username, "password": password,
            "next": "/"}) as resp:
        return resp.status, await resp.text()
