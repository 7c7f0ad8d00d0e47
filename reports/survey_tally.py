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
* One survey per service job (seed 001: "n为本月维修工作项数 … n张调查表"):
  of the surveys of one job in one month, exactly one stands for the job
  (`choose_job_surveys`); the others are ``superseded``: kept and shown,
  never counted, never excluded-as-a-job. The one chosen is, in order: the
  one whose standing is best (counts now > pending verification > disputed >
  incomplete), then the best tier of the configured precedence
  (`SupervisionRules.survey_precedence`; default verified, callback, ivr,
  paper/agent), then the earliest taken, then the lowest survey id, then the first given. A survey
  without a job stands for a job of its own. So ``counted`` and the excluded
  counts are numbers of jobs; ``superseded`` counts surveys and
  ``multi_survey_jobs`` the jobs that had more than one.
* Tallies are plain integers (points sums and counts), keyed by
  (department, month, staff); the dataclass path here and the vectorised path
  in `reports.survey_frame` produce the same `Tallies` for the same data, and
  `reports.scoring` turns either into the score.

Points: A = 2, B = 1, C = 0, D = -1, E = -2.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from crm.enums import Grade, SurveySource, SurveyVerification
from reports.periods import Granularity, Month, window_containing
from reports.rules import SEED_SUPERVISION_RULES, SupervisionRules

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
    "survey_kind",
    "JobChoice",
    "choose_job_surveys",
    "service_month",
    "tally_rows",
]

DepartmentId = int | str
StaffId = int | str | None

GRADE_POINTS: dict[Grade, int] = {Grade.A: 2, Grade.B: 1, Grade.C: 0, Grade.D: -1, Grade.E: -2}
CUSTOMER_KEYED_SOURCES = frozenset({SurveySource.IVR, SurveySource.CALLBACK})


@dataclass(frozen=True)
class SurveyRow:
    """One satisfaction survey (意见反馈表) of one service job."""

    job_id: int | str | None
    department_id: DepartmentId
    staff_id: StaffId
    month: Month
    timeliness: Grade | None
    quality: Grade | None
    attitude: Grade | None
    source: SurveySource
    verification: SurveyVerification
    complete: bool
    #: when it was taken and its id: the earlier survey wins a tie (None: after the others)
    surveyed_at: datetime | None = None
    survey_id: int | str | None = None


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
    SUPERSEDED = "superseded"  # another survey of the same job counts for it


#: how good a survey's standing is when choosing the one of its job (lower is better)
STANDING: dict[SurveyStatus, int] = {
    SurveyStatus.COUNTED_VERIFIED: 0, SurveyStatus.COUNTED_FIRST_HAND: 0,
    SurveyStatus.PENDING_VERIFICATION: 1, SurveyStatus.DISPUTED: 2, SurveyStatus.INCOMPLETE: 3,
}


def survey_kind(source: SurveySource | str, verification: SurveyVerification | str) -> str:
    """``verified`` for a survey the supervision department confirmed, else its source."""
    if SurveyVerification(verification) is SurveyVerification.VERIFIED:
        return "verified"
    return str(SurveySource(source))


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
    superseded: int = 0  # surveys, not jobs: another survey of their job counts for it
    multi_survey_jobs: int = 0  # jobs with more than one survey

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
             t.incomplete, t.pending_verification, t.disputed, t.superseded, t.multi_survey_jobs)
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
            self.superseded + other.superseded,
            self.multi_survey_jobs + other.multi_survey_jobs,
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


def service_month(job_completed_at: datetime | None, surveyed_at: datetime, tz: str) -> Month:
    """The month whose supervision score a survey counts in: the local month of its job's
    completion (seed 001: the month's repair jobs), or of the survey itself when it has no
    completed job. A survey arriving after that month's report was published still
    belongs to that month (a correction of it), never to the month it arrived in."""
    instant = job_completed_at if job_completed_at is not None else surveyed_at
    window = window_containing(instant, Granularity.MONTH, tz)
    local = window.start_utc.astimezone(ZoneInfo(tz))
    return Month(local.year, local.month)


@dataclass(frozen=True)
class JobChoice:
    """A survey and where it stands: ``chosen`` counts for its job (if its status counts);
    otherwise ``superseded_by`` is the survey that stands for the job instead."""

    row: SurveyRow
    status: SurveyStatus
    chosen: bool
    superseded_by: SurveyRow | None = None
    #: how many surveys the job had in the month
    job_surveys: int = 1


def _job_key(row: SurveyRow, position: int) -> tuple[object, ...]:
    if row.job_id is None:
        return ("own", position)
    return ("job", row.month, row.job_id)


def choose_job_surveys(rows: Sequence[SurveyRow],
                       rules: SupervisionRules = SEED_SUPERVISION_RULES) -> list[JobChoice]:
    """Every row with its status; of each job's surveys in a month exactly one is ``chosen``."""
    statuses = [survey_status(row) for row in rows]
    groups: dict[tuple[object, ...], list[int]] = {}
    for position, row in enumerate(rows):
        groups.setdefault(_job_key(row, position), []).append(position)
    choices: list[JobChoice | None] = [None] * len(rows)
    for members in groups.values():
        def rank(position: int) -> tuple[int, int, bool, datetime, float, int]:
            row = rows[position]
            taken = row.surveyed_at
            number = row.survey_id if isinstance(row.survey_id, int) else float("inf")
            return (STANDING[statuses[position]],
                    rules.survey_tier(survey_kind(row.source, row.verification)),
                    taken is None, taken or datetime.min, number, position)

        best = min(members, key=rank)
        for position in members:
            chosen = position == best
            choices[position] = JobChoice(
                rows[position], statuses[position] if chosen else SurveyStatus.SUPERSEDED,
                chosen, None if chosen else rows[best], len(members))
    return [c for c in choices if c is not None]


def tally_rows(
    month: Month,
    surveys: Iterable[SurveyRow],
    complaints: Iterable[ComplaintRow] = (),
    leads: Iterable[LeadRow] = (),
    rules: SupervisionRules = SEED_SUPERVISION_RULES,
) -> Tallies:
    """Tally dataclass rows for scoring ``month`` (rows of other months are ignored)."""
    current: dict[tuple[DepartmentId, StaffId], SurveyTally] = {}
    before: dict[tuple[DepartmentId, StaffId], SurveyTally] = {}
    previous = month.previous()
    wanted = [row for row in surveys if row.month in (month, previous)]
    for choice in choose_job_surveys(wanted, rules):
        row = choice.row
        table = current if row.month == month else before
        key = (row.department_id, row.staff_id)
        if choice.chosen:
            one = _one_survey(row)
            if choice.job_surveys > 1:
                one = one + SurveyTally(multi_survey_jobs=1)
        else:
            one = SurveyTally(superseded=1)
        table[key] = table.get(key, SurveyTally()) + one
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
