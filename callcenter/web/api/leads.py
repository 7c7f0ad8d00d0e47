"""`/api/leads`: latent needs (004) followed up until won or lost; a win credits the finder."""

from __future__ import annotations

from callcenter.leads.policy import finder_credit_policy
from callcenter.web.api.routing import ApiCall, api
from callcenter.web.api.schemas import (
    LeadActionIn,
    LeadActionOut,
    LeadCreate,
    LeadOut,
    LeadProposalIn,
    LeadSearch,
)
from crm.access import LEAD_WRITERS
from crm.enums import Role
from crm.services import lead_capture as capture
from crm.services import leads as svc

READERS = (Role.AGENT, Role.TECHNICIAN, Role.CALLBACK_STAFF, Role.MANAGER, Role.SUPERVISOR)
WRITERS = LEAD_WRITERS  # the use cases check the same tuple


def lead_out(record: svc.LeadRecord) -> LeadOut:
    lead = record.lead
    return LeadOut(
        lead_id=lead.lead_id, customer_id=lead.customer_id, need=lead.need,
        equipment=record.equipment, demand_level=lead.demand_level, state=lead.state,
        found_by_id=lead.finder_id, assigned_to_id=lead.follower_id,
        follow_up_at=record.follow_up_at, won_at=record.won_at, notes=record.notes,
        proposal=record.proposal, proposal_by_id=record.proposal_by_id,
        proposal_signed_by_id=record.proposal_signed_by_id, proposal_signed_at=record.proposal_signed_at,
        order_value=record.order_value, credit_amount=record.credit_amount,
        credit_payable=record.credit_payable, credit_paid_at=record.credit_paid_at,
    )


@api("GET", "/api/leads", summary="Leads, by customer, follower or state", roles=READERS,
     tag="leads", query=LeadSearch, response=list[LeadOut])
async def search(call: ApiCall) -> list[LeadOut]:
    q: LeadSearch = call.query
    if q.customer_id is not None:  # another department's customer is 403, not an empty list
        from crm.services.customers import get_customer

        await get_customer(q.customer_id, call.uow(), identity=call.identity)
    found = await svc.list_leads(
        call.uow(), customer_id=q.customer_id, assigned_to_id=q.assigned_to_id, state=q.state,
        limit=q.limit, offset=q.offset, identity=call.identity,
    )
    return [lead_out(r) for r in found]


@api("POST", "/api/leads", summary="Record a latent need; you are credited as its finder",
     roles=WRITERS, tag="leads", body=LeadCreate, response=LeadOut, status=201)
async def create(call: ApiCall) -> LeadOut:
    body: LeadCreate = call.body
    new = svc.NewLead(
        customer_id=body.customer_id, need=body.need, demand_level=body.demand_level,
        follow_up_staff_id=body.follow_up_staff_id, found_by_id=call.identity.staff_id,
        equipment=body.equipment, notes=body.notes,
    )
    return lead_out(await svc.record_latent_need(new, call.uow(), at=call.now(), identity=call.identity))


@api("GET", "/api/leads/{lead_id}", summary="One lead", roles=READERS, tag="leads", response=LeadOut)
async def get(call: ApiCall) -> LeadOut:
    return lead_out(await svc.get_lead(call.path_id("lead_id"), call.uow(), call.identity))


@api("POST", "/api/leads/{lead_id}/actions", summary="contact / quote / win / lose a lead",
     roles=WRITERS, tag="leads", body=LeadActionIn, response=LeadActionOut)
async def act(call: ApiCall) -> LeadActionOut:
    body: LeadActionIn = call.body
    updated, credit = await svc.advance_lead(
        call.path_id("lead_id"), body.action, call.uow(), at=call.now(),
        closed_by=call.identity.staff_id, note=body.note, identity=call.identity,
        order_value=body.order_value, credit_policy=finder_credit_policy(call.settings),
    )
    return LeadActionOut(lead=lead_out(updated),
                         finder_credited_staff_id=credit.finder_id if credit else None,
                         finder_credit_amount=credit.amount if credit else None)


@api("POST", "/api/leads/{lead_id}/proposal", summary="Write the targeted configuration proposal (004)",
     roles=WRITERS, tag="leads", body=LeadProposalIn, response=LeadOut)
async def propose(call: ApiCall) -> LeadOut:
    lead_id = call.path_id("lead_id")
    body: LeadProposalIn = call.body
    return lead_out(await capture.propose_configuration(lead_id, body.proposal, call.uow(), at=call.now(),
                                                        identity=call.identity))


@api("POST", "/api/leads/{lead_id}/proposal/sign", summary="The service head signs the proposal",
     roles=(Role.MANAGER,), tag="leads", response=LeadOut)
async def sign(call: ApiCall) -> LeadOut:
    lead_id = call.path_id("lead_id")
    return lead_out(await capture.sign_proposal(lead_id, call.uow(), at=call.now(), identity=call.identity))


@api("GET", "/api/lead-credits", summary="Finders' credits payable (won leads not paid yet)",
     roles=(Role.MANAGER, Role.SUPERVISOR), tag="leads", response=list[LeadOut])
async def credits(call: ApiCall) -> list[LeadOut]:
    return [lead_out(r) for r in await capture.payable_credits(call.uow(), call.identity)]


@api("POST", "/api/lead-credits/{lead_id}/pay", summary="Mark a finder's credit paid",
     roles=(Role.MANAGER,), tag="leads", response=LeadOut)
async def pay(call: ApiCall) -> LeadOut:
    lead_id = call.path_id("lead_id")
    return lead_out(await capture.pay_credit(lead_id, call.uow(), at=call.now(), identity=call.identity))
