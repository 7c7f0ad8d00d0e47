"""Group complaints (群体性投诉, seed 002): several customers about one job, product or site.

Guarantees:
- When a complaint about a job, product or site is opened, `link_group` looks
  at the complaints opened within `MajorPolicy.group_window` before it about
  the same job (first), product or site. Once at least
  `MajorPolicy.group_min_customers` different customers are among them, they
  form one group: every member gets the same `group_id` and the `group` major
  reason (with the major due times), a `group` history row names the group and
  its tickets, and the manager of each member's department is told once per
  member linked ("raised together": `complaint_group` notification listing
  every ticket of the group).
- A later complaint joins the existing group (the one its peers already belong
  to); nobody is linked twice.
- Linking runs in its own transaction after the complaint was opened (the new
  complaint is never lost to a conflict here); a concurrent change of a member
  is retried, then logged and left to the next complaint of the group.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from crm.enums import MajorReason
from crm.errors import ConcurrentChange
from crm.services.complaint_ports import ComplaintPolicy, ComplaintRecord, HistoryRow, tighten

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
ATTEMPTS = 3


def _shared(record: ComplaintRecord, peers: list[ComplaintRecord]) -> list[tuple[str, list[ComplaintRecord]]]:
    """(key, members) for the job, the product and the site this complaint is about."""
    found: list[tuple[str, list[ComplaintRecord]]] = []
    if record.job_id is not None:
        found.append((f"job:{record.job_id}", [p for p in peers if p.job_id == record.job_id]))
    if record.product:
        found.append((f"product:{record.product}", [p for p in peers if p.product == record.product]))
    if record.site:
        found.append((f"site:{record.site}", [p for p in peers if p.site == record.site]))
    return found


async def _link(uow: UnitOfWork, complaint_id: int, now: datetime, policy: ComplaintPolicy) -> int | None:
    repo = uow.complaints
    record = await repo.get(complaint_id)
    if record is None:
        return None
    since = record.opened_at - policy.major.group_window
    peers = await repo.group_matches(since, job_id=record.job_id, product=record.product, site=record.site)
    peers = [p for p in peers if p.opened_at <= record.opened_at]
    found = [(key, members) for key, members in _shared(record, peers)
             if len({m.customer_id for m in members}) >= policy.major.group_min_customers]
    if not found:
        return None
    key, members = found[0]
    group_id = next((m.group_id for m in members if m.group_id is not None), None)
    if group_id is None:
        group_id = await repo.add_group(key, now)
    tickets = [m.ticket for m in members]
    customers = len({m.customer_id for m in members})
    linked: list[ComplaintRecord] = []
    for member in members:
        if member.group_id == group_id and MajorReason.GROUP in member.major_reasons:
            continue
        saved = await repo.save(tighten(replace(member, group_id=group_id), [MajorReason.GROUP], policy))
        await repo.add_history(HistoryRow(
            member.complaint_id, now, "system", "group", member.state, member.state,
            f"group complaint {group_id} ({key}): {customers} customers; tickets {', '.join(tickets)}",
        ))
        linked.append(saved)
    told: set[int] = set()
    for member in linked:
        manager = None
        if member.department_id is not None:
            manager = next((c.manager_id for c in await repo.department_chain(member.department_id)
                            if c.manager_id is not None), None)
        for staff_id in {manager, member.owner_id} - {None} - told:
            assert staff_id is not None
            told.add(staff_id)
            await repo.notify(staff_id, "complaint_group", {
                "group_id": group_id, "key": key, "customers": customers, "tickets": tickets,
                "ticket": member.ticket, "complaint_id": member.complaint_id,
            }, now)
    log.info("group complaint %s (%s): %d customers, %d linked now", group_id, key, customers, len(linked))
    return group_id


async def link_group(
    uow: UnitOfWork, complaint_id: int, *, now: datetime, policy: ComplaintPolicy
) -> int | None:
    """Link the complaint into its group complaint if it has one; the group's id or None."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with uow:
                group_id = await _link(uow, complaint_id, now, policy)
                await uow.commit()
            return group_id
        except ConcurrentChange:
            log.info("complaint %s: a group member changed meanwhile (attempt %d)", complaint_id, attempt)
    log.warning("complaint %s: group linking gave up after %d attempts", complaint_id, ATTEMPTS)
    return None
