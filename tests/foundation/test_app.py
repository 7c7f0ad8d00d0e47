"""The service shell on a real port: health, metrics, login, CSRF, bearer tokens, roles."""

from __future__ import annotations

import re
import secrets

import aiohttp
import pytest

from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import ApiToken
from callcenter.web.auth import sha256
from tests import factories
from tests.conftest import Served


async def test_healthz_reports_the_database_engine(served: Served, db: Database) -> None:
    async with aiohttp.ClientSession() as http, http.get(served.base_url + "/healthz") as resp:
        body = await resp.json()
    assert resp.status == 200
    assert body["status"] == "ok" and body["database"] == db.dialect


async def test_metrics_are_prometheus_text(served: Served) -> None:
    async with aiohttp.ClientSession() as http:
        await http.get(served.base_url + "/healthz")
        async with http.get(served.base_url + "/metrics") as resp:
            text = await resp.text()
    assert resp.status == 200
    assert "# TYPE callcenter_http_request_seconds histogram" in text
    assert 'callcenter_http_request_seconds_count{route="/healthz"}' in text


async def _login(http: aiohttp.ClientSession, base: str, username: str, password: str) -> aiohttp.ClientResponse:
    async with http.get(base + "/login") as resp:
        page = await resp.text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    return await http.post(
        base + "/login",
        data={"csrf_token": token.group(1), "username": username, "password": password, "next": "/"},
        allow_redirects=False,
    )


async def test_login_with_a_wrong_password_is_refused(served: Served, db: Database) -> None:
    await factories.staff(db, "agent-wu", ["agent"], with_password=True)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        resp = await _login(http, served.base_url, "agent-wu", "wrong-password")
        assert resp.status == 401
        async with http.get(served.base_url + "/api/me") as me:
            assert me.status == 401


async def test_login_sets_a_session_and_unsafe_requests_need_the_csrf_token(served: Served, db: Database) -> None:
    await factories.staff(db, "agent-wu", ["agent"], with_password=True, name="吴小姐")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        resp = await _login(http, served.base_url, "agent-wu", factories.PASSWORD)
        assert resp.status == 302
        async with http.get(served.base_url + "/api/me") as me:
            body = await me.json()
        assert body["name"] == "吴小姐" and body["roles"] == ["agent"]
        async with http.post(served.base_url + "/logout", allow_redirects=False) as out:
            assert out.status == 403  # no CSRF token
        async with http.post(
            served.base_url + "/logout", data={"csrf_token": body["csrf_token"]}, allow_redirects=False
        ) as out:
            assert out.status == 302
        async with http.get(served.base_url + "/api/me") as me:
            assert me.status == 401


async def test_login_form_without_its_token_is_refused(served: Served, db: Database) -> None:
    await factories.staff(db, "agent-wu", ["agent"], with_password=True)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            served.base_url + "/login",
            data={"username": "agent-wu", "password": factories.PASSWORD},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 403


async def test_bearer_tokens_authenticate_and_revoked_ones_do_not(served: Served, db: Database) -> None:
    person = await factories.staff(db, "api-client", ["supervisor"])
    token = "cc_" + secrets.token_urlsafe(16)
    (row,) = await factories.add(db, ApiToken(staff_id=person.id, name="t", token_hash=sha256(token)))
    async with aiohttp.ClientSession() as http:
        async with http.get(served.base_url + "/api/me", headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status == 200 and (await resp.json())["roles"] == ["supervisor"]
        async with db.sessions() as session:
            stored = await session.get(ApiToken, row.id)
            assert stored is not None
            stored.revoked = True
            await session.commit()
        async with http.get(served.base_url + "/api/me", headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status == 401


async def test_pages_redirect_anonymous_visitors_to_login(served: Served) -> None:
    async with aiohttp.ClientSession() as http, http.get(served.base_url + "/", allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"].startswith("/login?next=")


def test_an_unknown_time_zone_setting_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown IANA time zone"):
        Settings(timezone="Mars/Olympus")


async def test_a_service_asked_for_by_a_plain_string_is_refused(served: Served) -> None:
    from callcenter.appkeys import SCREENPOP, SERVICES

    assert served.app[SERVICES].get(SCREENPOP) is not None
    with pytest.raises(TypeError, match="callcenter.appkeys"):
        served.app[SERVICES].get("screenpop")  # type: ignore[call-overload]
