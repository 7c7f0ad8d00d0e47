"""The people every access test uses: one of each role, the scored department and another.

Departments: HQ <- SVC (the department the surveys score, with a team SVC-N
below it), OTHER (another service department), CC (the call centre: agents,
callback staff), SUP (监察部), all below HQ. A supervisor and a callback staff
member placed in HQ sit in the scored department's management chain. Each person can log in (password) and has a
bearer token.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp

from callcenter.storage.engine import Database
from callcenter.storage.tables import ApiToken, Department
from callcenter.web.auth import sha256
from tests import factories
from tests.browser.login import login_cookies

# who -> (roles, department code); None: anonymous
ROLES: dict[str, tuple[list[str], str | None]] = {
    "agent": (["agent"], "CC"),
    "technician": (["technician"], "SVC-N"),
    "callback_staff": (["callback_staff"], "CC"),
    "scored_manager": (["manager"], "SVC"),
    "other_manager": (["manager"], "OTHER"),
    "supervisor": (["supervisor"], "SUP"),
    "inside_supervisor": (["supervisor"], "SVC-N"),  # a supervisor placed in the scored department
    # the management chain above the scored department (HQ manages SVC): a stake in its score
    "region_supervisor": (["supervisor"], "HQ"),
    "region_callback_staff": (["callback_staff"], "HQ"),
    "admin": (["admin"], "HQ"),
}


@dataclass
class Person:
    key: str
    staff_id: int
    username: str
    roles: list[str]
    department_id: int | None
    token: str


@dataclass
class Org:
    departments: dict[str, int]
    people: dict[str, Person] = field(default_factory=dict)


async def org(db: Database) -> Org:
    hq = await factories.department(db, "HQ")
    svc = await factories.department(db, "SVC", parent_id=hq.id)
    north = await factories.department(db, "SVC-N", parent_id=svc.id)
    other = await factories.department(db, "OTHER", parent_id=hq.id)
    cc = await factories.department(db, "CC", parent_id=hq.id)
    sup = await factories.department(db, "SUP", parent_id=hq.id)
    found = Org({"HQ": hq.id, "SVC": svc.id, "SVC-N": north.id, "OTHER": other.id, "CC": cc.id,
                 "SUP": sup.id})
    for key, (roles, dept) in ROLES.items():
        row = await factories.staff(db, key.replace("_", "-"), roles,
                                    found.departments[dept] if dept else None, with_password=True)
        token = f"cc_{key}_{row.id}"
        await factories.add(db, ApiToken(staff_id=row.id, name="test", token_hash=sha256(token)))
        found.people[key] = Person(key, row.id, row.username, roles, row.department_id, token)
    async with db.sessions() as session:  # the managers manage their departments
        for dept, who in (("SVC", "scored_manager"), ("OTHER", "other_manager")):
            row = await session.get(Department, found.departments[dept])
            assert row is not None
            row.manager_id = found.people[who].staff_id
        await session.commit()
    return found


async def log_in(base_url: str, username: str) -> tuple[aiohttp.ClientSession, str]:
    """A browser-like session logged in through the form; returns it and its CSRF token."""
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    return session, await login_cookies(session, base_url, username)
