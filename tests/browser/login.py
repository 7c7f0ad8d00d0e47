"""Log in over HTTP as a browser does (form token, then session cookie); returns the CSRF token."""

from __future__ import annotations

import re

import aiohttp

from tests.factories import PASSWORD


async def login_cookies(session: aiohttp.ClientSession, base_url: str, username: str) -> str:
    async with session.get(base_url + "/login") as resp:
        page = await resp.text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    form = {"csrf_token": token.group(1), "username": username, "password": PASSWORD, "next": "/"}
    async with session.post(base_url + "/login", data=form, allow_redirects=False) as resp:
        assert resp.status == 302, await resp.text()
    async with session.get(base_url + "/api/me") as resp:
        me = await resp.json()
    return str(me["csrf_token"])
