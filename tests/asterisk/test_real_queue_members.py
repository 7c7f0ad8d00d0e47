"""Agent states drive the REAL Asterisk queue: QueueAdd / QueuePause / QueueRemove, read back
with QueueStatus, and a resync after an AMI reconnect fixes what changed behind our back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.appkeys import QUEUE_MEMBERS, SERVICES
from callcenter.screenpop import service as screenpop
from callcenter.storage.engine import Database
from callcenter.telephony.asterisk import ami_actions
from callcenter.telephony.asterisk.queue_members import QueueMembers
from crm.agent_states import AgentState
from tests import factories
from tests.asterisk.test_real_asterisk import (  # noqa: F401  (fixtures)
    RealAsterisk,
    Service,
    _service,
    asterisk,
    sqlite_db,
)

pytestmark = pytest.mark.asterisk
QUEUE = "hotline-agents"
MEMBER = "PJSIP/7001"


@pytest.fixture
async def service(asterisk: RealAsterisk, sqlite_db: Database,  # noqa: F811
                  tmp_path: Path) -> AsyncIterator[Service]:
    async for s in _service(asterisk, sqlite_db, tmp_path, fastagi=False):
        yield s


async def queue_member(service: Service, member: str = MEMBER) -> tuple[bool, bool, str] | None:
    """(member, paused, reason) of `member` (extension 7001) as Asterisk has it (QueueStatus)."""
    members = await service.app[SERVICES][QUEUE_MEMBERS].read_queue()
    assert members is not None
    found = members.get(member)
    return None if found is None else (found[0].member, found[0].paused, found[0].reason)


async def until_member(service: Service, wanted: tuple[bool, bool, str] | None,
                       member: str = MEMBER) -> None:
    for _ in range(50):  # up to ~10 s
        if (have := await queue_member(service, member)) == wanted:
            return
        await asyncio.sleep(0.2)
    assert have == wanted


async def test_going_ready_joins_the_queue_not_ready_pauses_with_the_reason_log_out_leaves(
        service: Service) -> None:
    agent = await factories.staff(service.db, "agent-q", ["agent"], None, extension="7001")
    pop = screenpop(service.app)
    assert await queue_member(service) is None
    await pop.set_status(agent.id, AgentState.READY)
    await until_member(service, (True, False, ""))
    await pop.set_status(agent.id, AgentState.NOT_READY, "training")
    await until_member(service, (True, True, "training"))
    await pop.set_status(agent.id, AgentState.READY)
    await until_member(service, (True, False, ""))
    await pop.set_status(agent.id, AgentState.LOGGED_OUT)
    await until_member(service, None)


async def test_after_an_ami_reconnect_the_queue_is_put_back_to_the_stored_states(
        service: Service) -> None:
    agent = await factories.staff(service.db, "agent-q", ["agent"], None, extension="7001")
    pop = screenpop(service.app)
    members: QueueMembers = service.app[SERVICES][QUEUE_MEMBERS]
    await pop.set_status(agent.id, AgentState.READY)
    await until_member(service, (True, False, ""))
    # the AMI link drops; the agent goes on a break meanwhile (the pause cannot be sent) ...
    await service.ami.close()
    await pop.set_status(agent.id, AgentState.NOT_READY, "break")
    status, _ = await pop.state_of(agent.id)
    assert status == "not_ready"  # stored, whatever the AMI did
    # ... and the link comes back: the login's resync pauses the member with the reason
    await service.ami.start()
    await service.ami.wait_connected(15)
    await until_member(service, (True, True, "break"))
    # someone unpauses the member behind our back: the next resync reports and fixes it
    answer = await service.ami.action(lambda aid: ami_actions.queue_pause(aid, QUEUE, MEMBER, False))
    assert answer.ok
    await until_member(service, (True, False, ""))
    report = await members.resync()
    assert (report.fixed, report.failed) == (1, 0)
    await until_member(service, (True, True, "break"))


@pytest.fixture
async def answering(asterisk: RealAsterisk, sqlite_db: Database,  # noqa: F811
                    tmp_path: Path) -> AsyncIterator[Service]:
    """The hotline with the agents' phones on the kit's simulated callee (a Local channel
    that answers and talks for a few seconds) and routing by agent state on."""
    async for s in _service(asterisk, sqlite_db, tmp_path, fastagi=True,
                            agent_interface="Local/{extension}@test-callee",
                            route_to_ready_agents=True, agent_wrap_up_s=1.0):
        yield s


async def test_a_ready_agents_phone_in_the_queue_answers_a_caller_on_real_asterisk(
        answering: Service) -> None:
    from sqlalchemy import select

    from callcenter.storage.tables import AgentStateSpan, Call

    service = answering
    agent = await factories.staff(service.db, "agent-q", ["agent"], None, extension="7009")
    await screenpop(service.app).set_status(agent.id, AgentState.READY)
    for _ in range(50):
        members = await service.app[SERVICES][QUEUE_MEMBERS].read_queue()
        if members and "Local/7009@test-callee" in members:
            break
        await asyncio.sleep(0.2)
    await service.caller("rt-agent", "0", tail_s=8)
    call = await service.call_over("rt-agent", within_s=60)
    assert call.answered_at is not None and call.agent_id == agent.id
    assert call.queue == "hotline-agents"
    spans: list[str] = []
    for _ in range(50):  # the wrap-up (1 s) ends and the agent is ready again
        await screenpop(service.app).settle()
        async with service.db.sessions() as session:
            spans = list((await session.scalars(select(AgentStateSpan.state).where(
                AgentStateSpan.staff_id == agent.id).order_by(AgentStateSpan.id))).all())
        if spans[-1:] == ["ready"] and "wrap_up" in spans:
            break
        await asyncio.sleep(0.2)
    assert spans[0] == "ready" and "on_call" in spans and spans[-2:] == ["wrap_up", "ready"]
    async with service.db.sessions() as session:
        stored = await session.scalar(select(Call).where(Call.carrier_call_id == "rt-agent"))
    assert stored is not None and stored.disposition == "answered"

