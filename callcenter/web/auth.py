"""Staff authentication: password login with a session cookie, or bearer tokens.

Guarantees:
- Passwords are stored as argon2 hashes; tokens and session ids only as SHA-256.
- A cookie-authenticated request that changes anything (POST, PUT, PATCH,
  DELETE) must carry the session's CSRF token (header `X-CSRF-Token` or form
  field `csrf_token`); bearer-token requests are exempt (no ambient authority).
- Anonymous forms (login, the public complaint form) use a signed
  double-submit token: `form_token(request, response)` / `check_form_token`.
- Every route declares who may use it, once, on its handler: `@requires(Role...)`
  (logged in, one of the roles; admin passes unless `admin=False`) or
  `@public("why")` (no login: the login form, the public complaint form,
  Twilio's signed webhooks, health). `access_of(route)` reads the declaration
  back, so a test walks the router and checks every route against it; a
  route with no declaration is a defect. `/api/` answers 401/403 in JSON,
  pages redirect to `/login`; a refusal by the gate carries the header
  `X-Access-Denied: role`, and a refused change (POST, PUT, PATCH, DELETE)
  by a logged-in person is stored in `access_refusals`.
- Roles are read from the staff row by `callcenter.identities.identity_of`
  (odd spellings folded, unknown or lookalike names grant nothing).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select, update

from callcenter.appkeys import CLOCK, DB, SETTINGS
from callcenter.identities import identity_of, org_chart
from callcenter.offload import cpu_pool
from callcenter.passwords import verify_password
from callcenter.storage.tables import AccessRefusal, ApiToken, Staff, WebSession
from callcenter.web import login_limits
from callcenter.web.edge import safe_next
from crm.enums import Role
from crm.identity import Identity

SESSION_COOKIE = "cc_session"
FORM_COOKIE = "cc_form"
SESSION_TTL = timedelta(hours=12)
TOKEN_TOUCH = timedelta(minutes=1)
IDENTITY = web.RequestKey("identity", Identity)
CSRF = web.RequestKey("csrf_token", str)
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def _from_bearer(request: web.Request, token: str) -> Identity | None:
    now = request.app[CLOCK]()
    async with request.app[DB].sessions() as session:
        row = (
            await session.execute(
                select(ApiToken, Staff)
                .join(Staff, Staff.id == ApiToken.staff_id)
                .where(ApiToken.token_hash == sha256(token), ApiToken.revoked.is_(False))
            )
        ).first()
        if row is None or not row.Staff.active:
            return None
        if row.ApiToken.expires_at is not None and row.ApiToken.expires_at <= now:
            return None
        last = row.ApiToken.last_used_at
        if last is None or now - last > TOKEN_TOUCH:  # at most once a minute: no hot-row contention
            await session.execute(
                update(ApiToken).where(ApiToken.id == row.ApiToken.id).values(last_used_at=now)
            )
            await session.commit()
        return identity_of(row.Staff, await org_chart(session, request.app[SETTINGS].hotline_codes))


async def _from_cookie(request: web.Request, cookie: str) -> tuple[Identity, str] | None:
    now = request.app[CLOCK]()
    async with request.app[DB].sessions() as session:
        row = (
            await session.execute(
                select(WebSession, Staff)
                .join(Staff, Staff.id == WebSession.staff_id)
                .where(WebSession.id == sha256(cookie))
            )
        ).first()
        if row is None or row.WebSession.expires_at < now or not row.Staff.active:
            return None
        org = await org_chart(session, request.app[SETTINGS].hotline_codes)
    return identity_of(row.Staff, org), row.WebSession.csrf_token


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        identity = await _from_bearer(request, auth[7:].strip())
        if identity is None:
            raise web.HTTPUnauthorized(reason="unknown, revoked or expired API token")
        request[IDENTITY] = identity
        return await handler(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = await _from_cookie(request, cookie)
        if found is not None:
            request[IDENTITY], request[CSRF] = found
            if request.method in UNSAFE:
                await _check_session_csrf(request, found[1])
    return await handler(request)


async def _check_session_csrf(request: web.Request, expected: str) -> None:
    sent = request.headers.get("X-CSRF-Token")
    if sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sent = str((await request.post()).get("csrf_token", ""))
    if not sent or not hmac.compare_digest(sent, expected):
        raise web.HTTPForbidden(reason="missing or wrong CSRF token; reload the page")


def current(request: web.Request) -> Identity:
    identity = request.get(IDENTITY)
    if identity is None:
        raise web.HTTPUnauthorized(reason="log in first (session cookie or Bearer token)")
    return identity  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Access:
    """A route's rule: who may call it (declared once, on the handler)."""

    roles: frozenset[Role] = frozenset()  # empty with login: any logged-in staff member
    login: bool = True  # False: anyone, no login (`public`)
    admin: bool = True  # an admin passes whatever the roles
    why: str = ""  # for public routes: what protects them instead

    def allows(self, identity: Identity | None) -> bool:
        if not self.login:
            return True
        if identity is None:
            return False
        if not self.roles:
            return True
        if self.admin and Role.ADMIN in identity.roles:
            return True
        return bool(self.roles & identity.roles)

    def describe(self) -> str:
        if not self.login:
            return f"public ({self.why})"
        if not self.roles:
            return "any logged-in staff"
        names = sorted(r.value for r in self.roles) + (["admin"] if self.admin else [])
        return " or ".join(dict.fromkeys(names))


ACCESS_ATTR = "__access__"


def access_of(route: web.AbstractRoute) -> Access | None:
    """The rule declared for `route` (static files are public); None if it declares none."""
    if isinstance(route.resource, web.StaticResource):
        return Access(login=False, why="static files")
    return getattr(route.handler, ACCESS_ATTR, None)


