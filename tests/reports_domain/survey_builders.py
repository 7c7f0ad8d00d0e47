"""Small builders for survey, complaint and lead rows in the supervision tests."""

from __future__ import annotations

from typing import Any

import pandas as pd

from crm.enums import Grade, SurveySource, SurveyVerification
from reports.periods import Month
from reports.survey_tally import ComplaintRow, LeadRow, SurveyRow

MAY = Month(2024, 5)
APRIL = Month(2024, 4)

_job_ids = iter(range(1, 10**9))


def survey(
    grades: str,
    month: Month = MAY,
    department: int | str = 1,
    staff: int | str | None = 10,
    source: SurveySource = SurveySource.IVR,
    verification: SurveyVerification = SurveyVerification.FIRST_HAND,
    complete: bool = True,
) -> SurveyRow:
    """``survey("AAC")``: timeliness A, quality A, attitude C; "-" for an ungraded item."""
    items = [None if g == "-" else Grade(g) for g in grades]
    return SurveyRow(next(_job_ids), department, staff, month, items[0], items[1], items[2],
                     source, verification, complete)


def surveys_averaging(total: int, n: int, month: Month, **kwargs: Any) -> list[SurveyRow]:
    """``n`` surveys whose points add up to ``total`` (each survey within -6..6)."""
    letters = {2: "A", 1: "B", 0: "C", -1: "D", -2: "E"}
    base, extra = divmod(total, n)
    rows = []
    for index in range(n):
        points = base + (1 if index < extra else 0)
        assert -6 <= points <= 6, "total out of reach for n surveys"
        third, rest = divmod(points, 3)
        items = [third + (1 if slot < rest else 0) for slot in range(3)]
        rows.append(survey("".join(letters[p] for p in items), month, **kwargs))
    assert sum(_points(r) for r in rows) == total
    return rows


def _points(row: SurveyRow) -> int:
    value = {"A": 2, "B": 1, "C": 0, "D": -1, "E": -2}
    return sum(value[str(g)] for g in (row.timeliness, row.quality, row.attitude))


def complaint(month: Month = MAY, department: int | str = 1, staff: int | str | None = 10) -> ComplaintRow:
    return ComplaintRow(next(_job_ids), department, staff, month)


def lead(found_by: int | str | None, found: Month = MAY, won: Month | None = None,
         department: int | str = 1) -> LeadRow:
    return LeadRow(next(_job_ids), department, found_by, found, won)


def survey_frame(rows: list[SurveyRow], as_points: bool = False) -> pd.DataFrame:
    """The DataFrame an adapter would read from SQL for these rows."""
    points = {"A": 2, "B": 1, "C": 0, "D": -1, "E": -2}

    def grade(g: Grade | None) -> Any:
        if g is None:
            return None
        return points[str(g)] if as_points else str(g)

    frame = pd.DataFrame({
        "department_id": [r.department_id for r in rows],
        "staff_id": [r.staff_id for r in rows],
        "month": [str(r.month) for r in rows],
        "timeliness": [grade(r.timeliness) for r in rows],
        "quality": [grade(r.quality) for r in rows],
        "attitude": [grade(r.attitude) for r in rows],
        "source": [str(r.source) for r in rows],
        "verification": [str(r.verification) for r in rows],
        "complete": [r.complete for r in rows],
        "job_id": pd.array([r.job_id for r in rows], dtype="Int64"),
        "surveyed_at": pd.to_datetime(pd.Series([r.surveyed_at for r in rows], dtype=object),
                                      utc=True),
    })
    if as_points:
        for item in ("timeliness", "quality", "attitude"):
            frame[item] = frame[item].astype("Int8")
    return frame


def complaint_frame(rows: list[ComplaintRow]) -> pd.DataFrame:
    return pd.DataFrame({
        "department_id": [r.department_id for r in rows],
        "staff_id": [r.staff_id for r in rows],
        "month": [str(r.month) for r in rows],
    }, columns=["department_id", "staff_id", "month"])


def lead_frame(rows: list[LeadRow]) -> pd.DataFrame:
    return pd.DataFrame({
        "department_id": [r.department_id for r in rows],
        "found_by": [r.found_by for r in rows],
        "found_month": [str(r.found_month) for r in rows],
        "won_month": [None if r.won_month is None else str(r.won_month) for r in rows],
    }, columns=["department_id", "found_by", "found_month", "won_month"])
