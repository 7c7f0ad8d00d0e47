"""Which surveys count for the supervision score, and their integer tallies.

Guarantees (domain.md, seed 001):

* A survey counts only when it is complete (all three items graded) and
  verified: ``verified`` by the supervision department, or ``first_hand``
  when the customer keyed it in personally (source ``ivr`` or ``callback``).
  A ``first_hand`` mark on a survey typed in by an agent or from paper is not
  credible (the scored staff must not be able to vouch for themselves), so
  such a survey waits for verification like a ``pending`` one.
* Every survey lands in exactly one bucket, checked in this order:
  incomplete, disputed, counted (first-hand / verified), pending verification.
* Tallies are plain integers (points sums and counts), keyed by
  (department, month, staff); the dataclass path here and the vectorised path
  in `reports.survey_frame` produce the same `Tallies` for the same data, and
  `reports.scoring` turns either into the score.

Points: A = 2, B = 1, C = 0, D = -1, E = -2.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from crm.enums import Grade, SurveySource, SurveyVerification
from reports.periods import Month

__all__ = [
    "DepartmentId",
    "StaffId",
    "GRADE_POINTS",
    "CUSTOMER_KEYED_SOURCES",
    "SurveyRow",
    "ComplaintRow",
    "LeadRow",
    "SurveyStatus",
    "SurveyTally",
    "Tallies",
    "survey_status",
    "tally_rows",
]

DepartmentId = int | str
StaffId = int | str | None

GRADE_POINTS: dict[Grade, int] = {Grade.A: 2, Grade.B: 1, Grade.C: 0, Grade.D: -1, Grade.E: -2}
CUSTOMER_KEYED_SOURCES = frozenset({SurveySource.IVR, SurveySource.CALLBACK})


@dataclass(frozen=True)
class SurveyRow:
    """One satisfaction survey (意见反馈表) of one service job."""

    job_id: int | str
    department_id: DepartmentId
    staff_id: StaffId
    month: Month
    timeliness: Grade | None
    quality: Grade | None
    attitude: Grade | None
    source: SurveySource
    verification: SurveyVerification
    complete: bool


@dataclass(frozen=True)
class ComplaintRow:
    """One complaint received about a department (and, when known, a staff member)."""

    complaint_id: int | str
    department_id: DepartmentId
    staff_id: StaffId
    month: Month


@dataclass(frozen=True)
class LeadRow:
    """A customer need found by a staff member (004); ``won_month`` when the sale happened."""

    lead_id: int | str
    department_id: DepartmentId
    found_by: StaffId
    found_month: Month
    won_month: Month | None = None


class SurveyStatus(StrEnum):
    COUNTED_FIRST_HAND = "counted_first_hand"
    COUNTED_VERIFIED = "counted_verified"
    INCOMPLETE = "incomplete"
    PENDING_VERIFICATION = "pending_verification"
    DISPUTED = "disputed"


def survey_status(row: SurveyRow) -> SurveyStatus:
    """The one bucket this survey falls in (order: incomplete, disputed, counted, pending)."""
    if not row.complete or None in (row.timeliness, row.quality, row.attitude):
        return SurveyStatus.INCOMPLETE
    if row.verification == SurveyVerification.DISPUTED:
        return SurveyStatus.DISPUTED
    if row.verification == SurveyVerification.VERIFIED:
        return SurveyStatus.COUNTED_VERIFIED
    if row.verification == SurveyVerification.FIRST_HAND and row.source in CUSTOMER_KEYED_SOURCES:
        return SurveyStatus.COUNTED_FIRST_HAND
    return SurveyStatus.PENDING_VERIFICATION


@dataclass(frozen=True)
class SurveyTally:
    """Integer sums over a set of surveys; item sums are over counted surveys only."""

    counted: int = 0
    first_hand: int = 0
    verified: int = 0
    timeliness: int = 0
    quality: int = 0
    attitude: int = 0
    incomplete: int = 0
    pending_verification: int = 0
    disputed: int = 0

    @property
    def points(self) -> int:
        return self.timeliness + self.quality + self.attitude

    @property
    def excluded(self) -> int:
        return self.incomplete + self.pending_verification + self.disputed

    @classmethod
    def total(cls, tallies: Iterable[SurveyTally]) -> SurveyTally:
        rows = [
            (t.counted, t.first_hand, t.verified, t.timeliness, t.quality, t.attitude,
             t.incomplete, t.pending_verification, t.disputed)
            for t in tallies
        ]
        return cls(*(sum(column) for column in zip(*rows, strict=True))) if rows else cls()

    def __add__(self, other: SurveyTally) -> SurveyTally:
        return SurveyTally(
            self.counted + other.counted,
            self.first_hand + other.first_hand,
            self.verified + other.verified,
            self.timeliness + other.timeliness,
            self.quality + other.quality,
            self.attitude + other.attitude,
            self.incomplete + other.incomplete,
            self.pending_verification + other.pending_verification,
            self.disputed + other.disputed,
        )


@dataclass(frozen=True)
class Tallies:
    """Everything the monthly score needs, as integers, keyed by (department, staff).

    ``surveys`` holds the scored month, ``previous_surveys`` the month before;
    complaints and leads are those of the scored month.
    """

    month: Month
    surveys: dict[tuple[DepartmentId, StaffId], SurveyTally] = field(default_factory=dict)
    previous_surveys: dict[tuple[DepartmentId, StaffId], SurveyTally] = field(
        default_factory=dict)
    complaints: dict[tuple[DepartmentId, StaffId], int] = field(default_factory=dict)
    leads_found: dict[tuple[DepartmentId, StaffId], int] = field(default_factory=dict)
    leads_won: dict[tuple[DepartmentId, StaffId], int] = field(default_factory=dict)

    def departments(self) -> set[DepartmentId]:
        found: set[DepartmentId] = set()
        for table in (self.surveys, self.previous_surveys, self.complaints, self.leads_found,
                      self.leads_won):
            found.update(dept for dept, _ in table)
        return found


def _one_survey(row: SurveyRow) -> SurveyTally:
    status = survey_status(row)
    if status is SurveyStatus.INCOMPLETE:
        return SurveyTally(incomplete=1)
    if status is SurveyStatus.DISPUTED:
        return SurveyTally(disputed=1)
    if status is SurveyStatus.PENDING_VERIFICATION:
        return SurveyTally(pending_verification=1)
    assert row.timeliness is not None and row.quality is not None and row.attitude is not None
    return SurveyTally(
        counted=1,
        first_hand=int(status is SurveyStatus.COUNTED_FIRST_HAND),
        verified=int(status is SurveyStatus.COUNTED_VERIFIED),
        timeliness=GRADE_POINTS[row.timeliness],
        quality=GRADE_POINTS[row.quality],
        attitude=GRADE_POINTS[row.attitude],
    )


def tally_rows(
    month: Month,
    surveys: Iterable[SurveyRow],
    complaints: Iterable[ComplaintRow] = (),
    leads: Iterable[LeadRow] = (),
) -> Tallies:
    """Tally dataclass rows for scoring ``month`` (rows of other months are ignored)."""
    current: dict[tuple[DepartmentId, StaffId], SurveyTally] = {}
    before: dict[tuple[DepartmentId, StaffId], SurveyTally] = {}
    previous = month.previous()
    for row in surveys:
        table = current if row.month == month else before if row.month == previous else None
        if table is not None:
            key = (row.department_id, row.staff_id)
            table[key] = table.get(key, SurveyTally()) + _one_survey(row)
    complaint_counts: defaultdict[tuple[DepartmentId, StaffId], int] = defaultdict(int)
    for complaint in complaints:
        if complaint.month == month:
            complaint_counts[(complaint.department_id, complaint.staff_id)] += 1
    found: defaultdict[tuple[DepartmentId, StaffId], int] = defaultdict(int)
    won: defaultdict[tuple[DepartmentId, StaffId], int] = defaultdict(int)
    for lead in leads:
        if lead.found_month == month:
            found[(lead.department_id, lead.found_by)] += 1
        if lead.won_month == month:
            won[(lead.department_id, lead.found_by)] += 1
    return Tallies(month, current, before, dict(complaint_counts), dict(found), dict(won))
