"""`/api/contacts` and `/api/wrap-up`: record every contact; the agent's wrap-up after a call."""

from __future__ import annotations

from callcenter.appkeys import SCREENPOP, SERVICES
from callcenter.complaints.policy import complaint_policy
from callcenter.web.api.routing import ApiCall, api
from callcenter.web.api.schemas import ContactCreate, CreatedOut, WrapUpIn, WrapUpOut
from crm.access import CONTACT_WRITERS
from crm.enums import Role
from crm.services import contacts as svc
from crm.services.calls import UnknownCall
from crm.services.customers import ContactDraft

WRITERS = CONTACT_WRITERS  # the use cases check the same tuple


@api("POST", "/api/contacts", summary="Record a contact (call, visit, note, form)", roles=WRITERS,
     tag="contacts", body=ContactCreate, response=CreatedOut, status=201)
async def create(call: ApiCall) -> CreatedOut:
    body: ContactCreate = call.body
    draft = ContactDraft(**{**body.model_dump(), "at": body.at or call.now()})
    return CreatedOut(id=await svc.record_contact(draft, call.uow(), identity=call.identity))


@api("POST", "/api/wrap-up", summary="Save the agent's wrap-up: disposition, notes, optional "
     "complaint and latent need (becomes a lead)", roles=(Role.AGENT, Role.MANAGER, Role.CALLBACK_STAFF),
     tag="contacts", body=WrapUpIn, response=WrapUpOut, status=201)
async def wrap_up(call: ApiCall) -> WrapUpOut:
    body: WrapUpIn = call.body
    call_id = body.call_id
    if call_id is None and body.carrier and body.carrier_call_id:
        uow = call.uow()
        async with uow:
            found = await uow.calls.by_carrier_id(body.carrier, body.carrier_call_id)
        call_id = found.id if found is not None else None
    elif call_id is not None:
        uow = call.uow()
        async with uow:
            if await uow.calls.get(call_id) is None:
                raise UnknownCall(f"no call {call_id}")
    need = body.latent_need
    complaint = body.complaint
    cmd = svc.WrapUp(
        customer_id=body.customer_id, disposition=body.disposition, notes=body.notes,
        subject=body.subject, call_id=call_id,
        latent_need=svc.LatentNeed(**need.model_dump()) if need else None,
        complaint=svc.ComplaintRequest(**complaint.model_dump()) if complaint else None,
    )
    result = await svc.wrap_up(
        cmd, call.uow(), at=call.now(), identity=call.identity,
        complaint_policy=complaint_policy(call.settings),
    )
    pop = call.request.app[SERVICES].get(SCREENPOP)
    if pop is not None:
        await pop.clear_offer(call.identity.staff_id)
    return WrapUpOut.model_validate(result, from_attributes=True)
