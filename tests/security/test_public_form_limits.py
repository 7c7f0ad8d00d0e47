"""The public complaint form's rate limit: accepted complaints only, client address from
trusted proxies only."""

from __future__ import annotations

import re

import aiohttp

from callcenter.storage.engine import Database
from tests.security.conftest import Serve

LIMITED = {"complaint_form_per_ip_hour": 2, "complaint_form_per_phone_hour": 10}


def _browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _submit(http: aiohttp.ClientSession, base: str, phone: str, forwarded_for: str | None = None,
                  category: str = "repair_quality") -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with http.get(base + "/complaint", headers=headers) as resp:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
    assert token
    async with http.post(base + "/complaint", headers=headers, data={
            "csrf_token": token.group(1), "phone": phone, "category": category,
            "description": "热水器修完又漏水了"}) as resp:
        return resp.status


async def test_rejected_submissions_do_not_use_up_the_limit(serve: Serve, db: Database) -> None:
    async with serve(**LIMITED) as served, _browser() as http:
        bad = [await _submit(http, served.base_url, "not-a-phone") for _ in range(5)]
        bad += [await _submit(http, served.base_url, "13800138001", category="nonsense")]
        good = [await _submit(http, served.base_url, p) for p in ("13800138001", "13800138002", "13800138003")]
    assert bad == [422] * 6
    assert good == [201, 201, 429]


async def test_a_forged_forwarded_for_does_not_escape_the_limit_without_trusted_proxies(
        serve: Serve, db: Database) -> None:
    async with serve(**LIMITED) as served, _browser() as http:
        statuses = [await _submit(http, served.base_url, f"1380013800{i}", forwarded_for=f"203.0.113.{i}")
                    for i in range(3)]
    assert statuses == [201, 201, 429]


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
        serve: Serve, db: Database) -> None:
    async with serve(**LIMITED, trusted_proxies="127.0.0.1") as served, _browser() as http:
        first = [await _submit(http, served.base_url, f"1380013800{i}", forwarded_for="203.0.113.7")
                 for i in range(3)]
        # a client prepending its own hop still counts as the address our proxy saw
        spoofed = await _submit(http, served.base_url, "13800138005",
                                forwarded_for="198.51.100.1, 203.0.113.7")
        other = await _submit(http, served.base_url, "13800138006", forwarded_for="203.0.113.8")
    assert first == [201, 201, 429]
    assert spoofed == 429
    assert other == 201
