"""The supervision department's monthly score of a service department (seed 001).

Guarantees:

* Averages are exact fractions (``points / n``), so 4 - 3.5 is exactly 0.5
  and "no change" is an exact zero: delta > 0 earns the reward, < 0 the
  penalty, = 0 neither.
* A month with no counted survey gives status ``no_data``, never a division
  by zero, and neither reward, penalty nor all-A / all-E extra.
* No counted survey in the previous month (and no stored previous average)
  gives status ``no_previous_month``: delta undefined, no reward or penalty.
  The all-A bonus / all-E penalty depend only on the scored month and still
  apply.
* An all-A month is never "no change" (seed 001: 在原先的XXXX元外, 再奖励XXXX元):
  after a month to compare with it earns the base reward plus the extra
  bonus, even after another all-A month (delta 0, since 6 is the maximum);
  likewise an all-E month costs the base penalty plus the extra penalty.
* n is the number of repair jobs: each job counts once, through the one
  survey `reports.survey_tally.choose_job_surveys` picks; the others are
  ``superseded`` and the report says per department how many jobs had more
  than one survey.
* Every survey of the department's month is accounted for: counted (split
  first-hand / verified) or excluded with its reason (incomplete, pending
  verification, disputed).
* The complaint count maps to exactly one band of the configured table; the
  administrative-action flag is raised at ``administrative_action_at``
  complaints or more.
* ``score_month`` (dataclass rows) and ``score_month_frame`` (DataFrames)
  give identical reports for the same data.

JSON (``to_dict``): fractions are written as decimal strings rounded to 4
places ("4", "3.5", "1.3333"); the exact value is always recoverable from the
integer ``points`` and ``surveys`` beside it. Money is a decimal string, signed
(negative = penalty).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any

import pandas as pd

from reports.periods import Month
from reports.rules import SEED_SUPERVISION_RULES, SupervisionRules
from reports.survey_frame import tally_frames
from reports.survey_tally import (
    ComplaintRow,
    DepartmentId,
    LeadRow,
    StaffId,
    SurveyRow,
    SurveyTally,
    Tallies,
    tally_rows,
)

__all__ = [
    "ScoreStatus",
    "MonthOutcome",
    "ExtraAward",
    "SurveyCounts",
    "SatisfactionScore",
    "ComplaintScore",
    "StaffFigures",
    "DepartmentScore",
    "SupervisionReport",
    "score_complaints",
    "score_tallies",
    "score_month",
    "score_month_frame",
]


class ScoreStatus(StrEnum):
    SCORED = "scored"
    NO_DATA = "no_data"  # no counted survey this month
    NO_PREVIOUS_MONTH = "no_previous_month"  # nothing to compare with


class MonthOutcome(StrEnum):
    REWARD = "reward"
    PENALTY = "penalty"
    NONE = "none"


class ExtraAward(StrEnum):
    ALL_A_BONUS = "all_a_bonus"
    ALL_E_PENALTY = "all_e_penalty"


def fraction_text(value: Fraction | None) -> str | None:
    """``Fraction(7, 2)`` -> ``"3.5"``; rounded half-even to 4 places."""
    if value is None:
        return None
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    rounded = exact.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)
    text = f"{rounded.normalize():f}"
    return "0" if text in ("-0", "0") else text


@dataclass(frozen=True)
class SurveyCounts:
    """Counts of jobs (each job once, by its chosen survey) and of superseded surveys.

    JSON: ``counted``, ``first_hand``, ``verified``, ``excluded`` {``incomplete``,
    ``pending_verification``, ``disputed``}, ``superseded`` (surveys another survey of the
    same job stands in for), ``jobs_with_several_surveys``."""

    counted: int
    first_hand: int
    verified: int
    incomplete: int
    pending_verification: int
    disputed: int
    superseded: int = 0
    jobs_with_several_surveys: int = 0

    @classmethod
    def of(cls, tally: SurveyTally) -> SurveyCounts:
        return cls(tally.counted, tally.first_hand, tally.verified, tally.incomplete,
                   tally.pending_verification, tally.disputed, tally.superseded,
                   tally.multi_survey_jobs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "counted": self.counted,
            "first_hand": self.first_hand,
            "verified": self.verified,
            "excluded": {
                "incomplete": self.incomplete,
                "pending_verification": self.pending_verification,
                "disputed": self.disputed,
            },
            "superseded": self.superseded,
            "jobs_with_several_surveys": self.jobs_with_several_surveys,
        }


@dataclass(frozen=True)
class SatisfactionScore:
    """Month-over-month satisfaction result.

    JSON: ``status``, ``explanation``, ``surveys`` (`SurveyCounts`), ``points``
    (monthly total), ``average`` (points / surveys, -6..6), ``item_averages``
    {``timeliness``, ``quality``, ``attitude``} (-2..2), ``previous_average``,
    ``delta``, ``outcome`` (reward / penalty / none), ``amount``, ``extra``
    (all_a_bonus / all_e_penalty / null), ``extra_amount``.
    """

    status: ScoreStatus
    surveys: SurveyCounts
    points: int
    average: Fraction | None
    timeliness_average: Fraction | None
    quality_average: Fraction | None
    attitude_average: Fraction | None
    previous_average: Fraction | None
    delta: Fraction | None
    outcome: MonthOutcome
    amount: Decimal
    extra: ExtraAward | None
    extra_amount: Decimal
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "explanation": self.explanation,
            "surveys": self.surveys.to_dict(),
            "points": self.points,
            "average": fraction_text(self.average),
            "item_averages": {
                "timeliness": fraction_text(self.timeliness_average),
                "quality": fraction_text(self.quality_average),
                "attitude": fraction_text(self.attitude_average),
            },
            "previous_average": fraction_text(self.previous_average),
            "delta": fraction_text(self.delta),
            "outcome": str(self.outcome),
            "amount": str(self.amount),
            "extra": None if self.extra is None else str(self.extra),
            "extra_amount": str(self.extra_amount),
        }


@dataclass(frozen=True)
class ComplaintScore:
    """JSON: ``complaints``, ``band`` ("0", "1-5", "16+"), ``amount``, ``administrative_action``."""

    complaints: int
    band: str
    amount: Decimal
    administrative_action: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "complaints": self.complaints,
            "band": self.band,
            "amount": str(self.amount),
            "administrative_action": self.administrative_action,
        }


def score_complaints(complaints: int, rules: SupervisionRules = SEED_SUPERVISION_RULES) -> ComplaintScore:
    """The complaint count band of one department's month."""
    band = rules.band_for(complaints)
    return ComplaintScore(complaints, band.label, band.amount,
                          complaints >= rules.administrative_action_at)


