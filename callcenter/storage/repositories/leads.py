"""SQL implementation of `LeadRepository` (crm.services.leads): rows in, `LeadRecord`s out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.storage.tables import Customer, Staff
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
    )


class SqlLeadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, lead: NewLead, follow_up_at: datetime | None) -> LeadRecord:
        row = LeadRow(
            customer_id=lead.customer_id, found_by_id=lead.found_by_id,
            assigned_to_id=lead.follow_up_staff_id, contact_id=lead.contact_id,
            equipment=lead.equipment, need=lead.need.strip(), demand_level=lead.demand_level,
            state=LeadState.OPEN.value, follow_up_at=follow_up_at, notes=lead.notes,
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
                won_at=record.won_at, notes=record.notes,
            )
        )

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
        limit: int, offset: int, department_id: int | None = None, all_departments: bool = True,
    ) -> list[LeadRecord]:
        query = select(LeadRow).order_by(LeadRow.id.desc()).limit(limit).offset(offset)
        if not all_departments:  # the customers one may read one by one: own department or none
            own = or_(Customer.department_id.is_(None), Customer.department_id == department_id)
            query = query.join(Customer, Customer.id == LeadRow.customer_id).where(own)
        if customer_id is not None:
            query = query.where(LeadRow.customer_id == customer_id)
        if assigned_to_id is not None:
            query = query.where(LeadRow.assigned_to_id == assigned_to_id)
        if state is not None:
            query = query.where(LeadRow.state == LeadState(state).value)
        return [to_record(r) for r in await self.session.scalars(query)]
