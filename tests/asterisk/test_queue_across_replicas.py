"""Scale-out, agent side: an agent whose browser is on a standby replica changes state; the
replica owning AMI follows it on the REAL Asterisk queue (through the screen-pop's
PostgreSQL fan-out), and the minute's queue resync runs only where the AMI client is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from callcenter.app import create_app
from callcenter.appkeys import AMI, QUEUE_MEMBERS, SERVICES
from callcenter.clock import system_clock
from callcenter.screenpop import service as screenpop
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from crm.agent_states import AgentState
from tests import factories
from tests.asterisk.test_real_asterisk import RealAsterisk, asterisk  # noqa: F401  (fixture)

pytestmark = pytest.mark.asterisk
MEMBER = "PJSIP/7002"


@pytest.fixture
async def replicas(asterisk: RealAsterisk, pg_url: str,  # noqa: F811
                   tmp_path: Path) -> AsyncIterator[tuple[web.AppRunner, web.AppRunner]]:
    settings = Settings(
        database_url=pg_url, fastagi_enabled=False, ami_enabled=True, ami_port=asterisk.ami_port,
        ami_secret=asterisk.ami_secret,  # type: ignore[arg-type]
        job_loop_enabled=False, recordings_dir=tmp_path / "recordings", log_json=False)
    owner = web.AppRunner(create_app(settings, clock=system_clock), access_log=None)
    standby = web.AppRunner(create_app(settings, clock=system_clock), access_log=None)
    await owner.setup()
    await standby.setup()
    try:
        assert AMI in owner.app[SERVICES] and AMI not in standby.app[SERVICES]
        await owner.app[SERVICES][AMI].wait_connected(15)
        yield owner, standby
    finally:
        await standby.cleanup()
        await owner.cleanup()


async def member(owner: web.AppRunner) -> tuple[bool, bool, str] | None:
    found = (await owner.app[SERVICES][QUEUE_MEMBERS].read_queue() or {}).get(MEMBER)
    return None if found is None else (found[0].member, found[0].paused, found[0].reason)


async def until_member(owner: web.AppRunner, wanted: tuple[bool, bool, str] | None) -> None:
    for _ in range(50):  # up to ~10 s
        if (have := await member(owner)) == wanted:
            return
        await asyncio.sleep(0.2)
    assert have == wanted


async def test_a_state_changed_on_a_standby_replica_drives_the_queue_through_the_owner(
        replicas: tuple[web.AppRunner, web.AppRunner], pg_url: str) -> None:
    owner, standby = replicas
    db = Database.open(pg_url)
    try:
        agent = await factories.staff(db, "agent-r", ["agent"], None, extension="7002")
    finally:
        await db.close()
    pop = screenpop(standby.app)  # the agent's browser is on the standby
    await pop.set_status(agent.id, AgentState.READY)
    await until_member(owner, (True, False, ""))
    await pop.set_status(agent.id, AgentState.NOT_READY, "lunch")
    await until_member(owner, (True, True, "lunch"))
    await pop.set_status(agent.id, AgentState.LOGGED_OUT)
    await until_member(owner, None)