@dataclass(frozen=True)
class StaffFigures:
    """One staff member's share, for the head to split the department's award.

    JSON: ``staff_id``, ``surveys`` (counted), ``surveys_excluded``, ``points``,
    ``average``, ``complaints``, ``leads_found``, ``leads_won``.
    """

    staff_id: StaffId
    surveys: int
    surveys_excluded: int
    points: int
    complaints: int
    leads_found: int
    leads_won: int

    @property
    def average(self) -> Fraction | None:
        return _average(self.points, self.surveys)

    def to_dict(self) -> dict[str, Any]:
        return {
            "staff_id": self.staff_id,
            "surveys": self.surveys,
            "surveys_excluded": self.surveys_excluded,
            "points": self.points,
            "average": fraction_text(self.average),
            "complaints": self.complaints,
            "leads_found": self.leads_found,
            "leads_won": self.leads_won,
        }


@dataclass(frozen=True)
class DepartmentScore:
    """JSON: ``department_id``, ``month``, ``satisfaction``, ``complaints``, ``total_amount``
    (satisfaction amount + extra + complaint band), ``staff`` (list of `StaffFigures`)."""

    department_id: DepartmentId
    month: Month
    satisfaction: SatisfactionScore
    complaints: ComplaintScore
    staff: tuple[StaffFigures, ...]

    @property
    def total_amount(self) -> Decimal:
        return self.satisfaction.amount + self.satisfaction.extra_amount + self.complaints.amount

    def to_dict(self) -> dict[str, Any]:
        return {
            "department_id": self.department_id,
            "month": str(self.month),
            "satisfaction": self.satisfaction.to_dict(),
            "complaints": self.complaints.to_dict(),
            "total_amount": str(self.total_amount),
            "staff": [s.to_dict() for s in self.staff],
        }


