"""A survey on the supervisors' review (`verification_queue.month_review`), without pandas.

The review is computed in a worker process; its rows come back to the serving
process as these, which must not load pandas or numpy to unpickle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm.enums import SurveyVerification

__all__ = ["PendingSurvey"]


@dataclass(frozen=True)
class PendingSurvey:
    survey_id: int
    surveyed_at: datetime
    job: str | None
    department: str | None
    technician: str | None
    source: str
    grades: str
    #: why it does not count as it stands
    reason: str = ""
    verification: str = SurveyVerification.PENDING.value

    def to_dict(self) -> dict[str, Any]:
        return {"survey_id": self.survey_id, "surveyed_at": self.surveyed_at.isoformat(),
                "job": self.job, "department": self.department, "technician": self.technician,
                "source": self.source, "grades": self.grades, "reason": self.reason,
                "verification": self.verification}
