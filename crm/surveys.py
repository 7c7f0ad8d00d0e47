"""Satisfaction surveys (001): three items graded A..E for one service job.

Guarantees:
- Keypad 1..5 maps to A..E (1 = A, very satisfied; 5 = E, very dissatisfied).
- A survey is complete only with all three items; an incomplete survey is
  kept (nothing the caller gave is lost) but never counts in scores.
- A first-hand survey (the customer keyed it themselves: on the inbound IVR,
  or on an automated outbound callback flow) is verified by nature; any other
  source (agent, paper) starts `pending` until a supervisor or a
  verification callback confirms (`verified`) or contradicts (`disputed`) it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crm.enums import Grade, SurveySource, SurveyVerification

ITEMS = ("timeliness", "quality", "attitude")
POINTS: dict[Grade, int] = {Grade.A: 2, Grade.B: 1, Grade.C: 0, Grade.D: -1, Grade.E: -2}
KEYPAD: dict[str, Grade] = {"1": Grade.A, "2": Grade.B, "3": Grade.C, "4": Grade.D, "5": Grade.E}


class InvalidGrade(ValueError):
    http_status = 422


class SurveyNotFound(LookupError):
    http_status = 404


class SurveyAlreadySettled(RuntimeError):
    http_status = 409


def parse_grade(value: str | int | None) -> Grade | None:
    """'A'..'E', 'a'..'e' or 1..5 -> Grade; None/'' -> None; anything else -> InvalidGrade."""
    if value is None or value == "":
        return None
    text = str(value).strip().upper()
    if text in KEYPAD:
        return KEYPAD[text]
    if text in Grade._value2member_map_:
        return Grade(text)
    raise InvalidGrade(f"grade {value!r} is not A..E or 1..5")


#: Sources where the customer keyed the grades in themselves.
FIRST_HAND_SOURCES = frozenset({SurveySource.IVR, SurveySource.CALLBACK})


def initial_verification(source: SurveySource) -> SurveyVerification:
    if SurveySource(source) in FIRST_HAND_SOURCES:
        return SurveyVerification.FIRST_HAND
    return SurveyVerification.PENDING


@dataclass(frozen=True)
class SurveyRecord:
    id: int
    job_id: int | None
    customer_id: int | None
    department_id: int | None
    staff_id: int | None
    surveyed_at: datetime
    source: SurveySource
    timeliness: Grade | None
    quality: Grade | None
    attitude: Grade | None
    complete: bool
    verification: SurveyVerification

    @property
    def grades(self) -> dict[str, Grade | None]:
        return {"timeliness": self.timeliness, "quality": self.quality, "attitude": self.attitude}

    @property
    def counts_in_score(self) -> bool:
        return self.complete and self.verification in (
            SurveyVerification.FIRST_HAND, SurveyVerification.VERIFIED)

    @property
    def points(self) -> int | None:
        if not self.complete:
            return None
        return sum(POINTS[g] for g in self.grades.values() if g is not None)


@dataclass(frozen=True)
class JobRef:
    id: int
    reference: str
    customer_id: int
    department_id: int | None
    technician_id: int | None
    completed_at: datetime | None
