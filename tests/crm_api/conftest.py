"""Fixtures for the API tests: two departments, their agents, and bearer tokens for each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from callcenter.storage.engine import Database
from callcenter.storage.tables import ApiToken
from callcenter.web.auth import sha256
from tests import factories
from tests.conftest import Served


@dataclass
class People:
    dept_a: int
    dept_b: int
    agent_a: int
    agent_b: int
    supervisor: int
    admin: int
    tokens: dict[str, str]


async def token_for(db: Database, staff_id: int, name: str) -> str:
    token = f"tok-{name}-{staff_id}"
    await factories.add(db, ApiToken(staff_id=staff_id, name=name, token_hash=sha256(token)))
    return token


@pytest.fixture
async def people(db: Database) -> People:
    a = await factories.department(db, "SVC-A")
    b = await factories.department(db, "SVC-B")
    agent_a = await factories.staff(db, "agent-a", ["agent"], a.id, name="王坐席", extension="1001")
    agent_b = await factories.staff(db, "agent-b", ["agent"], b.id, name="李坐席", extension="1002")
    sup = await factories.staff(db, "sup", ["supervisor"], None, name="监察")
    admin = await factories.staff(db, "admin", ["admin"], None, name="管理员")
    tokens = {}
    for key, row in (("agent_a", agent_a), ("agent_b", agent_b), ("supervisor", sup), ("admin", admin)):
        tokens[key] = await token_for(db, row.id, key)
    return People(a.id, b.id, agent_a.id, agent_b.id, sup.id, admin.id, tokens)


class Api:
    """A bearer-token client for one staff member against the served app."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session, self.base, self.token = session, base, token

    async def call(self, method: str, path: str, *, json: object = None, data: bytes | str | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, object]:
        h = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        async with self.session.request(method, self.base + path, json=json, data=data, headers=h) as resp:
            body = await resp.text()
            try:
                parsed: object = await resp.json(content_type=None) if body else None
            except ValueError:
                parsed = body
            return resp.status, parsed


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def as_(served: Served, people: People, http: aiohttp.ClientSession):  # type: ignore[no-untyped-def]
    def make(who: str) -> Api:
        return Api(http, served.base_url, people.tokens[who])

    return make
