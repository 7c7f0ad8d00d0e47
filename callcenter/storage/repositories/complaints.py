"""`SqlComplaintRepository`: the complaint port of `crm.services.complaints` on SQLAlchemy.

Guarantees:
- It returns `ComplaintRecord` / `HistoryRow` dataclasses, never ORM rows.
- `save` is a compare-and-set on `version`: a stale write raises
  `ConcurrentChange` and changes nothing.
- `add_escalation` relies on the unique (complaint_id, level) key: a level
  another process recorded first raises `AlreadyEscalated`; the transaction
  is then unusable and the caller must leave its unit of work.
- History rows are only ever inserted (the database refuses anything else).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.storage.tables import (
    Call,
    Complaint,
    ComplaintEscalation,
    ComplaintGroup,
    ComplaintHistory,
    Customer,
    CustomerPhone,
    Department,
    Notification,
    ServiceJob,
    Staff,
)
from callcenter.storage.text_search import contains, phone_digits
from crm.access import ScoredScope, scored_scope
from crm.complaint_rules import ChainLink
from crm.customers import VIP_FLAGS
from crm.enums import (
    ComplaintCategory,
    ComplaintChannel,
    ComplaintState,
    MajorReason,
    Severity,
    Verdict,
)
from crm.errors import AlreadyEscalated, ConcurrentChange
from crm.major import CustomerFlags, PriorComplaint
from crm.services.complaint_ports import (
    ChargedJob,
    ComplaintCustomer,
    ComplaintRecord,
    HistoryRow,
    StaffRef,
)

_MUTABLE = (
    "description", "recording_url", "compensation_claimed", "severity", "emotional",
    "contradictory_answers", "owner_id", "department_id", "state", "escalation_level",
    "respond_due_at", "resolve_due_at", "first_response_at", "resolved_at", "closed_at",
    "last_escalated_at", "resolution", "acknowledged_at", "respond_escalated_at", "disrespected",
    "product", "site", "group_id",
)


def to_record(row: Complaint) -> ComplaintRecord:
    return ComplaintRecord(
        complaint_id=row.id,
        ticket=row.ticket,
        customer_id=row.customer_id,
        channel=ComplaintChannel(row.channel),
        category=ComplaintCategory(row.category),
        description=row.description or "",
        opened_at=row.opened_at,
        recording_url=row.recording_url,
        compensation_claimed=Decimal(row.compensation_claimed) if row.compensation_claimed is not None else None,
        severity=Severity(row.severity),
        major_reasons=tuple(MajorReason(r) for r in row.major_reasons or [] if r in MajorReason._value2member_map_),
        emotional=row.emotional,
        contradictory_answers=row.contradictory_answers,
        owner_id=row.owner_id,
        department_id=row.department_id,
        job_id=row.job_id,
        call_id=row.call_id,
        state=ComplaintState(row.state),
        escalation_level=row.escalation_level,
        respond_due_at=row.respond_due_at,
        resolve_due_at=row.resolve_due_at,
        first_response_at=row.first_response_at,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        last_escalated_at=row.last_escalated_at,
        resolution=row.resolution,
        verdict=Verdict(row.verdict) if row.verdict else None,
        version=row.version,
        acknowledged_at=row.acknowledged_at,
        respond_escalated_at=row.respond_escalated_at,
        disrespected=bool(row.disrespected),
        product=row.product,
        site=row.site,
        group_id=row.group_id,
        charged_job_id=row.charged_job_id,
    )


def _values(record: ComplaintRecord) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(record, name) for name in _MUTABLE}
    values["severity"] = str(record.severity)
    values["state"] = str(record.state)
    values["major"] = record.major
    values["major_reasons"] = [str(r) for r in record.major_reasons]
    values["verdict"] = str(record.verdict) if record.verdict else None
    return values


class SqlComplaintRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- what a complaint refers to ------------------------------------------------------

    async def customer(self, customer_id: int) -> ComplaintCustomer | None:
        row = await self.session.get(Customer, customer_id)
        if row is None:
            return None
        flags = CustomerFlags(*(getattr(row, name) for name in VIP_FLAGS))
        return ComplaintCustomer(row.id, flags, row.department_id)

    async def job_department(self, job_id: int) -> tuple[bool, int | None]:
        found = (
            await self.session.execute(select(ServiceJob.id, ServiceJob.department_id).where(ServiceJob.id == job_id))
        ).first()
        return (False, None) if found is None else (True, found.department_id)

    async def last_completed_job(self, customer_id: int, until: datetime) -> ChargedJob | None:
        found = (await self.session.execute(
            select(ServiceJob.id, ServiceJob.reference, ServiceJob.department_id,
                   ServiceJob.completed_at)
            .where(ServiceJob.customer_id == customer_id, ServiceJob.completed_at <= until)
            .order_by(ServiceJob.completed_at.desc(), ServiceJob.id.desc()).limit(1))).first()
        if found is None:
            return None
        return ChargedJob(found.id, found.reference, found.department_id, found.completed_at)

    async def call_exists(self, call_id: int) -> bool:
        return await self.session.scalar(select(Call.id).where(Call.id == call_id)) is not None

    async def staff(self, staff_id: int) -> StaffRef | None:
        row = await self.session.get(Staff, staff_id)
        return None if row is None else StaffRef(row.id, row.department_id, row.active)

    async def department_id(self, code: str) -> int | None:
        found: int | None = await self.session.scalar(select(Department.id).where(Department.code == code))
        return found

    async def _departments(self) -> dict[int, tuple[int | None, int | None]]:
        rows = await self.session.execute(select(Department.id, Department.parent_id, Department.manager_id))
        return {r.id: (r.parent_id, r.manager_id) for r in rows}

    async def department_chain(self, department_id: int) -> list[ChainLink]:
        tree = await self._departments()
        chain: list[ChainLink] = []
        current: int | None = department_id
        while current is not None and current in tree and all(c.department_id != current for c in chain):
            parent, manager = tree[current]
            chain.append(ChainLink(current, manager))
            current = parent
        return chain

    async def confirm_number(self, complaint_id: int, staff_id: int | None, at: datetime) -> datetime:
        await self.session.execute(
            update(Complaint).where(Complaint.id == complaint_id,
                                    Complaint.number_confirmed_at.is_(None))
            .values(number_confirmed_at=at, number_confirmed_by=staff_id))
        stamp: datetime = await self.session.scalar(
            select(Complaint.number_confirmed_at).where(Complaint.id == complaint_id))
        return stamp

    async def set_reported_number(self, complaint_id: int, e164: str) -> None:
        await self.session.execute(
            update(Complaint).where(Complaint.id == complaint_id).values(reported_number=e164))

    async def department_scope(self, department_ids: Iterable[int]) -> ScoredScope:
        rows = (await self.session.execute(
            select(Department.id, Department.parent_id, Department.supervision))).all()
        return scored_scope(department_ids, {r.id: r.parent_id for r in rows},
                            {r.id for r in rows if r.supervision})

    async def department_subtree(self, department_id: int) -> set[int]:
        tree = await self._departments()
        found = {department_id}
        grew = True
        while grew:
            grew = False
            for dept, (parent, _) in tree.items():
                if parent in found and dept not in found:
                    found.add(dept)
                    grew = True
        return found

    async def prior_complaints(self, customer_id: int, since: datetime) -> list[PriorComplaint]:
        rows = await self.session.execute(
            select(Complaint.opened_at, Complaint.category).where(
                Complaint.customer_id == customer_id, Complaint.opened_at >= since
            )
        )
        return [PriorComplaint(r.opened_at, ComplaintCategory(r.category)) for r in rows]

    # -- the complaint itself -------------------------------------------------------------

    async def add(self, draft: ComplaintRecord) -> int:
        row = Complaint(
            ticket="t" + uuid4().hex[:19],  # placeholder until the id is known
            customer_id=draft.customer_id, channel=str(draft.channel), category=str(draft.category),
            opened_at=draft.opened_at, job_id=draft.job_id, charged_job_id=draft.charged_job_id,
            call_id=draft.call_id, version=1,
            **_values(draft),
        )
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def set_ticket(self, complaint_id: int, ticket: str) -> None:
        await self.session.execute(update(Complaint).where(Complaint.id == complaint_id).values(ticket=ticket))

    async def get(self, complaint_id: int) -> ComplaintRecord | None:
        row = await self.session.scalar(
            select(Complaint).where(Complaint.id == complaint_id).execution_options(populate_existing=True)
        )
        return None if row is None else to_record(row)

    async def by_ticket(self, ticket: str) -> ComplaintRecord | None:
        row = await self.session.scalar(select(Complaint).where(Complaint.ticket == ticket))
        return None if row is None else to_record(row)

    async def of_customer(self, customer_id: int, states: Sequence[ComplaintState],
                          limit: int) -> list[ComplaintRecord]:
        rows = await self.session.scalars(
            select(Complaint)
            .where(Complaint.customer_id == customer_id,
                   Complaint.state.in_([str(s) for s in states]))
            .order_by(Complaint.opened_at.desc(), Complaint.id.desc())
            .limit(limit)
        )
        return [to_record(row) for row in rows]

    async def department_names(self, department_ids: set[int]) -> dict[int, tuple[str, str]]:
        if not department_ids:
            return {}
        rows = await self.session.execute(
            select(Department.id, Department.code, Department.name)
            .where(Department.id.in_(department_ids)))
        return {r.id: (r.code, r.name) for r in rows}

    async def save(self, record: ComplaintRecord) -> ComplaintRecord:
        result = await self.session.execute(
            update(Complaint)
            .where(Complaint.id == record.complaint_id, Complaint.version == record.version)
            .values(version=record.version + 1, **_values(record))
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentChange(
                f"complaint {record.ticket or record.complaint_id} was changed by someone else; "
                "reload it and try again"
            )
        return replace(record, version=record.version + 1)

    async def add_history(self, row: HistoryRow) -> None:
        self.session.add(
            ComplaintHistory(
                complaint_id=row.complaint_id, at=row.at, actor_id=row.actor_id,
                actor_label=row.actor_label[:80], action=row.action[:30],
                from_state=str(row.from_state) if row.from_state else None,
                to_state=str(row.to_state) if row.to_state else None, note=row.note or None,
            )
        )
        await self.session.flush()

    async def history(self, complaint_id: int) -> list[HistoryRow]:
        rows = await self.session.scalars(
            select(ComplaintHistory)
            .where(ComplaintHistory.complaint_id == complaint_id)
            .order_by(ComplaintHistory.at, ComplaintHistory.id)
        )
        return [
            HistoryRow(
                r.complaint_id, r.at, r.actor_label, r.action,
                ComplaintState(r.from_state) if r.from_state else None,
                ComplaintState(r.to_state) if r.to_state else None, r.note or "", r.actor_id,
            )
            for r in rows
        ]

    async def notify(self, staff_id: int, kind: str, payload: dict[str, object], at: datetime) -> None:
        self.session.add(Notification(staff_id=staff_id, kind=kind, payload=payload, at=at))
        await self.session.flush()

    # -- escalation -----------------------------------------------------------------------

    async def escalation_candidates(self, now: datetime, open_states: Sequence[ComplaintState]) -> list[int]:
        """Open complaints past their resolve-by time, or past their respond-by time with
        nobody acknowledging them; oldest due first."""
        unacknowledged = and_(
            Complaint.acknowledged_at.is_(None), Complaint.respond_escalated_at.is_(None),
            Complaint.respond_due_at < now,
            Complaint.state.in_([str(ComplaintState.NEW), str(ComplaintState.ASSIGNED)]),
        )
        rows = await self.session.scalars(
            select(Complaint.id)
            .where(Complaint.state.in_([str(s) for s in open_states]),
                   or_(Complaint.resolve_due_at < now, unacknowledged))
            .order_by(Complaint.resolve_due_at, Complaint.id)
        )
        return list(rows)

    async def group_matches(
        self, since: datetime, *, job_id: int | None, product: str | None, site: str | None,
    ) -> list[ComplaintRecord]:
        same = [Complaint.job_id == job_id] if job_id is not None else []
        same += [Complaint.product == product] if product else []
        same += [Complaint.site == site] if site else []
        if not same:
            return []
        rows = await self.session.scalars(
            select(Complaint).where(Complaint.opened_at >= since, or_(*same))
            .order_by(Complaint.opened_at, Complaint.id)
            .execution_options(populate_existing=True)
        )
        return [to_record(row) for row in rows]

    async def add_group(self, key: str, at: datetime) -> int:
        row = ComplaintGroup(key=key[:220], raised_at=at)
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def add_escalation(
        self, complaint_id: int, level: int, at: datetime, department_id: int | None,
        manager_id: int | None, state_then: ComplaintState, cause: str = "resolve",
    ) -> None:
        self.session.add(
            ComplaintEscalation(
                complaint_id=complaint_id, level=level, at=at, department_id=department_id,
                manager_id=manager_id, state_then=str(state_then), cause=cause,
            )
        )
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise AlreadyEscalated(
                f"complaint {complaint_id} already reached level {level} (another job loop)"
            ) from exc

    # -- lists ----------------------------------------------------------------------------

    async def search(
        self,
        *,
        departments: set[int] | None,
        viewer_id: int | None,
        owner_id: int | None = None,
        states: Sequence[ComplaintState] | None = None,
        major_only: bool = False,
        overdue_at: datetime | None = None,
        text: str | None = None,
        limit: int = 200,
    ) -> list[ComplaintRecord]:
        """Matching complaints, major first, then by resolve-by time (none last), then id.
        `text` finds a ticket, a customer's name or any of the customer's numbers."""
        query = select(Complaint)
        if text and text.strip():
            wanted = text.strip()
            found = [contains(Complaint.ticket, wanted),
                     Complaint.customer_id.in_(select(Customer.id).where(contains(Customer.name, wanted)))]
            digits = phone_digits(wanted)
            if digits is not None:
                found.append(Complaint.customer_id.in_(
                    select(CustomerPhone.customer_id).where(CustomerPhone.e164.like(f"%{digits}%"))))
            query = query.where(or_(*found))
        if departments is not None:
            visible = Complaint.department_id.in_(departments) if departments else Complaint.id < 0
            query = query.where(or_(visible, Complaint.owner_id == viewer_id) if viewer_id else visible)
        if owner_id is not None:
            query = query.where(Complaint.owner_id == owner_id)
        if states is not None:
            query = query.where(Complaint.state.in_([str(s) for s in states]))
        if major_only:
            query = query.where(Complaint.severity == str(Severity.MAJOR))
        if overdue_at is not None:
            query = query.where(
                or_(
                    Complaint.resolve_due_at < overdue_at,
                    and_(
                        Complaint.state.in_([str(ComplaintState.NEW), str(ComplaintState.ASSIGNED)]),
                        Complaint.respond_due_at < overdue_at,
                    ),
                )
            )
        major_first = case((Complaint.severity == str(Severity.MAJOR), 0), else_=1)
        no_due_last = case((Complaint.resolve_due_at.is_(None), 1), else_=0)
        query = query.order_by(major_first, no_due_last, Complaint.resolve_due_at, Complaint.id).limit(limit)
        return [to_record(row) for row in await self.session.scalars(query)]

    async def counts_by_state(self, departments: set[int] | None) -> dict[str, int]:
        query = select(Complaint.state, func.count()).group_by(Complaint.state)
        if departments is not None:
            query = query.where(Complaint.department_id.in_(departments) if departments else Complaint.id < 0)
        return {state: count for state, count in (await self.session.execute(query)).tuples()}

    async def notifications(self, staff_id: int, *, unread_only: bool, limit: int = 100) -> list[dict[str, Any]]:
        query = select(Notification).where(Notification.staff_id == staff_id, Notification.kind.like("complaint_%"))
        if unread_only:
            query = query.where(Notification.read_at.is_(None))
        rows = await self.session.scalars(query.order_by(Notification.at.desc(), Notification.id.desc()).limit(limit))
        return [
            {"id": n.id, "kind": n.kind, "at": n.at.isoformat(), "read": n.read_at is not None, **n.payload}
            for n in rows
        ]

    async def mark_read(self, staff_id: int, notification_id: int, at: datetime) -> bool:
        result = await self.session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.staff_id == staff_id)
            .values(read_at=at)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]
