"""Lead capture as seed 004 asks (服务营销): the signed proposal, the finder's payable credit,
reminders to the follow-up person.

Guarantees:
- `propose_configuration` writes the second form, the targeted configuration
  proposal (针对性合理配置建议), on an unfinished lead; a changed proposal loses
  its sign-off. `sign_proposal` is the service head's signature: only a
  manager may sign, and only a proposal that exists (售服部经理签字).
- `payable_credits` lists won leads whose finder's credit is not paid yet;
  `pay_credit` (a manager) marks one paid, once (待销售实现后立即兑现); never
  the finder himself nor someone he manages (`crm.access.credit_payer_refusal`):
  the refusal is stored in `access_refusals` and changes nothing.
- `remind_due_follow_ups` tells each unfinished lead's named follow-up
  person once per follow-up date that it has come (`lead_follow_up_due`
  notification); the compare-and-set on `reminded_for` makes it once
  however many job loops run. A new follow-up date (after a contact) is
  reminded again when it comes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from crm.access import credit_payer_refusal
from crm.enums import Role
from crm.errors import CrmError, aware_utc
from crm.identity import Identity, PermissionDenied
from crm.leads import LEAD_TRANSITIONS
from crm.services.leads import LeadRecord, _visible_lead
from crm.services.refusals import refuse

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
MAX_PROPOSAL = 10_000


class ProposalRefused(CrmError):
    """The lead is in no state for this (finished, nothing to sign, nothing owed)."""

    http_status = 409


class InvalidProposal(CrmError, ValueError):
    http_status = 422


async def _load(uow: UnitOfWork, lead_id: int, identity: Identity | None = None) -> LeadRecord:
    """The lead, if `identity` may read its customer (`crm.services.leads` department rule)."""
    return await _visible_lead(uow, lead_id, identity)


def _manager(identity: Identity, what: str) -> None:
    if not identity.has(Role.MANAGER):
        raise PermissionDenied(f"only the service head (a manager) may {what}")


async def propose_configuration(
    lead_id: int, proposal: str, uow: UnitOfWork, *, at: datetime, identity: Identity
) -> LeadRecord:
    """Write (or update) the lead's configuration proposal; it then awaits the head's signature."""
    text = proposal.strip()
    if not text:
        raise InvalidProposal("proposal: describe the configuration proposed to the customer")
    if len(text) > MAX_PROPOSAL:
        raise InvalidProposal(f"proposal: at most {MAX_PROPOSAL} characters")
    at = aware_utc(at, "at")
    async with uow:
        record = await _load(uow, lead_id, identity)
        if not LEAD_TRANSITIONS[record.lead.state]:
            raise ProposalRefused(f"lead {lead_id} is {record.lead.state}: no proposal on a finished lead")
        updated = replace(record, proposal=text, proposal_by_id=identity.staff_id, proposal_at=at,
                          proposal_signed_by_id=None, proposal_signed_at=None)
        await uow.leads.save(updated)
        await uow.commit()
    return updated


async def sign_proposal(lead_id: int, uow: UnitOfWork, *, at: datetime, identity: Identity) -> LeadRecord:
    """The service head signs the proposal (售服部经理签字)."""
    _manager(identity, "sign a configuration proposal")
    at = aware_utc(at, "at")
    async with uow:
        record = await _load(uow, lead_id, identity)
        if not record.proposal:
            raise ProposalRefused(f"lead {lead_id} has no configuration proposal to sign yet")
        if record.proposal_signed_at is not None:
            return record
        updated = replace(record, proposal_signed_by_id=identity.staff_id, proposal_signed_at=at)
        await uow.leads.save(updated)
        await uow.commit()
    return updated


async def _approves_for(uow: UnitOfWork, identity: Identity, customer_id: int) -> bool:
    """May `identity` see (and, a manager, approve) credits on this customer: the customer's
    department is theirs or one below theirs (the approval goes up the chain). Not the
    hotline's reach over every customer (`Identity.readable_departments`): a credit is no
    record needed to serve a caller."""
    if identity.sees_all_departments:
        return True
    customer = await uow.customers.get(customer_id)
    if customer is None or customer.department_id is None:
        return True
    if identity.department_id is None:
        return False
    return customer.department_id in await uow.complaints.department_subtree(identity.department_id)


async def payable_credits(uow: UnitOfWork, identity: Identity | None = None) -> list[LeadRecord]:
    """Won leads whose finder has not been paid the credit yet, oldest win first; only
    those whose customer `identity` may read (a manager: also the departments below)."""
    async with uow:
        found = await uow.leads.payable_credits()
        if identity is None:
            return found
        return [r for r in found if await _approves_for(uow, identity, r.lead.customer_id)]


async def pay_credit(lead_id: int, uow: UnitOfWork, *, at: datetime, identity: Identity) -> LeadRecord:
    """Mark the finder's credit paid (a manager other than the finder and not under him);
    paying twice changes nothing."""
    _manager(identity, "mark a finder's credit paid")
    at = aware_utc(at, "at")
    async with uow:
        record = await _load(uow, lead_id)
        if not await _approves_for(uow, identity, record.lead.customer_id):
            raise PermissionDenied(f"lead {lead_id} belongs to another department's customer")
        chain = (await uow.complaints.department_chain(identity.department_id)
                 if identity.department_id is not None else [])
        reason = credit_payer_refusal(
            identity, lead_id=lead_id, finder_id=record.lead.finder_id,
            payer_managers={link.manager_id for link in chain if link.manager_id is not None})
        if reason is not None:
            await refuse(uow, identity, "lead.credit.pay", f"lead:{lead_id}", reason, at)
        if record.credit_amount is None:
            raise ProposalRefused(f"lead {lead_id} owes no credit: it is not won, or nobody found it")
        if record.credit_paid_at is not None:
            return record
        updated = replace(record, credit_paid_at=at)
        await uow.leads.save(updated)
        await uow.commit()
    return updated


@dataclass(frozen=True, slots=True)
class Reminder:
    lead_id: int
    follower_id: int
    customer_id: int
    need: str
    follow_up_at: datetime


async def remind_due_follow_ups(uow: UnitOfWork, *, now: datetime) -> list[Reminder]:
    """Tell each due lead's follow-up person, once per follow-up date; returns those told now."""
    now = aware_utc(now, "now")
    async with uow:
        due = await uow.leads.due_unreminded(now)
    told: list[Reminder] = []
    for record in due:
        lead = record.lead
        if lead.follower_id is None or record.follow_up_at is None:
            continue
        async with uow:
            if not await uow.leads.mark_reminded(lead.lead_id, record.follow_up_at):
                continue  # another process told them
            reminder = Reminder(lead.lead_id, lead.follower_id, lead.customer_id, lead.need,
                                record.follow_up_at)
            await uow.leads.notify(lead.follower_id, "lead_follow_up_due", {
                "lead_id": lead.lead_id, "customer_id": lead.customer_id, "need": lead.need,
                "demand_level": lead.demand_level, "follow_up_at": record.follow_up_at.isoformat(),
            }, now)
            await uow.commit()
        told.append(reminder)
    if told:
        log.info("reminded %d lead follow-up(s)", len(told))
    return told
