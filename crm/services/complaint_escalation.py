"""Escalating overdue complaints (投诉升级机制, 002) and the managers' list views.

Guarantees:
- `escalate_overdue(now)` looks at every open complaint past its resolve-by
  time, or past its respond-by time with nobody acknowledging it (002:
  超出规定响应时限，系统自动进行投诉升级), and takes at most one level per complaint per pass
  (`crm.complaint_rules.next_escalation` over the owner's department chain).
  Each complaint is handled in its own transaction: the escalation row, the
  `escalate` history row, the `overdue` major reason (and its tighter limits)
  and the notification to that level's manager commit together or not at all;
  the respond-by level is taken once (`respond_escalated_at`), the resolve-by
  levels after it. `on_escalated` (e-mail to the new owner) runs after the commit.
- Each level happens once, however many service processes run the job: the
  unique (complaint, level) key refuses the second insert (`AlreadyEscalated`)
  and the version check refuses a stale write (`ConcurrentChange`); either
  means another process did it, and this pass moves on.
- A reopened complaint that was escalated before waits for its new resolve-by
  time before climbing further.
- Every list puts major complaints first, then the earliest resolve-by time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from crm.complaint_rules import EscalationStatus, next_escalation
from crm.complaints import OPEN_STATES
from crm.enums import ComplaintState, MajorReason
from crm.errors import AlreadyEscalated, ConcurrentChange, aware_utc
from crm.identity import Identity
from crm.services.complaint_ports import (
    ComplaintPolicy,
    ComplaintRecord,
    HistoryRow,
    summary,
    tighten,
    visible_departments,
)

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
JOB_ACTOR = "job-loop"


@dataclass(frozen=True, slots=True)
class Escalated:
    complaint_id: int
    ticket: str
    level: int
    department_id: int
    manager_id: int | None
    cause: str = "resolve"  # respond | resolve
    summary: dict[str, object] = field(default_factory=dict)  # the complaint as escalated


def _status(record: ComplaintRecord, policy: ComplaintPolicy) -> EscalationStatus:
    last = record.last_escalated_at
    if last is not None and record.resolve_due_at is not None:
        # reopened after escalating: the next level waits for the new resolve-by time
        step = policy.time.for_severity(record.severity).escalation_step
        last = max(last, record.resolve_due_at - step)
    return EscalationStatus(
        state=record.state, severity=record.severity, opened_at=record.opened_at,
        level=record.escalation_level, last_escalated_at=last, resolve_by=record.resolve_due_at,
        respond_by=record.respond_due_at, acknowledged=record.acknowledged_at is not None,
        respond_escalated=record.respond_escalated_at is not None,
    )


async def _escalate_one(
    uow: UnitOfWork, complaint_id: int, now: datetime, policy: ComplaintPolicy
) -> Escalated | None:
    repo = uow.complaints
    record = await repo.get(complaint_id)
    if record is None or record.state not in OPEN_STATES:
        return None
    resolve_overdue = record.resolve_due_at is not None and now > record.resolve_due_at
    overdue = tighten(record, [MajorReason.OVERDUE], policy) if resolve_overdue else record
    department = record.department_id
    if record.owner_id is not None:
        owner = await repo.staff(record.owner_id)
        department = owner.department_id if owner and owner.department_id else department
    chain = await repo.department_chain(department) if department is not None else []
    step = next_escalation(_status(overdue, policy), chain, now, policy.time) if chain else None
    if step is None:
        if overdue == record:
            return None
        await repo.save(overdue)
        note = "overdue: major" + ("" if chain else "; no department chain to escalate to")
        await repo.add_history(
            HistoryRow(record.complaint_id, now, JOB_ACTOR, "overdue", record.state, record.state, note)
        )
        return None
    await repo.add_escalation(
        record.complaint_id, step.level, now, step.department_id, step.manager_id, record.state,
        step.cause,
    )
    changes: dict[str, object] = {"escalation_level": step.level, "last_escalated_at": now}
    if step.cause == "respond":
        changes["respond_escalated_at"] = now
    saved = await repo.save(replace(overdue, **changes))  # type: ignore[arg-type]
    told = f"manager staff:{step.manager_id}" if step.manager_id else "no manager in that department"
    limit = "not acknowledged by its respond-by time" if step.cause == "respond" else "not resolved in time"
    await repo.add_history(
        HistoryRow(record.complaint_id, now, JOB_ACTOR, "escalate", record.state, record.state,
                   f"level {step.level} (department {step.department_id}, {told}); {limit}; "
                   f"due since {step.due_at.isoformat()}")
    )
    if step.manager_id is not None:
        await repo.notify(step.manager_id, "complaint_escalated", summary(saved), now)
    return Escalated(record.complaint_id, record.ticket, step.level, step.department_id, step.manager_id,
                     step.cause, summary(saved))


EscalationListener = Callable[[Escalated], Awaitable[object]]


async def escalate_overdue(
    uow: UnitOfWork, *, now: datetime, policy: ComplaintPolicy | None = None,
    on_escalated: EscalationListener | None = None,
) -> list[Escalated]:
    """One escalation pass (the job loop's); returns what this process escalated.

    `on_escalated` is awaited for each escalation after it committed (the e-mail
    to the new owner); its failure is logged and never undoes the escalation."""
    now = aware_utc(now, "now")
    policy = policy or ComplaintPolicy()
    async with uow:
        candidates = await uow.complaints.escalation_candidates(now, sorted(OPEN_STATES))
    done: list[Escalated] = []
    for complaint_id in candidates:
        try:
            async with uow:
                result = await _escalate_one(uow, complaint_id, now, policy)
                await uow.commit()
        except (AlreadyEscalated, ConcurrentChange) as exc:
            log.info("complaint %s: %s; another process escalated it", complaint_id, exc)
            continue
        if result is not None:
            log.info("complaint %s escalated to level %s (%s)", result.ticket, result.level, result.cause)
            done.append(result)
            if on_escalated is not None:
                try:
                    await on_escalated(result)
                except Exception:
                    log.exception("complaint %s: telling the new owner failed", result.ticket)
    return done


# -- list views ----------------------------------------------------------------------------


class ComplaintView(StrEnum):
    MINE = "mine"  # complaints I own
    OVERDUE = "overdue"  # open and past a due time
    MAJOR = "major"  # open major complaints
    STATE = "state"  # in one state (or all open ones)
    UNASSIGNED = "unassigned"  # new, nobody owns it yet
    ALL = "all"


@dataclass(frozen=True, slots=True)
class ComplaintQuery:
    view: ComplaintView = ComplaintView.STATE
    state: ComplaintState | None = None
    limit: int = 200
    text: str | None = None  # a ticket, a customer's name or any of their numbers

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= 1000:
            raise ValueError("limit must be between 1 and 1000")
        if self.text is not None and len(self.text) > 100:
            raise ValueError("search text is at most 100 characters")


async def list_complaints(
    query: ComplaintQuery, uow: UnitOfWork, *, identity: Identity | None, now: datetime
) -> list[ComplaintRecord]:
    """The complaints of one view that `identity` may read: major first, then by due time."""
    now = aware_utc(now, "now")
    open_states = sorted(OPEN_STATES)
    async with uow:
        departments = await visible_departments(identity, uow)
        viewer = identity.staff_id if identity else None
        if query.view == ComplaintView.MINE and viewer is None:
            return []
        owner_id = viewer if query.view == ComplaintView.MINE else None
        states: list[ComplaintState] | None = _states(query, open_states)
        if query.view == ComplaintView.OVERDUE:
            states = open_states
        elif query.view == ComplaintView.UNASSIGNED:
            states = [ComplaintState.NEW]
        elif query.view == ComplaintView.ALL:
            states = [query.state] if query.state else None
        return await uow.complaints.search(
            departments=departments, viewer_id=viewer, owner_id=owner_id, states=states,
            major_only=query.view == ComplaintView.MAJOR,
            overdue_at=now if query.view == ComplaintView.OVERDUE else None, text=query.text,
            limit=query.limit,
        )


def _states(query: ComplaintQuery, default: list[ComplaintState]) -> list[ComplaintState]:
    return [query.state] if query.state else default


async def state_counts(uow: UnitOfWork, *, identity: Identity | None) -> dict[str, int]:
    """How many complaints `identity` may read are in each state."""
    async with uow:
        return await uow.complaints.counts_by_state(await visible_departments(identity, uow))
