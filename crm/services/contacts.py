"""Contact use cases (000: record every contact) and the agent's wrap-up.

Guarantees:
- `record_contact` writes one contact (call, visit, note, form) for a customer
  the staff member may see.
- `wrap_up` leaves exactly one contact per call: it completes the contact the
  call log already wrote, or writes it (the call log then finds it and adds no
  second one). A wrap-up without a call is a `note` contact.
- A latent need in the wrap-up becomes a lead in the same transaction as the
  contact, assigned to the named follow-up person and crediting the agent who
  found it (004); the customer's equipment is updated when given.
- A complaint asked for in the wrap-up is opened after the contact is
  committed (its own transaction, `crm.services.complaints.open_complaint`) and
  then linked to the contact; if it fails, the contact and lead stay recorded
  and the error says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from crm.access import CONTACT_WRITERS
from crm.customers import NoSuchCustomer, WrapUpDisposition
from crm.enums import ComplaintCategory, ComplaintChannel, ContactKind
from crm.errors import CrmError, aware_utc
from crm.identity import Identity
from crm.services.complaints import Actor, ComplaintPolicy, OpenComplaint, open_complaint
from crm.services.customers import ContactDraft
from crm.services.leads import NewLead, add_lead_in
from crm.services.refusals import check_role, refuse

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class UnknownCallForContact(CrmError, LookupError):
    http_status = 404


class ComplaintNotOpened(CrmError):
    """The wrap-up was saved but the complaint could not be opened; open it from the card."""

    http_status = 409


@dataclass(frozen=True)
class LatentNeed:
    need: str
    demand_level: int
    follow_up_staff_id: int
    equipment: str | None = None


@dataclass(frozen=True)
class ComplaintRequest:
    category: ComplaintCategory
    description: str
    emotional: bool = False
    compensation_claimed: Decimal | None = None


@dataclass(frozen=True)
class WrapUp:
    customer_id: int
    disposition: WrapUpDisposition
    notes: str | None = None
    subject: str | None = None
    call_id: int | None = None
    latent_need: LatentNeed | None = None
    complaint: ComplaintRequest | None = None


@dataclass(frozen=True)
class WrapUpResult:
    contact_id: int
    lead_id: int | None = None
    complaint_id: int | None = None
    complaint_ticket: str | None = None


async def _customer_department(uow: UnitOfWork, customer_id: int, identity: Identity,
                               action: str = "contact.record") -> None:
    """Role and department of the writer, checked here; a refusal is audited."""
    await check_role(uow, identity, CONTACT_WRITERS, action, f"customer:{customer_id}")
    customer = await uow.customers.get(customer_id)
    if customer is None:
        raise NoSuchCustomer(f"no customer {customer_id}; create or identify the caller first")
    if not identity.may_see_department(customer.department_id):
        await refuse(uow, identity, action, f"customer:{customer_id}",
                     "this customer belongs to another department", datetime.now(UTC))


async def record_contact(draft: ContactDraft, uow: UnitOfWork, *, identity: Identity) -> int:
    draft = replace(draft, at=aware_utc(draft.at, "at"), staff_id=draft.staff_id or identity.staff_id)
    async with uow:
        await _customer_department(uow, draft.customer_id, identity)
        contact_id = await uow.customers.add_contact(draft)
        await uow.commit()
        return contact_id


async def wrap_up(
    cmd: WrapUp, uow: UnitOfWork, *, at: datetime, identity: Identity,
    complaint_policy: ComplaintPolicy | None = None,
) -> WrapUpResult:
    at = aware_utc(at, "at")
    disposition = WrapUpDisposition(cmd.disposition).value
    async with uow:
        await _customer_department(uow, cmd.customer_id, identity, "contact.wrap_up")
        contact_id: int | None = None
        if cmd.call_id is not None:
            call = await uow.calls.get(cmd.call_id)
            if call is None:
                raise UnknownCallForContact(f"no call {cmd.call_id}; wrap up without a call id")
            if call.customer_id != cmd.customer_id:
                await uow.calls.update(cmd.call_id, customer_id=cmd.customer_id)
            contact_id = await uow.customers.contact_for_call(cmd.call_id)
        if contact_id is not None:
            await uow.customers.update_contact(
                contact_id, customer_id=cmd.customer_id, staff_id=identity.staff_id,
                disposition=disposition, notes=cmd.notes, subject=cmd.subject,
            )
        else:
            contact_id = await uow.customers.add_contact(ContactDraft(
                customer_id=cmd.customer_id,
                kind=ContactKind.CALL if cmd.call_id is not None else ContactKind.NOTE,
                at=at, staff_id=identity.staff_id, call_id=cmd.call_id, subject=cmd.subject,
                disposition=disposition, notes=cmd.notes, summary="agent wrap-up",
            ))
        lead_id: int | None = None
        if cmd.latent_need is not None:
            need = cmd.latent_need
            lead = await add_lead_in(NewLead(
                customer_id=cmd.customer_id, need=need.need, demand_level=need.demand_level,
                follow_up_staff_id=need.follow_up_staff_id, found_by_id=identity.staff_id,
                equipment=need.equipment, contact_id=contact_id,
            ), uow, at=at)
            lead_id = lead.lead.lead_id
            if need.equipment:
                customer = await uow.customers.get(cmd.customer_id)
                assert customer is not None
                await uow.customers.save(replace(customer, equipment=need.equipment))
        await uow.commit()
    result = WrapUpResult(contact_id, lead_id)
    if cmd.complaint is not None:
        try:
            complaint_id, ticket = await _open_complaint(
                cmd, contact_id, uow, at=at, identity=identity, policy=complaint_policy
            )
        except CrmError as exc:
            if getattr(type(exc), "http_status", None) is not None or isinstance(exc, ValueError):
                raise ComplaintNotOpened(
                    f"contact {contact_id} saved, but the complaint was not opened: {exc}"
                ) from exc
            raise
        async with uow:
            await uow.customers.update_contact(contact_id, complaint_id=complaint_id)
            await uow.commit()
        result = replace(result, complaint_id=complaint_id, complaint_ticket=ticket)
    return result


async def _open_complaint(
    cmd: WrapUp, contact_id: int, uow: UnitOfWork, *, at: datetime, identity: Identity,
    policy: ComplaintPolicy | None,
) -> tuple[int, str]:
    """Open the complaint through the complaints use case; (complaint id, ticket)."""
    assert cmd.complaint is not None
    request = cmd.complaint
    opened = await open_complaint(
        OpenComplaint(
            customer_id=cmd.customer_id, channel=ComplaintChannel.AGENT,
            category=request.category, description=request.description,
            compensation_claimed=request.compensation_claimed, emotional=request.emotional,
            call_id=cmd.call_id, actor=Actor.of(identity),
            notes=(f"opened in the wrap-up of contact {contact_id}",),
        ),
        uow, clock=lambda: at, policy=policy,
    )
    return opened.complaint_id, opened.ticket
