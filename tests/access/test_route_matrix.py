"""Every route of the app, walked from its router, tried by every role on a real port.

Each route declares its rule once (`@requires(...)` / `@public(...)` on its
handler, read back by `callcenter.web.auth.access_of`). This test takes the
routes from `app.router` itself (so a new route is covered the day it is
added, and one without a declaration fails here), and for every role
(agent, technician, callback staff, the scored department's manager,
another department's manager, a supervisor, an admin, anonymous) and both
ways of logging in (bearer token, session cookie with its CSRF token) checks:

- public: nobody is sent to log in or refused by the role gate;
- logged-in only: anonymous gets 401 (API) or a redirect to /login (pages);
- allowed by the rule: never 401, never the gate's refusal (`X-Access-Denied`);
- not allowed: 403 with `X-Access-Denied: role`, and a refused change is
  stored in `access_refusals`.

What happens past the gate (404 for an unknown id, 422 for an empty body,
403 for another department's row) is the use cases' business and has its
own tests.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from callcenter.appkeys import DB
from callcenter.storage.tables import AccessRefusal
from callcenter.web.auth import Access, access_of
from crm.enums import Role
from crm.identity import Identity
from tests.access.people import Org, log_in, org
from tests.conftest import Served

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
SAMPLES = ("1", "daily", "+8613800138000")  # a value that fits each kind of path parameter


@dataclass(frozen=True)
class RouteCase:
    method: str
    path: str
    rule: Access

    @property
    def page(self) -> bool:
        return not self.path.startswith("/api/")


def concrete_path(resource: web.AbstractResource) -> str:
    info = resource.get_info()
    if "prefix" in info:  # static files
        return str(info["prefix"]) + "/app.css"
    if "path" in info:
        return str(info["path"])
    pattern: re.Pattern[str] = info["pattern"]
    path = str(info["formatter"])
    for name in re.findall(r"{(\w+)}", path):
        for sample in SAMPLES:
            trial = path.replace("{" + name + "}", sample, 1)
            rest = re.sub(r"{\w+}", "1", trial)
            if pattern.fullmatch(rest):
                path = trial
                break
        else:
            raise AssertionError(f"no sample value fits {{{name}}} in {info['formatter']}")
    assert pattern.fullmatch(path), path
    return path


def routes(app: web.Application) -> list[RouteCase]:
    cases = []
    undeclared = []
    for route in app.router.routes():
        rule = access_of(route)
        name = f"{route.method} {route.resource.canonical if route.resource else '?'}"
        if rule is None:
            undeclared.append(name)
            continue
        assert route.resource is not None
        cases.append(RouteCase(route.method, concrete_path(route.resource), rule))
    assert not undeclared, f"routes without a declared access rule: {undeclared}"
    # log-out ends the session the cookie rows use: walk it last
    return sorted(cases, key=lambda c: c.path == "/logout")


def identity(people: Org, key: str) -> Identity:
    p = people.people[key]
    return Identity(p.staff_id, p.username, p.username, frozenset(Role(r) for r in p.roles),
                    p.department_id)


@dataclass
class Caller:
    key: str
    session: aiohttp.ClientSession
    headers: dict[str, str]
    csrf: str | None = None


@pytest.fixture
async def callers(served: Served) -> AsyncIterator[tuple[Org, list[Caller]]]:
    people = await org(served.app[DB])
    plain = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    made: list[Caller] = [Caller("anonymous", plain, {})]
    sessions = [plain]
    for key, person in people.people.items():
        made.append(Caller(f"{key}/token", plain, {"Authorization": f"Bearer {person.token}"}))
        session, csrf = await log_in(served.base_url, person.username)
        sessions.append(session)
        made.append(Caller(f"{key}/cookie", session, {}, csrf))
    try:
        yield people, made
    finally:
        for s in sessions:
            await s.close()


async def _try(base: str, case: RouteCase, caller: Caller, *, csrf: bool = True) -> tuple[int, str, str]:
    headers = dict(caller.headers)
    kwargs: dict[str, object] = {}
    if case.method in UNSAFE:
        kwargs["json"] = {}
        if caller.csrf and csrf:
            headers["X-CSRF-Token"] = caller.csrf
    async with caller.session.request(case.method, base + case.path, headers=headers,
                                      allow_redirects=False, **kwargs) as resp:  # type: ignore[arg-type]
        await resp.read()
        return resp.status, resp.headers.get("X-Access-Denied", ""), resp.headers.get("Location", "")


async def test_every_route_answers_every_role_as_its_declared_rule_says(
    served: Served, callers: tuple[Org, list[Caller]]
) -> None:
    people, everyone = callers
    cases = routes(served.app)
    assert len(cases) > 60  # the whole app, not a stub
    wrong: list[str] = []
    refused_changes = 0
    for case in cases:
        for caller in everyone:
            who = caller.key.split("/")[0]
            person = None if who == "anonymous" else identity(people, who)
            status, denied, location = await _try(served.base_url, case, caller)
            sent_to_login = status == 302 and location.startswith("/login?next=")  # the gate
            where = f"{case.method} {case.path} as {caller.key}: {status} {denied} {location}"
            if not case.rule.login:
                if status == 401 or sent_to_login or denied:
                    wrong.append("public route refused: " + where)
            elif person is None:
                if case.page and not sent_to_login:
                    wrong.append("anonymous not sent to log in: " + where)
                if not case.page and status != 401:
                    wrong.append("anonymous not 401: " + where)
            elif case.rule.allows(person):
                if status == 401 or denied or sent_to_login:
                    wrong.append(f"allowed ({case.rule.describe()}) but refused: " + where)
            else:
                if status != 403 or denied != "role":
                    wrong.append(f"not allowed ({case.rule.describe()}) but let through: " + where)
                elif case.method in UNSAFE:
                    refused_changes += 1
    assert not wrong, "\n".join(wrong[:40]) + f"\n({len(wrong)} in all)"
    async with served.app[DB].sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(AccessRefusal))
    assert refused_changes > 0 and stored == refused_changes


async def test_a_cookie_session_changes_nothing_without_its_csrf_token(
    served: Served, callers: tuple[Org, list[Caller]]
) -> None:
    people, everyone = callers
    wrong = []
    for case in routes(served.app):
        if case.method not in UNSAFE or not case.rule.login:
            continue
        allowed = [c for c in everyone if c.key.endswith("/cookie")
                   and case.rule.allows(identity(people, c.key.split("/")[0]))]
        for caller in allowed[:1]:
            status, denied, _ = await _try(served.base_url, case, caller, csrf=False)
            if status != 403 or denied:
                wrong.append(f"{case.method} {case.path} as {caller.key} without CSRF: {status}")
    assert not wrong, "\n".join(wrong)


async def test_supervisors_read_the_refused_attempts(
    served: Served, callers: tuple[Org, list[Caller]]
) -> None:
    people, everyone = callers
    agent = next(c for c in everyone if c.key == "agent/token")
    supervisor = next(c for c in everyone if c.key == "supervisor/token")
    async with agent.session.post(served.base_url + "/api/reports/runs", json={},
                                  headers=agent.headers) as resp:
        assert resp.status == 403
    async with supervisor.session.get(served.base_url + "/api/reports/refusals?limit=5",
                                      headers=supervisor.headers) as resp:
        assert resp.status == 200
        rows = (await resp.json())["refusals"]
    assert rows[0]["staff_id"] == people.people["agent"].staff_id
    assert rows[0]["action"] == "POST /api/reports/runs" and "supervisor" in rows[0]["reason"]
