"""`/api/agent/*` and `/api/staff`: the agent's own status and the people leads can go to."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.appkeys import DB
from callcenter.screenpop import AgentStatus, service
from callcenter.storage.tables import Staff
from callcenter.web.api.routing import ApiCall, api
from callcenter.web.api.schemas import AgentStateOut, AgentStatusIn, Page, StaffOut
from crm.enums import Role

AGENTS = (Role.AGENT, Role.MANAGER)


@api("GET", "/api/agent/state", summary="My status and the call currently offered to me",
     roles=AGENTS, tag="agent", response=AgentStateOut)
async def state(call: ApiCall) -> AgentStateOut:
    status, offer = await service(call.request.app).state_of(call.identity.staff_id)
    return AgentStateOut(staff_id=call.identity.staff_id, status=status, current_offer=offer)


@api("POST", "/api/agent/status", summary="Mark myself ready / not ready", roles=AGENTS,
     tag="agent", body=AgentStatusIn, response=AgentStateOut)
async def set_status(call: ApiCall) -> AgentStateOut:
    body: AgentStatusIn = call.body
    pop = service(call.request.app)
    await pop.set_status(call.identity.staff_id, AgentStatus(body.status))
    status, offer = await pop.state_of(call.identity.staff_id)
    return AgentStateOut(staff_id=call.identity.staff_id, status=status, current_offer=offer)


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
