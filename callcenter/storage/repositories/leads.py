"""SQL implementation of `LeadRepository` (crm.services.leads): rows in, `LeadRecord`s out."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.storage.tables import Customer, LeadFollowUp, Notification, Staff
from callcenter.storage.tables import Lead as LeadRow
from crm.enums import LeadState
from crm.leads import Lead
from crm.services.leads import LeadRecord, NewLead


def to_record(row: LeadRow) -> LeadRecord:
    return LeadRecord(
        lead=Lead(
            lead_id=row.id, customer_id=row.customer_id, finder_id=row.found_by_id,
            follower_id=row.assigned_to_id, demand_level=row.demand_level,
            state=LeadState(row.state), need=row.need,
        ),
        equipment=row.equipment, follow_up_at=row.follow_up_at, won_at=row.won_at,
        contact_id=row.contact_id, notes=row.notes, created_at=row.created_at,
        proposal=row.proposal, proposal_by_id=row.proposal_by_id, proposal_at=row.proposal_at,
        proposal_signed_by_id=row.proposal_signed_by_id, proposal_signed_at=row.proposal_signed_at,
        order_value=row.order_value, credit_amount=row.credit_amount, credit_paid_at=row.credit_paid_at,
    )


class SqlLeadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, lead: NewLead, follow_up_at: datetime | None, at: datetime | None = None) -> LeadRecord:
        row = LeadRow(
            customer_id=lead.customer_id, found_by_id=lead.found_by_id,
            assigned_to_id=lead.follow_up_staff_id, contact_id=lead.contact_id,
            equipment=lead.equipment, need=lead.need.strip(), demand_level=lead.demand_level,
            state=LeadState.OPEN.value, follow_up_at=follow_up_at, notes=lead.notes,
            **({"created_at": at, "updated_at": at} if at is not None else {}),
        )
        self.session.add(row)
        await self.session.flush()
        return to_record(row)

    async def get(self, lead_id: int) -> LeadRecord | None:
        row = await self.session.get(LeadRow, lead_id, populate_existing=True)
        return None if row is None else to_record(row)

    async def save(self, record: LeadRecord) -> None:
        await self.session.execute(
            update(LeadRow).where(LeadRow.id == record.lead.lead_id).values(
                state=record.lead.state.value, follow_up_at=record.follow_up_at,
                won_at=record.won_at, notes=record.notes, proposal=record.proposal,
                proposal_by_id=record.proposal_by_id, proposal_at=record.proposal_at,
                proposal_signed_by_id=record.proposal_signed_by_id,
                proposal_signed_at=record.proposal_signed_at, order_value=record.order_value,
                credit_amount=record.credit_amount, credit_paid_at=record.credit_paid_at,
            )
        )

    async def add_follow_up(
        self, lead_id: int, staff_id: int | None, due_at: datetime | None, done_at: datetime, action: str
    ) -> None:
        self.session.add(LeadFollowUp(lead_id=lead_id, staff_id=staff_id, due_at=due_at, done_at=done_at,
                                      action=action))
        await self.session.flush()

    async def payable_credits(self) -> list[LeadRecord]:
        rows = await self.session.scalars(
            select(LeadRow).where(LeadRow.credit_amount.is_not(None), LeadRow.credit_paid_at.is_(None))
            .order_by(LeadRow.won_at, LeadRow.id))
        return [to_record(r) for r in rows]

    async def due_unreminded(self, now: datetime, limit: int = 500) -> list[LeadRecord]:
        rows = await self.session.scalars(
            select(LeadRow).where(
                LeadRow.state.in_([s.value for s in (LeadState.OPEN, LeadState.CONTACTED, LeadState.QUOTED)]),
                LeadRow.follow_up_at <= now,
                or_(LeadRow.reminded_for.is_(None), LeadRow.reminded_for != LeadRow.follow_up_at),
            ).order_by(LeadRow.follow_up_at, LeadRow.id).limit(limit))
        return [to_record(r) for r in rows]

    async def mark_reminded(self, lead_id: int, follow_up_at: datetime) -> bool:
        result = await self.session.execute(
            update(LeadRow).where(
                LeadRow.id == lead_id, LeadRow.follow_up_at == follow_up_at,
                or_(LeadRow.reminded_for.is_(None), LeadRow.reminded_for != follow_up_at),
            ).values(reminded_for=follow_up_at).execution_options(synchronize_session=False))
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def notify(self, staff_id: int, kind: str, payload: dict[str, object], at: datetime) -> None:
        self.session.add(Notification(staff_id=staff_id, kind=kind, payload=payload, at=at))
        await self.session.flush()

    async def active_staff(self, staff_id: int) -> bool:
        found = await self.session.scalar(
            select(Staff.id).where(Staff.id == staff_id, Staff.active.is_(True))
        )
        return found is not None

    async def customer_department(self, customer_id: int) -> tuple[bool, int | None]:
        row = (await self.session.execute(
            select(Customer.id, Customer.department_id).where(Customer.id == customer_id)
        )).first()
        return (False, None) if row is None else (True, row.department_id)

    async def find(
        self, *, customer_id: int | None, assigned_to_id: int | None, state: LeadState | None,
        limit: int, offset: int, departments: Collection[int] | None = None,
    ) -> list[LeadRecord]:
        query = select(LeadRow).order_by(LeadRow.id.desc()).limit(limit).offset(offset)
        if departments is not None:  # the customers one may read one by one (the same rule)
            own = or_(Customer.department_id.is_(None), Customer.department_id.in_(list(departments)))
            query = query.join(Customer, Customer.id == LeadRow.customer_id).where(own)
        if customer_id is not None:
            query = query.where(LeadRow.customer_id == customer_id)
        if assigned_to_id is not None:
            query = query.where(LeadRow.assigned_to_id == assigned_to_id)
        if state is not None:
            query = query.where(LeadRow.state == LeadState(state).value)
        return [to_record(r) for r in await self.session.scalars(query)]