@dataclass(frozen=True)
class SupervisionReport:
    """JSON: ``month``, ``rules`` (`SupervisionRules.to_dict`), ``departments``."""

    month: Month
    rules: SupervisionRules
    departments: tuple[DepartmentScore, ...]

    def department(self, department_id: DepartmentId) -> DepartmentScore:
        for score in self.departments:
            if score.department_id == department_id:
                return score
        raise KeyError(f"no score for department {department_id!r} in {self.month}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": str(self.month),
            "rules": self.rules.to_dict(),
            "departments": [d.to_dict() for d in self.departments],
        }


def _average(points: int, n: int) -> Fraction | None:
    return Fraction(points, n) if n else None


def _satisfaction(
    current: SurveyTally, previous_average: Fraction | None, rules: SupervisionRules
) -> SatisfactionScore:
    counts = SurveyCounts.of(current)
    n = current.counted
    if n == 0:
        return SatisfactionScore(
            ScoreStatus.NO_DATA, counts, 0, None, None, None, None, previous_average, None,
            MonthOutcome.NONE, Decimal(0), None, Decimal(0),
            f"no data: no verified complete survey this month ({counts.incomplete} incomplete, "
            f"{counts.pending_verification} pending verification, {counts.disputed} disputed)",
        )
    average = Fraction(current.points, n)
    extra: ExtraAward | None = None
    extra_amount = Decimal(0)
    if current.points == 6 * n:
        extra, extra_amount = ExtraAward.ALL_A_BONUS, rules.all_a_bonus
    elif current.points == -6 * n:
        extra, extra_amount = ExtraAward.ALL_E_PENALTY, -rules.all_e_penalty
    jobs = f"{n} job{'s' if n != 1 else ''}"
    if previous_average is None:
        status, delta, outcome, amount = (
            ScoreStatus.NO_PREVIOUS_MONTH, None, MonthOutcome.NONE, Decimal(0))
        explanation = (f"average {fraction_text(average)} over {jobs}; no previous month "
                       "to compare with, so no reward or penalty")
    else:
        status, delta = ScoreStatus.SCORED, average - previous_average
        if delta > 0 or extra is ExtraAward.ALL_A_BONUS:
            outcome, amount = MonthOutcome.REWARD, rules.reward
        elif delta < 0 or extra is ExtraAward.ALL_E_PENALTY:
            outcome, amount = MonthOutcome.PENALTY, -rules.penalty
        else:
            outcome, amount = MonthOutcome.NONE, Decimal(0)
        explanation = (f"average {fraction_text(average)} over {jobs} minus previous "
                       f"{fraction_text(previous_average)} = {fraction_text(delta)}: {outcome}")
        if delta == 0 and extra is not None:
            explanation += (" (6 is the highest average, so a second all-A month still earns "
                            "the reward)" if extra is ExtraAward.ALL_A_BONUS else
                            " (-6 is the lowest average, so a second all-E month still costs "
                            "the penalty)")
    if extra is ExtraAward.ALL_A_BONUS:
        explanation += f"; every item of every survey is A: extra bonus {rules.all_a_bonus}"
    elif extra is ExtraAward.ALL_E_PENALTY:
        explanation += f"; every item of every survey is E: extra penalty {rules.all_e_penalty}"
    if counts.jobs_with_several_surveys:
        explanation += (f"; {counts.jobs_with_several_surveys} job(s) had more than one survey, "
                        f"{counts.superseded} superseded survey(s) not counted")
    return SatisfactionScore(
        status, counts, current.points, average,
        Fraction(current.timeliness, n), Fraction(current.quality, n),
        Fraction(current.attitude, n), previous_average, delta, outcome, amount,
        extra, extra_amount, explanation,
    )


def _staff_key(staff_id: StaffId) -> tuple[bool, str, Any]:
    return (staff_id is None, type(staff_id).__name__, staff_id)


