"""Lead use cases (004): record a latent need, follow it up, win or lose it.

Guarantees:
- A lead is created with a demand level 1..3 (`validate_demand_level`), a
  named follow-up person who is active staff, and the staff member who found
  the need; its first follow-up date comes from `next_follow_up`.
- State changes follow `LEAD_TRANSITIONS` only (`InvalidTransition` otherwise);
  each contact moves the follow-up date on; won and lost leads have none.
- Winning a lead stamps `won_at`, records the finder's credit amount
  (`credit_finder`, payable until marked paid) whoever closed the sale, and
  returns it. Every action is a follow-up row against the date it was due
  (the service head's follow-through figure reads them).
- The configuration proposal, its sign-off, payable credits and follow-up
  reminders: `crm.services.lead_capture`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from crm.access import LEAD_WRITERS
from crm.enums import LeadState
from crm.errors import CrmError, aware_utc
from crm.identity import Identity, PermissionDenied
from crm.leads import (
    FinderCredit,
    FinderCreditPolicy,
    Lead,
    LeadAction,
    lead_transition,
    next_follow_up,
    validate_demand_level,
    win_lead,
)
from crm.services.refusals import check_role, refuse

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

class UnknownLead(CrmError, LookupError):
    http_status = 404


class UnknownStaff(CrmError, ValueError):
    """The named follow-up person is not active staff: pick someone from the staff list."""

    http_status = 422


@dataclass(frozen=True)
class LeadRecord:
    """A lead with what the rules in `crm.leads` do not need but people read."""

    lead: Lead
    equipment: str | None
    follow_up_at: datetime | None
    won_at: datetime | None
    contact_id: int | None
    notes: str | None
    created_at: datetime | None = None
    proposal: str | None = None  # the targeted configuration proposal (004's second form)
    proposal_by_id: int | None = None
    proposal_at: datetime | None = None
    proposal_signed_by_id: int | None = None  # the service head who signed it
    proposal_signed_at: datetime | None = None
    order_value: Decimal | None = None
    credit_amount: Decimal | None = None  # owed to the finder once won
    credit_paid_at: datetime | None = None

    @property
    def credit_payable(self) -> bool:
        return self.credit_amount is not None and self.credit_paid_at is None


@dataclass(frozen=True)
class NewLead:
    customer_id: int
    need: str
    demand_level: int
    follow_up_staff_id: int
    found_by_id: int | None
    equipment: str | None = None
    contact_id: int | None = None
    notes: str | None = None


class LeadRepository(Protocol):
    async def add(self, lead: NewLead, follow_up_at: datetime | None, at: datetime | None = None) -> LeadRecord:
        """Insert the lead, recorded at `at` (the clock's time; default the database's)."""
        ...

    async def get(self, lead_id: int) -> LeadRecord | None: ...

    async def save(self, record: LeadRecord) -> None:
        """Write state, follow-up date, won_at, notes, the proposal and the credit."""
        ...

    async def add_follow_up(
        self, lead_id: int, staff_id: int | None, due_at: datetime | None, done_at: datetime, action: str
    ) -> None:
        """Record a follow-up made (answering the follow-up date `due_at`)."""
        ...

    async def payable_credits(self) -> list[LeadRecord]: ...

    async def due_unreminded(self, now: datetime, limit: int = 500) -> list[LeadRecord]:
        """Unfinished leads whose follow-up date passed and whose follower was not told of it."""
        ...

    async def mark_reminded(self, lead_id: int, follow_up_at: datetime) -> bool:
        """Compare-and-set: True for the one process that marks this follow-up date reminded."""
        ...

    async def notify(self, staff_id: int, kind: str, payload: dict[str, object], at: datetime) -> None: ...

    async def active_staff(self, staff_id: int) -> bool: ...

    async def customer_department(self, customer_id: int) -> tuple[bool, int | None]:
        """(customer exists, its department)."""
        ...

    async def find(
        self, *, customer_id: int | None, assigned_to_id: int | None, state: LeadState | None,
        limit: int, offset: int, departments: Collection[int] | None = None,
    ) -> list[LeadRecord]:
        """`departments` (None: every one): leads of customers of those departments or of none."""
        ...


async def _check_new(lead: NewLead, uow: UnitOfWork) -> None:
    validate_demand_level(lead.demand_level)
    if not lead.need.strip():
        raise ValueError("describe the need (what the customer lacks or wants)")
    if not await uow.leads.active_staff(lead.follow_up_staff_id):
        raise UnknownStaff(
            f"staff {lead.follow_up_staff_id} is not an active staff member: "
            "name someone from the staff list to follow up"
        )


async def add_lead_in(lead: NewLead, uow: UnitOfWork, *, at: datetime) -> LeadRecord:
    """Add `lead` inside the caller's open unit of work (used by the wrap-up)."""
    await _check_new(lead, uow)
    probe = Lead(0, lead.customer_id, lead.found_by_id, lead.follow_up_staff_id, lead.demand_level)
    at = aware_utc(at, "at")
    return await uow.leads.add(lead, next_follow_up(probe, at), at)


