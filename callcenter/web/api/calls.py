"""`/api/calls` (read only: the call log belongs to the carriers) and `/api/calls/offer`."""

from __future__ import annotations

from dataclasses import asdict

from callcenter.cards import CallEntryOut
from callcenter.screenpop import CallOffer, service
from callcenter.web.api.routing import ApiCall, api
from callcenter.web.api.schemas import (
    CallDetailOut,
    CallEventOut,
    CallSearch,
    OfferIn,
    OfferOut,
)
from callcenter.web.errors import BadRequest
from crm.enums import Role
from crm.services import customers as customer_svc
from crm.services.calls import UnknownCall

READERS = (Role.AGENT, Role.CALLBACK_STAFF, Role.MANAGER, Role.SUPERVISOR)


@api("GET", "/api/calls", summary="A customer's calls, newest first", roles=READERS, tag="calls",
     query=CallSearch, response=list[CallEntryOut])
async def search(call: ApiCall) -> list[CallEntryOut]:
    q: CallSearch = call.query
    if q.customer_id is None:
        raise BadRequest("pass customer_id", [{"field": "customer_id", "message": "required"}])
    card = await customer_svc.customer_card(
        q.customer_id, call.uow(), identity=call.identity, history_limit=q.offset + q.limit
    )
    return [CallEntryOut.model_validate(c) for c in card.calls[q.offset:]]


@api("GET", "/api/calls/{call_id}", summary="One call with its timeline", roles=READERS,
     tag="calls", response=CallDetailOut)
async def get(call: ApiCall) -> CallDetailOut:
    call_id = call.path_id("call_id")
    uow = call.uow()
    async with uow:
        record = await uow.calls.get(call_id)
        if record is None:
            raise UnknownCall(f"no call {call_id}")
        events = await uow.calls.events(call_id)
    if record.customer_id is not None:
        await customer_svc.get_customer(record.customer_id, call.uow(), identity=call.identity)
    data = asdict(record)
    data["direction"] = record.direction.value
    data["disposition"] = record.disposition.value
    return CallDetailOut.model_validate({
        **data, "events": [CallEventOut(at=e.at, kind=e.kind, node=e.node, detail=e.detail)
                           for e in events],
    })


@api("POST", "/api/calls/offer", summary="Pop a call on an agent's screen (integrations, demo)",
     roles=(Role.ADMIN,), tag="calls", body=OfferIn, response=OfferOut)
async def offer(call: ApiCall) -> OfferOut:
    body: OfferIn = call.body
    pop = service(call.request.app)
    staff_ids = await pop.offer(CallOffer(
        carrier=body.carrier, carrier_call_id=body.carrier_call_id,
        caller_number=body.caller_number, agent=body.agent, queue=body.queue,
        ivr_path=body.ivr_path, at=body.at or call.now(),
    ))
    return OfferOut(delivered_to=staff_ids)
