"""SQL storage of verification draws (`crm.services.verification_samples.SampleRepository`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.storage.tables import Survey, VerificationDraw, VerificationSampleSurvey
from crm.enums import SurveySource, SurveyVerification
from crm.sampling import SamplePeriod
from crm.services.verification_samples import Draw, SampleCandidate

_CUSTOMER_KEYED = (SurveySource.IVR.value, SurveySource.CALLBACK.value)


class SqlSampleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def draw(self, label: str) -> Draw | None:
        row = await self.session.scalar(select(VerificationDraw).where(VerificationDraw.label == label))
        if row is None:
            return None
        ids = await self.session.scalars(
            select(VerificationSampleSurvey.survey_id)
            .where(VerificationSampleSurvey.draw_id == row.id)
            .order_by(VerificationSampleSurvey.survey_id))
        return Draw(row.label, row.period_start, row.period_end, row.drawn_at,
                    dict(row.departments or {}), tuple(ids))

    async def drawn_labels(self, labels: list[str]) -> set[str]:
        if not labels:
            return set()
        rows = await self.session.scalars(
            select(VerificationDraw.label).where(VerificationDraw.label.in_(labels)))
        return set(rows)

    async def awaiting_verification(self, start: datetime, end: datetime) -> list[SampleCandidate]:
        """Complete surveys that arrived in ``[start, end)``, await verification and were
        never drawn (`crm.sampling.awaits_verification`)."""
        drawn = exists().where(VerificationSampleSurvey.survey_id == Survey.id)
        rows = await self.session.execute(
            select(Survey.id, Survey.department_id, Survey.customer_id, Survey.source)
            .where(Survey.created_at >= start, Survey.created_at < end, Survey.complete.is_(True),
                   or_(Survey.verification == SurveyVerification.PENDING.value,
                       (Survey.verification == SurveyVerification.FIRST_HAND.value)
                       & Survey.source.not_in(_CUSTOMER_KEYED)),
                   ~drawn)
            .order_by(Survey.id))
        return [SampleCandidate(i, d, c, s) for i, d, c, s in rows]

    async def add_draw(self, period: SamplePeriod, at: datetime, percentage: float, minimum: int,
                       departments: dict[str, dict[str, int]],
                       drawn: list[SampleCandidate]) -> bool:
        """Store the draw; False (nothing stored) when the period was drawn meanwhile."""
        try:
            async with self.session.begin_nested():
                row = VerificationDraw(
                    label=period.label, cadence=str(period.cadence), period_start=period.start,
                    period_end=period.end, drawn_at=at, percentage=f"{percentage:g}",
                    minimum=minimum, departments=departments)
                self.session.add(row)
                await self.session.flush()
                self.session.add_all(VerificationSampleSurvey(
                    survey_id=c.survey_id, draw_id=row.id, department_id=c.department_id)
                    for c in drawn)
                await self.session.flush()
        except IntegrityError:
            return False
        return True
