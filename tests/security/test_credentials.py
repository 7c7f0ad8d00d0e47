"""Credentials: a password change ends the other sessions; API tokens are listed, revoked
and expire, from the command line."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import select

from callcenter.cli import main
from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from callcenter.storage.tables import ApiToken
from tests import factories
from tests.security.conftest import Serve, login

ROOT = Path(__file__).resolve().parents[2]
NEW_PASSWORD = "a-new-pass-word"


def _browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def cli(db: Database, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`callcenter ARGS` in a real process (what an operator types)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": db.url, "LOG_JSON": "false"}
    return subprocess.run(
        [sys.executable, "-c", "import sys; from callcenter.cli import main; sys.exit(main())", *args],
        input=stdin, env=env, capture_output=True, text=True, timeout=60)


async def quick_cli(db: Database, *args: str) -> subprocess.CompletedProcess[str]:
    """The same command's `main` in a thread of this process (no interpreter start-up)."""
    out, err = io.StringIO(), io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return main(["--database-url", db.url, *args])

    code = await asyncio.to_thread(run)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


async def _me(http: aiohttp.ClientSession, base: str, **kw: str) -> aiohttp.ClientResponse:
    async with http.get(base + "/api/me", headers=kw or None) as resp:
        await resp.read()
        return resp


async def test_changing_a_password_ends_the_other_sessions_but_not_this_one(serve: Serve, db: Database) -> None:
    await factories.staff(db, "agent-wu", ["agent"], with_password=True)
    async with serve() as served, _browser() as laptop, _browser() as phone:
        base = served.base_url
        for http in (laptop, phone):
            assert (await login(http, base, "agent-wu", factories.PASSWORD))[0] == 302
        async with laptop.get(base + "/api/me") as resp:
            csrf = (await resp.json())["csrf_token"]
        async with laptop.post(base + "/api/me/password", headers={"X-CSRF-Token": csrf}, json={
                "current_password": factories.PASSWORD, "new_password": NEW_PASSWORD}) as resp:
            assert resp.status == 200 and (await resp.json()) == {"sessions_ended": 1}
        assert (await _me(laptop, base)).status == 200
        assert (await _me(phone, base)).status == 401
    async with serve() as served, _browser() as http:
        assert (await login(http, served.base_url, "agent-wu", factories.PASSWORD))[0] == 401
    async with serve() as served, _browser() as http:
        assert (await login(http, served.base_url, "agent-wu", NEW_PASSWORD))[0] == 302


async def test_a_wrong_current_password_is_refused_and_counted_like_a_failed_login(
        serve: Serve, db: Database) -> None:
    await factories.staff(db, "agent-wu", ["agent"], with_password=True)
    async with serve(login_max_failures_per_account=2) as served, _browser() as http:
        base = served.base_url
        assert (await login(http, base, "agent-wu", factories.PASSWORD))[0] == 302
        async with http.get(base + "/api/me") as resp:
            csrf = (await resp.json())["csrf_token"]
        statuses = []
        for _ in range(3):
            async with http.post(base + "/api/me/password", headers={"X-CSRF-Token": csrf}, json={
                    "current_password": "a-guess-123", "new_password": NEW_PASSWORD}) as resp:
                statuses.append(resp.status)
        async with http.post(base + "/api/me/password", headers={"X-CSRF-Token": csrf}, json={
                "current_password": factories.PASSWORD, "new_password": "short"}) as resp:
            assert resp.status == 422
    assert statuses == [403, 403, 429]


async def test_staff_passwd_from_the_command_line_ends_every_browser_session(serve: Serve, db: Database) -> None:
    await factories.staff(db, "agent-wu", ["agent"], with_password=True)
    async with serve() as served, _browser() as http:
        assert (await login(http, served.base_url, "agent-wu", factories.PASSWORD))[0] == 302
        done = cli(db, "staff", "passwd", "agent-wu", stdin=NEW_PASSWORD + "\n")
        assert done.returncode == 0, done.stderr
        assert "1 browser session(s) ended" in done.stdout
        assert (await _me(http, served.base_url)).status == 401


async def test_api_tokens_are_listed_revoked_and_expire_from_the_command_line(
        serve: Serve, db: Database, clock: FixedClock) -> None:
    await factories.staff(db, "agent-wu", ["agent"])
    made = await quick_cli(db, "staff", "token", "agent-wu", "--name", "crm-sync", "--expires-days", "30")
    other = await quick_cli(db, "staff", "token", "agent-wu", "--name", "old-script")
    assert made.returncode == 0 and other.returncode == 0, made.stderr + other.stderr
    expiring, forever = made.stdout.strip(), other.stdout.strip()
    async with db.sessions() as session:
        rows = {t.name: t for t in (await session.scalars(select(ApiToken))).all()}
    expires_at = rows["crm-sync"].expires_at
    assert expires_at is not None and rows["old-script"].expires_at is None

    listed = await quick_cli(db, "staff", "tokens", "agent-wu")
    assert listed.returncode == 0
    assert expiring not in listed.stdout and forever not in listed.stdout  # never shown again
    lines = {line.split("\t")[1]: line.split("\t") for line in listed.stdout.splitlines()[1:]}
    assert lines["crm-sync"][-1] == "active" and lines["old-script"][4] == "never"

    async with serve() as served, aiohttp.ClientSession() as http:
        clock.now = expires_at - timedelta(minutes=1)
        assert (await _me(http, served.base_url, Authorization=f"Bearer {expiring}")).status == 200
        clock.now = expires_at + timedelta(seconds=1)
        assert (await _me(http, served.base_url, Authorization=f"Bearer {expiring}")).status == 401

        assert (await _me(http, served.base_url, Authorization=f"Bearer {forever}")).status == 200
        revoked = await quick_cli(db, "staff", "revoke", str(rows["old-script"].id))
        assert revoked.returncode == 0 and "revoked" in revoked.stdout
        assert (await _me(http, served.base_url, Authorization=f"Bearer {forever}")).status == 401
    assert (await quick_cli(db, "staff", "revoke", "999999")).returncode == 1
    assert "revoked" in (await quick_cli(db, "staff", "tokens", "agent-wu")).stdout