def _staff_figures(
    tallies: Tallies, department: DepartmentId, surveys: Mapping[StaffId, SurveyTally],
    others: set[StaffId],
) -> tuple[StaffFigures, ...]:
    people = set(surveys) | others
    figures = []
    for person in sorted(people, key=_staff_key):
        tally = surveys.get(person, SurveyTally())
        figures.append(StaffFigures(
            person, tally.counted, tally.excluded, tally.points,
            tallies.complaints.get((department, person), 0),
            tallies.leads_found.get((department, person), 0),
            tallies.leads_won.get((department, person), 0),
        ))
    return tuple(figures)


def _department_key(department: DepartmentId) -> tuple[str, Any]:
    return (type(department).__name__, department)


def score_tallies(
    tallies: Tallies,
    rules: SupervisionRules = SEED_SUPERVISION_RULES,
    departments: Iterable[DepartmentId] | None = None,
    previous_averages: Mapping[DepartmentId, Fraction] | None = None,
) -> SupervisionReport:
    """Score every department from integer tallies (either path's).

    ``departments``: the departments to score; give it, since a department
    with no complaint at all earns the 0-complaint bonus even when it has no
    row anywhere. Default: every department seen in the tallies.
    ``previous_averages``: a stored previous-month average per department,
    used instead of the previous month's surveys in the tallies.
    """
    month = tallies.month
    chosen = tallies.departments() if departments is None else set(departments)
    this_month: dict[DepartmentId, dict[StaffId, SurveyTally]] = {}
    for (dept, staff), tally in tallies.surveys.items():
        this_month.setdefault(dept, {})[staff] = tally
    month_before: dict[DepartmentId, list[SurveyTally]] = {}
    for (dept, _), tally in tallies.previous_surveys.items():
        month_before.setdefault(dept, []).append(tally)
    complaints: dict[DepartmentId, int] = {}
    for (dept, _), count in tallies.complaints.items():
        complaints[dept] = complaints.get(dept, 0) + count
    named: dict[DepartmentId, set[StaffId]] = {}  # staff with complaints or leads
    for table in (tallies.complaints, tallies.leads_found, tallies.leads_won):
        for dept, staff in table:
            named.setdefault(dept, set()).add(staff)
    scores = []
    for department in sorted(chosen, key=_department_key):
        by_staff = this_month.get(department, {})
        current = SurveyTally.total(by_staff.values())
        before = SurveyTally.total(month_before.get(department, []))
        if previous_averages is not None and department in previous_averages:
            previous_average: Fraction | None = Fraction(previous_averages[department])
        else:
            previous_average = _average(before.points, before.counted)
        scores.append(DepartmentScore(
            department, month, _satisfaction(current, previous_average, rules),
            score_complaints(complaints.get(department, 0), rules),
            _staff_figures(tallies, department, by_staff, named.get(department, set())),
        ))
    return SupervisionReport(month, rules, tuple(scores))


def score_month(
    month: Month,
    surveys: Iterable[SurveyRow],
    complaints: Iterable[ComplaintRow] = (),
    leads: Iterable[LeadRow] = (),
    rules: SupervisionRules = SEED_SUPERVISION_RULES,
    departments: Iterable[DepartmentId] | None = None,
    previous_averages: Mapping[DepartmentId, Fraction] | None = None,
) -> SupervisionReport:
    """Monthly supervision score from dataclass rows (include the previous month's surveys)."""
    return score_tallies(tally_rows(month, surveys, complaints, leads, rules), rules,
                         departments, previous_averages)


def score_month_frame(
    month: Month,
    surveys: pd.DataFrame,
    complaints: pd.DataFrame | None = None,
    leads: pd.DataFrame | None = None,
    rules: SupervisionRules = SEED_SUPERVISION_RULES,
    departments: Iterable[DepartmentId] | None = None,
    previous_averages: Mapping[DepartmentId, Fraction] | None = None,
) -> SupervisionReport:
    """Monthly supervision score from DataFrames (column contract: `reports.survey_frame`)."""
    return score_tallies(tally_frames(month, surveys, complaints, leads, rules), rules,
                         departments, previous_averages)
