"""`POST /api/me/password`: a staff member changes their own password.

Guarantees:
- The current password is checked first, off the event loop, and guesses
  count against the account like failed logins (LOGIN_MAX_FAILURES_PER_*,
  429 when locked), so a stolen session cannot be used to find the password.
- On success every *other* browser session of the member ends (all of them
  when the change came with a bearer token); the session that made the
  change stays logged in. API tokens are not touched (`callcenter staff
  tokens` / `revoke` manage them).
- Answers: 200 {"sessions_ended": n}; 403 wrong current password; 422 a new
  password that is too short or a body without both fields.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import delete, select

from callcenter.appkeys import DB
from callcenter.offload import cpu_pool
from callcenter.passwords import MIN_LENGTH, hash_password, verify_password
from callcenter.storage.tables import Staff, WebSession
from callcenter.web import login_limits
from callcenter.web.api.routing import describe
from callcenter.web.auth import SESSION_COOKIE, current, requires, sha256
from callcenter.web.errors import json_error, parse_json

MAX_LENGTH = 1024  # argon2 hashes the whole password: a bound on its cost


class PasswordChangeIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=MAX_LENGTH)
    new_password: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)


def _fields(body: Any) -> tuple[str, str] | None:
    if not isinstance(body, dict):
        return None
    old, new = body.get("current_password"), body.get("new_password")
    if not isinstance(old, str) or not isinstance(new, str) or not old:
        return None
    return old, new


@describe("POST", "/api/me/password", summary="Change your password (ends your other sessions)",
          tag="meta", body=PasswordChangeIn)
@requires()
async def change_password(request: web.Request) -> web.Response:
    me = current(request)
    fields = _fields(await parse_json(request))
    if fields is None:
        return json_error(422, 'send {"current_password": "...", "new_password": "..."}')
    old, new = fields
    if len(new) < MIN_LENGTH:
        return json_error(422, f"a password needs at least {MIN_LENGTH} characters")
    if len(new) > MAX_LENGTH or len(old) > MAX_LENGTH:
        return json_error(422, f"a password has at most {MAX_LENGTH} characters")
    attempt = await login_limits.begin(request, me.username)
    if attempt.locked:
        return json_error(429, attempt.locked)
    db, pool = request.app[DB], cpu_pool(request.app)
    async with db.sessions() as session:
        stored = await session.scalar(select(Staff.password_hash).where(Staff.id == me.staff_id))
    if not await pool.run(verify_password, stored, old):
        return json_error(403, "the current password is wrong")
    await login_limits.succeeded(request, attempt)
    new_hash = await pool.run(hash_password, new)
    cookie = request.cookies.get(SESSION_COOKIE)
    async with db.sessions() as session:
        staff = await session.get(Staff, me.staff_id)
        assert staff is not None
        staff.password_hash = new_hash
        others = delete(WebSession).where(WebSession.staff_id == me.staff_id)
        if cookie and "Authorization" not in request.headers:
            others = others.where(WebSession.id != sha256(cookie))
        ended = await session.execute(others)
        await session.commit()
    return web.json_response({"sessions_ended": ended.rowcount})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/me/password", change_password)
