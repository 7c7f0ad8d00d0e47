"""Screen-pop over real WebSockets: the card reaches the offered agent, whatever the carrier."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from callcenter.app import create_app
from callcenter.appkeys import DB
from callcenter.clock import FixedClock
from callcenter.screenpop import (
    CallOffer,
    agent_keys,
    call_answered,
    call_ended,
    offer_call,
    service,
)
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from tests import factories
from tests.conftest import Served, free_port
from tests.crm_api.conftest import People

AT = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)


def offer(agent: str = "PJSIP/1001", number: str = "13800138000", call_id: str = "1747533600.1",
          carrier: str = "asterisk") -> CallOffer:
    return CallOffer(carrier, call_id, number, agent, "hotline-agents", "main>complaint>repair_quality", AT)


async def socket(http: aiohttp.ClientSession, base: str, token: str) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(base + "/agent/ws", headers={"Authorization": f"Bearer {token}"})
    hello = await ws.receive_json(timeout=5)
    assert hello["type"] == "state"
    return ws


async def next_of(ws: aiohttp.ClientWebSocketResponse, kind: str, wait: float = 5) -> dict[str, Any]:
    while True:
        msg = await ws.receive_json(timeout=wait)
        if msg["type"] == kind:
            return msg  # type: ignore[no-any-return]


@pytest.mark.parametrize("agent", ["1001", "PJSIP/1001", "SIP/1001-0000002a", "Local/1001@agents/n", "client:agent-a", "agent-a"])
def test_carrier_agent_names_reduce_to_the_extension_or_username(agent: str) -> None:
    assert agent_keys(agent)[-1] in ("1001", "agent-a")


async def test_offered_agent_gets_the_card_with_name_and_why_they_called(
    served: Served, people: People, db: Database, http: aiohttp.ClientSession
) -> None:
    await factories.customer(db, "张三", department_id=people.dept_a)
    ws_a = await socket(http, served.base_url, people.tokens["agent_a"])
    ws_b = await socket(http, served.base_url, people.tokens["agent_b"])
    await offer_call(served.app, offer("Local/1001@agents"))
    pop = await next_of(ws_a, "offer")
    assert pop["card"]["customer"]["name"] == "张三" and not pop["loading"]
    assert pop["ivr_label"] == "complaint / repair quality"
    with pytest.raises(asyncio.TimeoutError):
        await ws_b.receive_json(timeout=0.3)


async def test_twilio_client_identity_reaches_the_agent(
    served: Served, people: People, db: Database, http: aiohttp.ClientSession
) -> None:
    await factories.customer(db, "张三", department_id=people.dept_a)
    ws = await socket(http, served.base_url, people.tokens["agent_a"])
    await offer_call(served.app, offer("client:agent-a", "+8613800138000", "CA0001", "twilio"))
    assert (await next_of(ws, "offer"))["card"]["customer"]["name"] == "张三"


async def test_unknown_caller_pops_an_unverified_card(
    served: Served, people: People, http: aiohttp.ClientSession
) -> None:
    ws = await socket(http, served.base_url, people.tokens["agent_a"])
    await offer_call(served.app, offer(number="13900139000"))
    pop = await next_of(ws, "offer")
    assert pop["card"]["unknown_caller"] and pop["customer_id"]


async def test_reconnecting_browser_gets_the_current_offer_again(
    served: Served, people: People, db: Database, http: aiohttp.ClientSession
) -> None:
    await factories.customer(db, "张三", department_id=people.dept_a)
    ws = await socket(http, served.base_url, people.tokens["agent_a"])
    await offer_call(served.app, offer())
    await next_of(ws, "offer")
    await ws.close()
    await service(served.app).settle()
    service(served.app).hub.current.clear()  # as if another process: only the database knows
    again = await http.ws_connect(served.base_url + "/agent/ws",
                                  headers={"Authorization": f"Bearer {people.tokens['agent_a']}"})
    state = await again.receive_json(timeout=5)
    assert state["status"] == "ringing"
    assert state["offer"]["card"]["customer"]["name"] == "张三"


async def test_answer_then_hangup_leaves_the_agent_in_wrap_up(
    served: Served, people: People, db: Database, http: aiohttp.ClientSession
) -> None:
    await factories.customer(db, "张三", department_id=people.dept_a)
    ws = await socket(http, served.base_url, people.tokens["agent_a"])
    await offer_call(served.app, offer())
    await next_of(ws, "offer")
    await call_answered(served.app, "asterisk", "1747533600.1", "PJSIP/1001")
    assert (await next_of(ws, "answered"))["status"] == "on_call"
    await call_ended(served.app, "asterisk", "1747533600.1")
    assert (await next_of(ws, "ended"))["status"] == "wrap_up"


async def test_offer_for_an_unknown_agent_with_nobody_ready_is_dropped_quietly(
    served: Served, people: People
) -> None:
    assert await service(served.app).offer(offer("PJSIP/7777")) == []


async def test_twilio_group_identity_pops_on_every_ready_agent(
    served: Served, people: People, db: Database, http: aiohttp.ClientSession
) -> None:
    await factories.customer(db, "张三", department_id=people.dept_a)
    ws_a = await socket(http, served.base_url, people.tokens["agent_a"])
    await ws_a.send_json({"type": "status", "status": "ready"})
    await next_of(ws_a, "status")
    delivered = await service(served.app).offer(offer("client:agents", call_id="CA77", carrier="twilio"))
    assert delivered == [people.agent_a]
    assert (await next_of(ws_a, "offer"))["card"]["customer"]["name"] == "张三"


@contextlib.asynccontextmanager
async def database_held(db: Database) -> Any:
    """Make the customer tables wait: a writer holds SQLite; PostgreSQL locks the phones table."""
    if db.dialect == "sqlite":
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                await conn.exec_driver_sql("ROLLBACK")
    else:
        dsn = db.url.replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(dsn)
        tx = conn.transaction()
        await tx.start()
        await conn.execute("LOCK TABLE customer_phones IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            await tx.rollback()
            await conn.close()


async def test_slow_database_pops_loading_then_the_card(
    served: Served, people: People, http: aiohttp.ClientSession
) -> None:
    pop = service(served.app)
    pop.deadline_s = 0.3
    await pop.resolve_agent("PJSIP/1001")  # staff cached, as after the first call of the day
    ws = await socket(http, served.base_url, people.tokens["agent_a"])
    async with database_held(served.app[DB]):
        started = asyncio.get_running_loop().time()
        await offer_call(served.app, offer(number="13900139000"))
        first = await next_of(ws, "offer")
        assert first["loading"] and first["caller_number"] == "13900139000"
        assert asyncio.get_running_loop().time() - started < 1.0
        await asyncio.sleep(0.5)
    card = await next_of(ws, "card", wait=15)
    assert card["card"]["unknown_caller"] and not card["loading"]


async def test_offer_in_one_process_reaches_the_agent_connected_to_another(
    pg_url: str, tmp_path: Any, http: aiohttp.ClientSession
) -> None:
    db_one, db_two = Database.open(pg_url), Database.open(pg_url)
    dept = await factories.department(db_one, "SVC")
    agent = await factories.staff(db_one, "agent-x", ["agent"], dept.id, extension="2001")
    await factories.customer(db_one, "张三", department_id=dept.id)
    from tests.crm_api.conftest import token_for

    token = await token_for(db_one, agent.id, "x")
    settings = Settings(database_url=pg_url, job_loop_enabled=False, fastagi_enabled=False,
                        ami_enabled=False, log_json=False, reports_dir=tmp_path)
    runners = []
    try:
        apps = []
        for db in (db_one, db_two):
            port = free_port()
            app = create_app(settings, db=db, clock=FixedClock(AT))
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            runners.append(runner)
            apps.append((app, f"http://127.0.0.1:{port}"))
        ws = await socket(http, apps[1][1], token)  # the browser is on process two
        await offer_call(apps[0][0], offer("PJSIP/2001"))  # the carrier event lands on process one
        pop = await next_of(ws, "offer")
        assert pop["card"]["customer"]["name"] == "张三"
        await ws.close()
    finally:
        for runner in runners:
            await runner.cleanup()
