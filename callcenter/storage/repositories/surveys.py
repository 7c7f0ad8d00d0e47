"""SQL implementation of `SurveyRepository` (crm.services.surveys)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.storage.inserts import SURVEY_AUDIT, SURVEYS
from callcenter.storage.tables import Customer, CustomerPhone, Department, ServiceJob, Survey
from callcenter.storage.types import utcnow
from crm.access import SurveyFacts, scored_scope
from crm.enums import Grade, SurveySource, SurveyVerification
from crm.surveys import JobRef, SurveyRecord, planted_numbers, unvouched_numbers


def _grade(value: str | None) -> Grade | None:
    return Grade(value) if value else None


#: a new survey's row: numbered by the database, through the table's one INSERT
_NUMBERED = SURVEYS.without("id")
_ADD_SURVEY = _NUMBERED.values(
    1, returning=f"RETURNING {', '.join(c.name for c in SURVEYS.table.columns)}",
).columns(*SURVEYS.table.columns)
_NEW_SURVEY: dict[str, Any] = {**{name: None for name in _NUMBERED.columns}, "complete": False}
_ADD_AUDIT = SURVEY_AUDIT.values(1)


async def add_survey_audit(session: AsyncSession, entry: dict[str, Any]) -> None:
    """One entry of a survey's audit trail (`inserts.SURVEY_AUDIT`)."""
    await session.execute(_ADD_AUDIT, SURVEY_AUDIT.params([entry]))


def to_record(row: Any) -> SurveyRecord:
    return SurveyRecord(
        id=row.id, job_id=row.job_id, customer_id=row.customer_id, department_id=row.department_id,
        staff_id=row.staff_id, surveyed_at=row.surveyed_at, source=SurveySource(row.source),
        timeliness=_grade(row.timeliness), quality=_grade(row.quality),
        attitude=_grade(row.attitude), complete=row.complete,
        verification=SurveyVerification(row.verification),
        pending_reason=getattr(row, "pending_reason", None),
    )


def job_ref(row: ServiceJob, phones: frozenset[str] = frozenset(),
            planted: frozenset[str] = frozenset(),
            unvouched: frozenset[str] = frozenset()) -> JobRef:
    return JobRef(row.id, row.reference, row.customer_id, row.department_id, row.technician_id,
                  row.completed_at, phones, planted, unvouched)


async def department_tree(session: AsyncSession) -> tuple[dict[int, int | None], set[int]]:
    """Every department's parent, and the supervision departments (`crm.access.scored_scope`)."""
    rows = (await session.execute(
        select(Department.id, Department.parent_id, Department.supervision))).all()
    return {r.id: r.parent_id for r in rows}, {r.id for r in rows if r.supervision}


class SqlSurveyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _ref(self, row: ServiceJob | None) -> JobRef | None:
        if row is None:
            return None
        phones = (await self.session.execute(
            select(CustomerPhone.e164, CustomerPhone.added_by, CustomerPhone.added_by_department_id)
            .where(CustomerPhone.customer_id == row.customer_id))).all()
        verified = bool(await self.session.scalar(
            select(Customer.verified).where(Customer.id == row.customer_id)))
        planted: frozenset[str] = frozenset()
        if any(p.added_by_department_id is not None for p in phones):
            parents, supervision = await department_tree(self.session)
            scope = scored_scope([row.department_id] if row.department_id is not None else [],
                                 parents, supervision)
            planted = planted_numbers(((p.e164, p.added_by_department_id) for p in phones), scope)
        unvouched = unvouched_numbers(((p.e164, p.added_by) for p in phones), verified)
        return job_ref(row, frozenset(p.e164 for p in phones), planted, unvouched)

    async def job(self, job_id: int) -> JobRef | None:
        return await self._ref(await self.session.get(ServiceJob, job_id))

    async def job_by_reference(self, reference: str) -> JobRef | None:
        return await self._ref(await self.session.scalar(
            select(ServiceJob).where(ServiceJob.reference == reference)))

    async def last_completed_job(self, customer_id: int) -> JobRef | None:
        row = await self.session.scalar(
            select(ServiceJob)
            .where(ServiceJob.customer_id == customer_id, ServiceJob.completed_at.is_not(None))
            .order_by(ServiceJob.completed_at.desc(), ServiceJob.id.desc())
            .limit(1)
        )
        return await self._ref(row)

    async def add(self, values: dict[str, Any]) -> SurveyRecord:
        now = utcnow()
        row = {**_NEW_SURVEY, **values, "created_at": now, "updated_at": now}
        stored = (await self.session.execute(_ADD_SURVEY, _NUMBERED.params([row]))).one()
        return to_record(stored)

    async def get(self, survey_id: int) -> SurveyRecord | None:
        row = await self.session.get(Survey, survey_id, populate_existing=True)
        return to_record(row) if row else None

    async def update(self, survey_id: int, **values: Any) -> None:
        await self.session.execute(update(Survey).where(Survey.id == survey_id).values(**values))

    async def audit(self, survey_id: int, at: datetime, actor_id: int | None, action: str,
                    before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        await add_survey_audit(self.session, {
            "survey_id": survey_id, "at": at, "actor_id": actor_id, "action": action,
            "before": before, "after": after})

    async def supervision_facts(self, survey_id: int) -> SurveyFacts | None:
        """What `crm.access.survey_supervisor_refusal` needs: department, technician, keyer."""
        row = (await self.session.execute(
            select(Survey.id, Survey.department_id, Survey.staff_id, Survey.entered_by)
            .where(Survey.id == survey_id))).first()
        return SurveyFacts(row.id, row.department_id, row.staff_id, row.entered_by) if row else None
