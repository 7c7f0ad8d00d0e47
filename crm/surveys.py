"""Satisfaction surveys (001): three items graded A..E for one service job.

Guarantees:
- A survey rates a finished repair: never a job not completed by the time the
  survey is taken (`serviced_by`; `JobNotServiced`).
- Keypad 1..5 maps to A..E (1 = A, very satisfied; 5 = E, very dissatisfied).
- A survey is complete only with all three items; an incomplete survey is
  kept (nothing the caller gave is lost) but never counts in scores.
- First-hand means from the customer: an IVR or callback survey is
  `first_hand` (counts without verification) only when the call came from, or
  was placed to, a number on the job's customer record (`first_hand_check`).
  Keyed by job reference from any other number, with the number withheld, or
  without a job, it is stored `pending` with the reason. A number put on the
  record by someone with a stake in the job's department (its staff, a
  department below it or managing it: `crm.access.ScoredScope`) is not the
  customer's word for first-hand purposes (`planted_numbers`): the survey is
  `pending` with that reason, whenever the number was added (the department
  could add it before booking the job just as well). A number that only a
  caller's own call put on a record (an unverified caller record nobody has
  named, merged or linked: `unvouched_numbers`) is nobody's word that it is
  the customer's: anyone can ring from a phone they hold and have the scored
  department book a job on the record the call made; such a survey is
  `pending` too. Numbers from imports, on a record named by someone, or added
  by anyone else count. Any other source
  (agent, paper) starts `pending` too, until a supervisor or a verification
  callback confirms (`verified`) or contradicts (`disputed`) it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from crm.access import ScoredScope
from crm.enums import Grade, SurveySource, SurveyVerification

#: the graded items of a survey, named once (API, CSV import, storage, reports use this)
ITEMS = ("timeliness", "quality", "attitude")
POINTS: dict[Grade, int] = {Grade.A: 2, Grade.B: 1, Grade.C: 0, Grade.D: -1, Grade.E: -2}
KEYPAD: dict[str, Grade] = {"1": Grade.A, "2": Grade.B, "3": Grade.C, "4": Grade.D, "5": Grade.E}


class InvalidGrade(ValueError):
    http_status = 422


class SurveyNotFound(LookupError):
    http_status = 404


class SurveyAlreadySettled(RuntimeError):
    http_status = 409


class DisputeNeedsReason(ValueError):
    """Disputing a first-hand survey needs the supervisor's reason."""

    http_status = 422


class JobNotServiced(ValueError):
    """A survey rates a finished repair: its job must be completed by the survey's time."""

    http_status = 422


def serviced_by(job: JobRef, at: datetime) -> bool:
    """Was ``job`` completed at ``at`` (a survey taken then may rate it)?"""
    return job.completed_at is not None and job.completed_at <= at


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


def masked(number: str) -> str:
    """``+8613800138000`` -> ``+86138****8000``: enough for a supervisor, not the number."""
    return number if len(number) <= 8 else f"{number[:6]}****{number[-4:]}"


def first_hand_check(source: SurveySource, job: JobRef | None,
                     number: str | None) -> tuple[SurveyVerification, str | None]:
    """The verification a new survey starts with, and why it waits when it does.

    ``number``: the E.164 number the call came from (inbound IVR) or was placed to
    (outbound callback); None when withheld or not a call.
    """
    source = SurveySource(source)
    if source is SurveySource.AGENT:
        return SurveyVerification.PENDING, "keyed in by an agent: a supervisor verifies it"
    if source is SurveySource.PAPER:
        return SurveyVerification.PENDING, "paper form: a supervisor verifies it"
    channel = "IVR" if source is SurveySource.IVR else "callback"
    if job is None:
        return SurveyVerification.PENDING, f"{channel} survey without a service job"
    if not number:
        return SurveyVerification.PENDING, (
            f"{channel} survey from a withheld or unknown number: cannot tell it came from "
            f"the customer of job {job.reference}")
    if number not in job.customer_phones:
        return SurveyVerification.PENDING, (
            f"{channel} survey keyed for job {job.reference} from {masked(number)}, which is "
            "not a number on that job's customer record")
    if number in job.unvouched_phones:
        return SurveyVerification.PENDING, (
            f"{channel} survey for job {job.reference} from {masked(number)}: only a call from "
            "that number put it on an unverified record; nobody said it is the customer's "
            "(name the record or link the number); a supervisor verifies it")
    if number in job.planted_phones:
        return SurveyVerification.PENDING, (
            f"{channel} survey for job {job.reference} from {masked(number)}: number added to "
            "the customer's record by the serviced department (or one managing it); a "
            "supervisor verifies it")
    return SurveyVerification.FIRST_HAND, None


def planted_numbers(phones: Iterable[tuple[str, int | None]], scope: ScoredScope) -> frozenset[str]:
    """The numbers among `phones` ((E.164, department of whoever added it; None: an import,
    the caller's own call, the system)) added by someone with a stake in `scope`."""
    return frozenset(e164 for e164, department in phones if scope.stake(department) is not None)


def unvouched_numbers(phones: Iterable[tuple[str, int | None]],
                      record_verified: bool) -> frozenset[str]:
    """The numbers among `phones` ((E.164, staff id of whoever added it; None: nobody)) that
    only a caller's own call put on the record: no person added them and the record is an
    unverified caller record (nobody named it). An import makes verified records."""
    if record_verified:
        return frozenset()
    return frozenset(e164 for e164, added_by in phones if added_by is None)


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
    #: why it waits for verification (None when first-hand or settled)
    pending_reason: str | None = None

    @property
    def grades(self) -> dict[str, Grade | None]:
        return {item: getattr(self, item) for item in ITEMS}

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
    #: the E.164 numbers on the job's customer record (first-hand surveys come from these)
    customer_phones: frozenset[str] = field(default=frozenset())
    #: those of them added by someone with a stake in the job's department (`planted_numbers`)
    planted_phones: frozenset[str] = field(default=frozenset())
    #: those of them nobody vouched for: a call made the record, no person added them
    #: (`unvouched_numbers`)
    unvouched_phones: frozenset[str] = field(default=frozenset())
