"""Vectorised tallies of surveys, complaints and leads from pandas DataFrames.

The fast path for the monthly supervision report over millions of rows read
from SQL. It applies exactly the rules of `reports.survey_tally` (same
buckets, same order, same points) with numpy, and returns the same `Tallies`,
so `reports.scoring` cannot tell which path produced them.

Column contract (extra columns are ignored):

``surveys``
    ``department_id``, ``staff_id`` (int or str; staff may be null),
    ``month`` ("YYYY-MM" strings, object / string / category dtype, or `Month`),
    ``timeliness``, ``quality``, ``attitude`` (either points as small ints
    -2..2, nullable, or letter codes "A".."E", null when not graded),
    ``source`` (`SurveySource` values), ``verification``
    (`SurveyVerification` values), ``complete`` (bool); optionally ``n``
    (a non-negative int: the row stands for ``n`` identical surveys of ``n``
    different jobs, as SQL ``GROUP BY ... count(*)`` returns them; default 1),
    ``job_id`` (null: a job of its own) and ``surveyed_at`` / ``survey_id``
    (tie-breaks), to choose one survey per job exactly as
    `reports.survey_tally.choose_job_surveys` does.
``complaints``
    ``department_id``, ``staff_id`` (nullable), ``month``.
``leads``
    ``department_id``, ``found_by`` (staff, nullable), ``found_month``,
    ``won_month`` (null while not won).

Unknown grade letters, points outside -2..2 or unknown enum strings raise
``ValueError`` naming the column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from crm.enums import Grade, SurveySource, SurveyVerification
from crm.surveys import ITEMS
from reports.periods import Month
from reports.rules import SEED_SUPERVISION_RULES, SURVEY_KINDS, SupervisionRules
from reports.survey_tally import (
    CUSTOMER_KEYED_SOURCES,
    GRADE_POINTS,
    DepartmentId,
    StaffId,
    SurveyTally,
    Tallies,
)

__all__ = [
    "SURVEY_COLUMNS",
    "COMPLAINT_COLUMNS",
    "LEAD_COLUMNS",
    "SurveyBuckets",
    "grade_points",
    "python_id",
    "survey_buckets",
    "choose_per_job",
    "tally_frames",
]

SURVEY_COLUMNS = (
    "department_id",
    "staff_id",
    "month",
    *ITEMS,
    "source",
    "verification",
    "complete",
)
COMPLAINT_COLUMNS = ("department_id", "staff_id", "month")
LEAD_COLUMNS = ("department_id", "found_by", "found_month", "won_month")

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks columns {missing}; expected {list(columns)}")


def _is_null(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and np.isnan(value)
    )


def python_id(value: Any) -> Any:
    """A department / staff id as a plain Python value: null -> None, 3.0 -> 3."""
    if _is_null(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _month(value: Any) -> Month | None:
    if _is_null(value):
        return None
    if isinstance(value, Month):
        return value
    return Month.parse(str(value))


def _factorize(series: pd.Series) -> tuple[IntArray, list[Any]]:
    """Codes 0..k-1 for every row (nulls get a code of their own) and the k uniques.

    Categorical columns reuse their codes; plain integer columns of a narrow
    range (ids) skip hashing: code = rank of the value among those present.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.int64)
        uniques = list(dtype.categories)
        if (codes < 0).any():
            codes[codes < 0] = len(uniques)
            uniques.append(None)
        return codes, uniques
    if isinstance(dtype, np.dtype) and dtype.kind in "iu" and len(series):
        values = series.to_numpy()
        low, high = int(values.min()), int(values.max())
        if high - low <= max(4 * len(values), 1 << 16):
            offsets = values - low
            present = np.bincount(offsets, minlength=high - low + 1) > 0
            renumber = np.cumsum(present) - 1
            return renumber[offsets].astype(np.int64), (np.flatnonzero(present) + low).tolist()
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    return codes.astype(np.int64, copy=False), list(uniques)


def _lookup(series: pd.Series, column: str, convert: Any) -> tuple[IntArray, list[Any]]:
    codes, uniques = _factorize(series)
    try:
        return codes, [convert(u) for u in uniques]
    except ValueError as exc:
        raise ValueError(f"column {column!r}: {exc}") from exc


def _table(values: list[Any], dtype: Any) -> npt.NDArray[Any]:
    return np.array(values or [0], dtype=dtype)


_LETTER_POINTS = {str(grade): points for grade, points in GRADE_POINTS.items()}


