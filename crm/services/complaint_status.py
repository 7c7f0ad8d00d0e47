"""Complaint status for the caller (002: 主动告诉客户处理状态): what a customer may hear
about their own complaints on the phone.

Guarantees:
- Only the caller's own complaints are told: a ticket that does not exist, or
  belongs to another customer, gives nothing (the IVR then says "not found",
  never whose it is or what state it is in); a caller nobody could identify
  (withheld number) is told nothing either.
- Without a ticket, the open complaints of the caller are told, newest first,
  at most `limit` of them.
- Each is told with its state, its owner department (code and name) and,
  while it is open, its resolve-by time.

Read-only: the unit of work is never committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from crm.complaints import OPEN_STATES, is_open
from crm.enums import ComplaintState

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

#: How many open complaints a caller hears without keying a ticket.
SPOKEN_LIMIT = 3
_OPEN_ORDER = tuple(sorted(OPEN_STATES))


@dataclass(frozen=True)
class ComplaintStatusView:
    ticket: str
    state: ComplaintState
    department_code: str = ""
    department_name: str = ""
    due_at: datetime | None = None


async def complaint_status_for_caller(
    uow: UnitOfWork, *, customer_id: int | None, ticket: str | None,
    limit: int = SPOKEN_LIMIT,
) -> list[ComplaintStatusView]:
    """The complaints the caller `customer_id` may hear about: `ticket` if it is theirs,
    else (no ticket) their open ones; empty when none may be told."""
    if customer_id is None:
        return []
    async with uow:
        if ticket:
            found = await uow.complaints.by_ticket(ticket.strip())
            records = [found] if found is not None and found.customer_id == customer_id else []
        else:
            records = await uow.complaints.of_customer(customer_id, _OPEN_ORDER, limit)
        names = await uow.complaints.department_names(
            {r.department_id for r in records if r.department_id is not None})
    views = []
    for record in records:
        code, name = names.get(record.department_id, ("", "")) \
            if record.department_id is not None else ("", "")
        views.append(ComplaintStatusView(
            ticket=record.ticket, state=ComplaintState(record.state), department_code=code,
            department_name=name,
            due_at=record.resolve_due_at if is_open(record.state) else None,
        ))
    return views
