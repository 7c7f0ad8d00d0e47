"""The supervisors' list of surveys awaiting verification in a month (read model).

Guarantee: lists the complete surveys of the month still ``pending`` (the
score leaves them out as ``pending_verification``), oldest first; each can
be verified or disputed with `crm.services.surveys.verify_survey`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from callcenter.storage.engine import Database
from callcenter.storage.tables import Department, ServiceJob, Staff, Survey
from crm.enums import SurveyVerification

__all__ = ["PendingSurvey", "pending_surveys"]


@dataclass(frozen=True)
class PendingSurvey:
    survey_id: int
    surveyed_at: datetime
    job: str | None
    department: str | None
    technician: str | None
    source: str
    grades: str

    def to_dict(self) -> dict[str, Any]:
        return {"survey_id": self.survey_id, "surveyed_at": self.surveyed_at.isoformat(),
                "job": self.job, "department": self.department, "technician": self.technician,
                "source": self.source, "grades": self.grades}


async def pending_surveys(db: Database, start: datetime, end: datetime,
                          limit: int = 200) -> list[PendingSurvey]:
    query = (
        select(Survey, ServiceJob.reference, Department.code, Staff.username)
        .outerjoin(ServiceJob, ServiceJob.id == Survey.job_id)
        .outerjoin(Department, Department.id == Survey.department_id)
        .outerjoin(Staff, Staff.id == Survey.staff_id)
        .where(Survey.surveyed_at >= start, Survey.surveyed_at < end, Survey.complete.is_(True),
               Survey.verification == SurveyVerification.PENDING.value)
        .order_by(Survey.surveyed_at, Survey.id).limit(limit)
    )
    async with db.sessions() as session:
        rows = (await session.execute(query)).all()
    return [PendingSurvey(s.id, s.surveyed_at, ref, code, user, s.source,
                          f"{s.timeliness or '-'}{s.quality or '-'}{s.attitude or '-'}")
            for s, ref, code, user in rows]