async def record_latent_need(
    lead: NewLead, uow: UnitOfWork, *, at: datetime, identity: Identity | None = None
) -> LeadRecord:
    async with uow:
        await check_role(uow, identity, LEAD_WRITERS, "lead.record", f"customer:{lead.customer_id}", at)
        exists, department = await uow.leads.customer_department(lead.customer_id)
        if not exists:
            raise UnknownLead(f"no customer {lead.customer_id}; create the customer first")
        if identity is not None and not identity.may_see_department(department):
            await refuse(uow, identity, "lead.record", f"customer:{lead.customer_id}",
                         "this customer belongs to another department", at)
        record = await add_lead_in(lead, uow, at=at)
        await uow.commit()
        return record


async def _visible_lead(uow: UnitOfWork, lead_id: int, identity: Identity | None) -> LeadRecord:
    record = await uow.leads.get(lead_id)
    if record is None:
        raise UnknownLead(f"no lead {lead_id}")
    if identity is not None:
        customer = await uow.customers.get(record.lead.customer_id)
        if customer is not None and not identity.may_see_department(customer.department_id):
            raise PermissionDenied(f"lead {lead_id} belongs to another department's customer")
    return record


async def get_lead(lead_id: int, uow: UnitOfWork, identity: Identity | None = None) -> LeadRecord:
    """One lead; `identity` must be able to read its customer (department rule)."""
    async with uow:
        return await _visible_lead(uow, lead_id, identity)


async def list_leads(
    uow: UnitOfWork, *, customer_id: int | None = None, assigned_to_id: int | None = None,
    state: LeadState | None = None, limit: int = 50, offset: int = 0,
    identity: Identity | None = None,
) -> list[LeadRecord]:
    """Leads filtered in the query by the same rule as `get_lead`: never a row the caller
    could not read one by one."""
    async with uow:
        return await uow.leads.find(
            customer_id=customer_id, assigned_to_id=assigned_to_id, state=state,
            limit=limit, offset=offset,
            departments=identity.readable_departments if identity is not None else None,
        )


async def advance_lead(
    lead_id: int, action: LeadAction, uow: UnitOfWork, *, at: datetime,
    closed_by: int | None = None, note: str | None = None, identity: Identity | None = None,
    order_value: Decimal | None = None, credit_policy: FinderCreditPolicy | None = None,
) -> tuple[LeadRecord, FinderCredit | None]:
    """Apply `action` (recorded as a follow-up against the date it was due); on a win
    record the finder's credit amount, payable until paid, and return it. `identity` must
    be able to read the lead's customer; a refusal is audited and changes nothing."""
    at = aware_utc(at, "at")
    async with uow:
        await check_role(uow, identity, LEAD_WRITERS, f"lead.{action}", f"lead:{lead_id}", at)
        try:
            record = await _visible_lead(uow, lead_id, identity)
        except PermissionDenied as exc:
            await refuse(uow, identity, f"lead.{action}", f"lead:{lead_id}", str(exc), at)
        credit: FinderCredit | None = None
        if LeadAction(action) is LeadAction.WIN:
            lead, credit = win_lead(record.lead, at, closed_by, order_value, credit_policy)
            won_at: datetime | None = at
            record = replace(record, order_value=order_value,
                             credit_amount=credit.amount if credit else None)
        else:
            lead = replace(record.lead, state=lead_transition(record.lead.state, action))
            won_at = record.won_at
        notes = record.notes
        if note:
            stamp = f"[{at:%Y-%m-%d %H:%M}Z {action}] {note}"
            notes = f"{notes}\n{stamp}" if notes else stamp
        updated = replace(
            record, lead=lead, follow_up_at=next_follow_up(lead, at), won_at=won_at, notes=notes
        )
        await uow.leads.save(updated)
        await uow.leads.add_follow_up(lead_id, closed_by, record.follow_up_at, at, str(LeadAction(action)))
        await uow.commit()
        return updated, credit
