"""`/api/agent/*` and `/api/staff`: the agent's own status and the people leads can go to."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.appkeys import DB, SETTINGS
from callcenter.screenpop import service
from callcenter.storage.tables import Staff
from callcenter.web.api.routing import ApiCall, api
from callcenter.web.api.schemas import (
    AgentHoldIn,
    AgentStateOut,
    AgentStatusIn,
    AgentTransferIn,
    Page,
    StaffOut,
)
from crm.agent_states import normalise_reasons, requested_state
from crm.enums import Role

AGENTS = (Role.AGENT, Role.MANAGER)


def _reasons(call: ApiCall) -> tuple[str, ...]:
    return normalise_reasons(call.request.app[SETTINGS].agent_not_ready_reasons.split(","))


async def _state_out(call: ApiCall) -> AgentStateOut:
    pop = service(call.request.app)
    status, offer = await pop.state_of(call.identity.staff_id)
    return AgentStateOut(staff_id=call.identity.staff_id, status=status,
                         reason=await pop.reason_of(call.identity.staff_id),
                         reasons=list(_reasons(call)), current_offer=offer)


@api("GET", "/api/agent/state", summary="My status, the not-ready reasons and my current call",
     roles=AGENTS, tag="agent", response=AgentStateOut)
async def state(call: ApiCall) -> AgentStateOut:
    return await _state_out(call)


@api("POST", "/api/agent/status",
     summary="Log out, go ready, or go not ready with a reason (ends a wrap-up early)",
     roles=AGENTS, tag="agent", body=AgentStatusIn, response=AgentStateOut)
async def set_status(call: ApiCall) -> AgentStateOut:
    body: AgentStatusIn = call.body
    wanted = requested_state(body.status, body.reason, _reasons(call))  # 422, nothing changed
    await service(call.request.app).set_status(call.identity.staff_id, wanted.state, wanted.reason)
    return await _state_out(call)


@api("POST", "/api/agent/hold", summary="Put my current call on hold, or take it off hold "
     "(the hold time is the call's, in its AHT; on Twilio the carrier is asked and the state "
     "follows its hold event)", roles=AGENTS, tag="agent", body=AgentHoldIn,
     response=AgentStateOut)
async def hold(call: ApiCall) -> AgentStateOut:
    body: AgentHoldIn = call.body
    await service(call.request.app).hold_own_call(call.identity.staff_id, body.on)  # 422: no call
    return await _state_out(call)


@api("POST", "/api/agent/transfer", summary="Hand my current caller on to another queue "
     "(Twilio; the call keeps one record with a segment per queue); I go to wrap-up",
     roles=AGENTS, tag="agent", body=AgentTransferIn, response=AgentStateOut)
async def transfer(call: ApiCall) -> AgentStateOut:
    body: AgentTransferIn = call.body
    await service(call.request.app).transfer_own_call(call.identity.staff_id, body.queue)
    return await _state_out(call)


@api("POST", "/api/agent/dismiss", summary="Close the current offer without a wrap-up",
     roles=AGENTS, tag="agent", response=None, status=204)
async def dismiss(call: ApiCall) -> None:
    await service(call.request.app).clear_offer(call.identity.staff_id)


@api("GET", "/api/staff", summary="Active staff (to name a lead's follow-up person)",
     roles=(), tag="agent", query=Page, response=list[StaffOut])
async def staff(call: ApiCall) -> list[StaffOut]:
    q: Page = call.query
    async with call.request.app[DB].sessions() as session:
        rows = await session.scalars(
            select(Staff).where(Staff.active.is_(True)).order_by(Staff.name)
            .limit(q.limit).offset(q.offset)
        )
        return [StaffOut(staff_id=r.id, name=r.name, department_id=r.department_id,
                         roles=list(r.roles or [])) for r in rows]