async def _store_refusal(request: web.Request, identity: Identity, reason: str) -> None:
    """A refused change is audited (one row, its own transaction); reads are not."""
    if request.method not in UNSAFE:
        return
    route = request.match_info.route.resource
    action = f"{request.method} {route.canonical if route is not None else request.path}"
    async with request.app[DB].sessions() as session:
        session.add(AccessRefusal(
            at=request.app[CLOCK](), staff_id=identity.staff_id, actor=identity.label,
            action=action[:80], subject=request.path[:80], reason=reason))
        await session.commit()


def requires(*roles: Role, admin: bool = True) -> Callable[[Handler], Handler]:
    """Route decorator: the caller must be logged in and hold one of `roles`
    (any logged-in staff when none are given; admin passes unless `admin=False`)."""
    rule = Access(frozenset(roles), login=True, admin=admin)

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            identity = request.get(IDENTITY)
            if identity is None:
                if request.path.startswith("/api/"):
                    raise web.HTTPUnauthorized(reason="log in first (session cookie or Bearer token)")
                raise web.HTTPFound(f"/login?next={quote(request.path_qs)}")
            if not rule.allows(identity):
                reason = "this needs one of the roles: " + rule.describe()
                await _store_refusal(request, identity, reason)
                raise web.HTTPForbidden(reason=reason, headers={"X-Access-Denied": "role"})
            return await handler(request)

        setattr(guarded, ACCESS_ATTR, rule)
        return guarded

    return wrap


def public(why: str) -> Callable[[Handler], Handler]:
    """Route decorator: no login needed; `why` says what protects the route instead."""

    def wrap(handler: Handler) -> Handler:
        setattr(handler, ACCESS_ATTR, Access(login=False, why=why))
        return handler

    return wrap


# -- anonymous forms: signed double-submit token -------------------------------------------


def _sign(request: web.Request, nonce: str) -> str:
    key = request.app[SETTINGS].secret_key.get_secret_value().encode()
    return nonce + "." + hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()[:32]


def form_token(request: web.Request, response: web.StreamResponse) -> str:
    nonce = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(16)
    response.set_cookie(
        FORM_COOKIE, nonce, httponly=True, samesite="Strict", secure=request.app[SETTINGS].secure_cookies
    )
    return _sign(request, nonce)


def check_form_token(request: web.Request, sent: str | None) -> bool:
    nonce = request.cookies.get(FORM_COOKIE)
    if not nonce or not sent:
        return False
    return hmac.compare_digest(_sign(request, nonce), sent)


# -- login / logout ---------------------------------------------------------------------------

LOGIN_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 · Hotline</title><link rel="stylesheet" href="/static/app.css"></head>
<body class="login"><main><h1>Hotline</h1>{error}
<form method="post" action="/login"><input type="hidden" name="csrf_token" value="{token}">
<input type="hidden" name="next" value="{next}">
<label>用户名 Username <input name="username" autocomplete="username" required autofocus></label>
<label>密码 Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">登录 Log in</button></form></main></body></html>"""


@public("the login form (signed double-submit token)")
async def login_page(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    response = web.Response(status=status, content_type="text/html")
    token = form_token(request, response)
    err = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    response.text = LOGIN_PAGE.format(
        error=err, token=html.escape(token), next=html.escape(safe_next(request.query.get("next")))
    )
    return response


@public("the login form (signed double-submit token)")
async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    if not check_form_token(request, str(form.get("csrf_token", ""))):
        return await login_page(request, "表单已过期，请重试 (form expired, try again)", 403)
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    attempt = await login_limits.begin(request, username)
    if attempt.locked:
        return await login_page(request, attempt.locked, 429)
    async with request.app[DB].sessions() as session:
        staff = await session.scalar(select(Staff).where(Staff.username == username))
    # one argon2 check off the loop whoever asks (unknown, inactive and wrong look alike),
    # holding no database connection while it waits for a worker thread
    matches = await cpu_pool(request.app).run(
        verify_password, staff.password_hash if staff is not None else None, password)
    if staff is None or not staff.active or not matches:
        return await login_page(request, "用户名或密码错误 (wrong username or password)", 401)
    await login_limits.succeeded(request, attempt)
    now = request.app[CLOCK]()
    cookie = secrets.token_urlsafe(32)
    async with request.app[DB].sessions() as session:
        session.add(
            WebSession(
                id=sha256(cookie),
                staff_id=staff.id,
                csrf_token=secrets.token_urlsafe(24),
                created_at=now,
                expires_at=now + SESSION_TTL,
            )
        )
        await session.commit()
    response = web.HTTPFound(safe_next(str(form.get("next", ""))))
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="Lax",
        secure=request.app[SETTINGS].secure_cookies,
        max_age=int(SESSION_TTL.total_seconds()),
    )
    raise response


@public("ends the caller's own session, if any")
async def logout(request: web.Request) -> web.StreamResponse:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        async with request.app[DB].sessions() as session:
            row = await session.get(WebSession, sha256(cookie))
            if row is not None:
                await session.delete(row)
                await session.commit()
    response = web.HTTPFound("/login")
    response.del_cookie(SESSION_COOKIE)
    raise response


@requires()
async def whoami(request: web.Request) -> web.Response:
    identity = current(request)
    body: dict[str, Any] = {
        "staff_id": identity.staff_id,
        "username": identity.username,
        "name": identity.name,
        "roles": sorted(r.value for r in identity.roles),
        "department_id": identity.department_id,
        "csrf_token": request.get(CSRF),
    }
    return web.json_response(body, dumps=_dumps)


def _dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False, default=str)


def setup(app: web.Application) -> None:
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/api/me", whoami)