def grade_points(series: pd.Series, column: str) -> tuple[npt.NDArray[np.int8], BoolArray]:
    """Points -2..2 per row (0 where ungraded) and a mask of graded rows."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iu":
            values = series.to_numpy()  # plain ints: nothing missing, nothing fractional
            present = np.ones(len(values), dtype=np.bool_)
            fractional = False
        else:
            present = series.notna().to_numpy(dtype=np.bool_)
            values = series.to_numpy(dtype=np.float64, na_value=0.0)
            fractional = bool(np.any(values != np.round(values)))
        if values.size and (fractional or values.min() < -2 or values.max() > 2):
            graded = np.unique(values[present])
            raise ValueError(f"column {column!r}: points must be whole numbers -2..2, got {graded}")
        return values.astype(np.int8, copy=False), present

    def letter(value: Any) -> int | None:
        if _is_null(value):
            return None
        text = str(value)
        if text not in _LETTER_POINTS:
            raise ValueError(f"grade must be one of {[str(g) for g in Grade]}, got {text!r}")
        return _LETTER_POINTS[text]

    codes, uniques = _lookup(series, column, letter)
    points = _table([0 if p is None else p for p in uniques], np.int8)
    known = _table([p is not None for p in uniques], np.bool_)
    return points[codes], known[codes]


def _member_of(series: pd.Series, column: str, enum: type[Any], members: Any) -> BoolArray:
    def member(value: Any) -> bool:
        return not _is_null(value) and enum(str(value)) in members

    codes, uniques = _lookup(series, column, member)
    return _table(uniques, np.bool_)[codes]


# Bucket codes, one per survey row.
FIRST_HAND, VERIFIED, INCOMPLETE, PENDING, DISPUTED, SUPERSEDED = range(6)
_BUCKETS = 6
_TALLY_FIELDS = ("counted", "first_hand", "verified", *ITEMS,
                 "incomplete", "pending_verification", "disputed", "superseded",
                 "multi_survey_jobs")
#: standing of each bucket when choosing a job's survey (`reports.survey_tally.STANDING`)
_STANDING = np.array([0, 0, 3, 1, 2, 9], dtype=np.int8)


@dataclass(frozen=True)
class SurveyBuckets:
    """Per-row bucket code (``FIRST_HAND`` .. ``DISPUTED``) and item points (0 where ungraded)."""

    bucket: npt.NDArray[np.int8]
    timeliness: npt.NDArray[np.int8]
    quality: npt.NDArray[np.int8]
    attitude: npt.NDArray[np.int8]

    @property
    def counted(self) -> BoolArray:
        return self.bucket <= VERIFIED

    def mask(self, bucket: int) -> BoolArray:
        return np.equal(self.bucket, bucket)


def survey_buckets(frame: pd.DataFrame) -> SurveyBuckets:
    """Classify every survey row like `reports.survey_tally.survey_status`, vectorised.

    Needs the grade columns, ``source``, ``verification`` and ``complete``.
    """
    points = {}
    complete = frame["complete"].fillna(False).to_numpy(dtype=np.bool_).copy()
    for item in ITEMS:
        points[item], graded = grade_points(frame[item], item)
        complete &= graded

    def kind(value: Any) -> int:
        if _is_null(value):
            return PENDING
        return {
            SurveyVerification.FIRST_HAND: FIRST_HAND,
            SurveyVerification.VERIFIED: VERIFIED,
            SurveyVerification.PENDING: PENDING,
            SurveyVerification.DISPUTED: DISPUTED,
        }[SurveyVerification(str(value))]

    codes, kinds = _lookup(frame["verification"], "verification", kind)
    bucket = _table(kinds, np.int8)[codes]
    keyed = _member_of(frame["source"], "source", SurveySource, CUSTOMER_KEYED_SOURCES)
    bucket[(bucket == FIRST_HAND) & ~keyed] = PENDING
    bucket[~complete] = INCOMPLETE
    return SurveyBuckets(bucket, points["timeliness"], points["quality"], points["attitude"])


def _kind_tiers(frame: pd.DataFrame, rules: SupervisionRules) -> npt.NDArray[np.int8]:
    """The precedence tier of each row's kind (verified, else its source). A row counted
    "as if verified" by a rule (column ``stored_verification``: what was stored) ranks by
    what was stored: only a form the supervision department verified is ``verified``."""
    column = "stored_verification" if "stored_verification" in frame else "verification"
    verified = _member_of(frame[column], column, SurveyVerification,
                          {SurveyVerification.VERIFIED})
    codes, sources = _lookup(frame["source"], "source",
                             lambda v: None if _is_null(v) else str(SurveySource(str(v))))
    tier_of = {kind: rules.survey_tier(kind) for kind in SURVEY_KINDS}
    tiers = _table([tier_of.get(source, len(SURVEY_KINDS)) if source else len(SURVEY_KINDS)
                    for source in sources], np.int8)[codes]
    return np.where(verified, tier_of["verified"], tiers).astype(np.int8)


def choose_per_job(frame: pd.DataFrame, buckets: SurveyBuckets, month_codes: IntArray,
                   rules: SupervisionRules = SEED_SUPERVISION_RULES,
                   ) -> tuple[BoolArray, IntArray, IntArray]:
    """Per row: chosen for its job?, the position of the row chosen for its job, and the
    number of surveys the job had (``job_id`` null: a job of its own). Same order as
    `reports.survey_tally.choose_job_surveys`."""
    rows = len(frame)
    positions = np.arange(rows, dtype=np.int64)
    if "job_id" not in frame.columns or rows == 0:
        return np.ones(rows, dtype=np.bool_), positions, np.ones(rows, dtype=np.int64)
    jobs = frame["job_id"]
    has_job = jobs.notna().to_numpy(dtype=np.bool_)
    chosen = np.ones(rows, dtype=np.bool_)
    winner = positions.copy()
    size_of = np.ones(rows, dtype=np.int64)
    if not has_job.any():
        return chosen, winner, size_of
    job_codes = np.full(rows, -1, dtype=np.int64)
    if pd.api.types.is_integer_dtype(jobs.dtype):  # ids: no hashing (`_factorize`)
        job_codes[has_job] = _factorize(pd.Series(jobs[has_job].to_numpy(dtype=np.int64)))[0]
    else:
        job_codes = pd.factorize(jobs)[0].astype(np.int64)  # null -> -1
    n_jobs = int(job_codes.max()) + 1
    group = np.where(has_job, month_codes.astype(np.int64) * n_jobs + job_codes, 0)
    sizes = np.bincount(group[has_job], minlength=1)
    size_of[has_job] = sizes[group[has_job]]
    several = np.flatnonzero(size_of > 1)  # only jobs rated more than once need a choice
    if not len(several):
        return chosen, winner, size_of
    wanted = [c for c in ("surveyed_at", "survey_id", "source", "verification",
                          "stored_verification") if c in frame]
    sub = frame[wanted].iloc[several]
    if "surveyed_at" in frame.columns:
        taken = pd.to_datetime(sub["surveyed_at"], utc=True)
        missing = taken.isna().to_numpy(dtype=np.bool_)
        instants = taken.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        instants[missing] = np.iinfo(np.int64).max
    else:
        missing = np.ones(len(several), dtype=np.bool_)
        instants = np.zeros(len(several), dtype=np.int64)
    ids = np.full(len(several), np.iinfo(np.int64).max, dtype=np.int64)
    if "survey_id" in frame.columns:
        numeric = pd.to_numeric(sub["survey_id"], errors="coerce")
        known = numeric.notna().to_numpy(dtype=np.bool_)
        ids[known] = numeric[known].to_numpy(dtype=np.int64)
    # standing, then tier, then "taken at all": one small key (tiers < 8); then the earliest
    # taken, the lowest id, the first given: narrowed tie-break by tie-break, per job
    rank = (_STANDING[buckets.bucket[several]].astype(np.int64) * 16
            + _kind_tiers(sub, rules).astype(np.int64) * 2 + missing)
    groups = group[several]
    alive = np.ones(len(several), dtype=np.bool_)
    for key in (rank, instants, ids, several):
        best = np.full(len(sizes), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, groups[alive], key[alive])
        alive &= key == best[groups]
    first = np.full(len(sizes), -1, dtype=np.int64)
    first[groups[alive]] = several[alive]  # one survivor per job: the last key is unique
    winner[several] = first[groups]
    chosen[several] = winner[several] == several
    return chosen, winner, size_of


def _weights(frame: pd.DataFrame) -> npt.NDArray[np.float64] | None:
    """How many surveys each row stands for (column ``n``), or None: one each."""
    if "n" not in frame.columns:
        return None
    weight: npt.NDArray[np.float64] = frame["n"].to_numpy(dtype=np.float64, na_value=np.nan)
    if weight.size and (np.isnan(weight).any() or weight.min() < 0
                        or np.any(weight != np.round(weight))):
        raise ValueError("column 'n': survey counts must be whole numbers >= 0")
    return weight


def _tally_surveys(
    frame: pd.DataFrame, month: Month, rules: SupervisionRules = SEED_SUPERVISION_RULES,
) -> tuple[dict[tuple[DepartmentId, StaffId], SurveyTally],
           dict[tuple[DepartmentId, StaffId], SurveyTally]]:
    """Survey tallies of the scored month and of the month before."""
    _require(frame, SURVEY_COLUMNS, "surveys")
    month_codes, month_values = _lookup(frame["month"], "month", _month)
    wanted = np.array([m in (month, month.previous()) for m in month_values] or [False])
    if not wanted.all():
        keep = wanted[month_codes]
        frame = frame.loc[keep]
        month_codes = month_codes[keep]
    buckets = survey_buckets(frame)
    chosen, _, job_sizes = choose_per_job(frame, buckets, month_codes, rules)
    bucket = np.where(chosen, buckets.bucket, SUPERSEDED).astype(np.int8)
    several = (chosen & (job_sizes > 1)).astype(np.int64)
    counted = chosen & buckets.counted

    dept_codes, depts = _factorize(frame["department_id"])
    staff_codes, staff = _factorize(frame["staff_id"])
    n_months, n_staff = max(len(month_values), 1), max(len(staff), 1)
    combined = (dept_codes * n_months + month_codes) * n_staff + staff_codes
    all_bins = len(depts) * n_months * n_staff
    if all_bins <= max(4 * len(combined), 1 << 16):
        group_codes, size, sparse_keys = combined, all_bins, None  # dense: no hashing
    else:
        group_codes, sparse_keys = pd.factorize(combined)
        size = len(sparse_keys)
    weight = _weights(frame)
    per_bucket = np.bincount(group_codes * _BUCKETS + bucket, weights=weight,
                             minlength=size * _BUCKETS).reshape(size, _BUCKETS)
    if weight is not None:
        per_bucket = per_bucket.round().astype(np.int64)
    present = np.flatnonzero(per_bucket.sum(axis=1))
    sums = {
        "first_hand": per_bucket[:, FIRST_HAND],
        "verified": per_bucket[:, VERIFIED],
        "incomplete": per_bucket[:, INCOMPLETE],
        "pending_verification": per_bucket[:, PENDING],
        "disputed": per_bucket[:, DISPUTED],
        "superseded": per_bucket[:, SUPERSEDED],
        "multi_survey_jobs": np.bincount(group_codes, weights=several, minlength=size).round(),
    }
    sums["counted"] = sums["first_hand"] + sums["verified"]
    for item in ITEMS:
        weights = np.where(counted, getattr(buckets, item), 0)
        if weight is not None:
            weights = weights * weight
        sums[item] = np.bincount(group_codes, weights=weights, minlength=size).round()
    columns = {name: values[present].astype(np.int64).tolist() for name, values in sums.items()}
    group_keys = present if sparse_keys is None else np.asarray(sparse_keys)[present]

    dept_ids = [python_id(d) for d in depts]
    staff_ids = [python_id(s) for s in staff]
    rest = group_keys // n_staff
    keys = zip(
        [dept_ids[c] for c in (rest // n_months).tolist()],
        [staff_ids[c] for c in (group_keys % n_staff).tolist()],
        strict=True,
    )
    is_current = np.array([m == month for m in month_values] or [False])[rest % n_months]
    current: dict[tuple[DepartmentId, StaffId], SurveyTally] = {}
    before: dict[tuple[DepartmentId, StaffId], SurveyTally] = {}
    tallies = map(SurveyTally, *(columns[f] for f in _TALLY_FIELDS))
    for key, tally, now in zip(keys, tallies, is_current.tolist(), strict=True):
        (current if now else before)[key] = tally
    return current, before


def _count_by(
    frame: pd.DataFrame, staff_column: str, month_column: str, month: Month
) -> dict[tuple[DepartmentId, StaffId], int]:
    month_codes, month_values = _lookup(frame[month_column], month_column, _month)
    wanted = np.array([m == month for m in month_values] or [False])
    chosen = frame.loc[wanted[month_codes], ["department_id", staff_column]]
    counts = chosen.groupby(["department_id", staff_column], dropna=False, sort=False).size()
    result: dict[tuple[DepartmentId, StaffId], int] = {}
    for key, count in counts.items():
        assert isinstance(key, tuple)
        dept, person = key
        ids: tuple[DepartmentId, StaffId] = (python_id(dept), python_id(person))
        result[ids] = result.get(ids, 0) + int(count)
    return result


def tally_frames(
    month: Month,
    surveys: pd.DataFrame,
    complaints: pd.DataFrame | None = None,
    leads: pd.DataFrame | None = None,
    rules: SupervisionRules = SEED_SUPERVISION_RULES,
) -> Tallies:
    """Vectorised `Tallies` for scoring ``month``; rows of other months are ignored."""
    tallies = Tallies(month, *_tally_surveys(surveys, month, rules))
    if complaints is not None:
        _require(complaints, COMPLAINT_COLUMNS, "complaints")
        tallies.complaints.update(_count_by(complaints, "staff_id", "month", month))
    if leads is not None:
        _require(leads, LEAD_COLUMNS, "leads")
        tallies.leads_found.update(_count_by(leads, "found_by", "found_month", month))
        tallies.leads_won.update(_count_by(leads, "found_by", "won_month", month))
    return tallies
