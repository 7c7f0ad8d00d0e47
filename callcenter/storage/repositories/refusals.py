"""SQL implementation of `RefusalRepository` (crm.services.refusals): the `access_refusals` rows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.storage.tables import AccessRefusal
from crm.services.refusals import Refusal


def to_refusal(row: AccessRefusal) -> Refusal:
    return Refusal(row.at, row.staff_id, row.actor, row.action, row.subject, row.reason)


class SqlRefusalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, refusal: Refusal) -> None:
        self.session.add(AccessRefusal(
            at=refusal.at, staff_id=refusal.staff_id, actor=refusal.actor, action=refusal.action,
            subject=refusal.subject, reason=refusal.reason,
        ))
        await self.session.flush()

    async def list(self, *, limit: int = 100) -> list[Refusal]:
        rows = await self.session.scalars(
            select(AccessRefusal).order_by(AccessRefusal.id.desc()).limit(limit))
        return [to_refusal(r) for r in rows]
