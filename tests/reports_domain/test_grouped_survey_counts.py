"""Grouped survey rows (column ``n``, as SQL GROUP BY returns them) score like the rows themselves."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.periods import Month
from reports.scoring import score_month_frame
from reports.survey_tally import SurveyRow

from .survey_builders import survey_frame
from .test_score_paths_agree import SCORED, survey_rows

GROUP_BY = ["department_id", "month", "source", "verification", "complete",
            "timeliness", "quality", "attitude"]


def grouped(frame: pd.DataFrame) -> pd.DataFrame:
    """Department-level rows with their count, staff dropped (the trend months' shape)."""
    counts = frame.groupby(GROUP_BY, dropna=False, observed=True, sort=False).size()
    return counts.rename("n").reset_index().assign(staff_id=None)


@settings(max_examples=60, deadline=None)
@given(st.lists(survey_rows, max_size=40))
def test_department_scores_from_grouped_counts_equal_scores_from_rows(rows: list[SurveyRow]) -> None:
    # every group n >= 2; grouped rows stand for jobs surveyed once (the loader groups only those)
    frame = survey_frame(rows + rows).assign(staff_id=None, job_id=pd.NA)
    departments = [1, 2, 3]
    from_rows = score_month_frame(SCORED, frame, departments=departments)
    from_counts = score_month_frame(SCORED, grouped(frame), departments=departments)
    assert [d.satisfaction for d in from_counts.departments] == \
        [d.satisfaction for d in from_rows.departments]


def test_a_group_of_three_a_grade_surveys_counts_three_surveys_of_six_points() -> None:
    frame = pd.DataFrame({
        "department_id": [1], "staff_id": [None], "month": [str(Month(2024, 5))],
        "timeliness": ["A"], "quality": ["A"], "attitude": ["A"], "source": ["ivr"],
        "verification": ["first_hand"], "complete": [True], "n": [3],
    })
    score = score_month_frame(Month(2024, 5), frame, departments=[1]).departments[0]
    assert (score.satisfaction.surveys.counted, score.satisfaction.points) == (3, 18)


def test_a_fractional_survey_count_is_refused() -> None:
    frame = pd.DataFrame({
        "department_id": [1], "staff_id": [None], "month": ["2024-05"], "timeliness": ["A"],
        "quality": ["A"], "attitude": ["A"], "source": ["ivr"], "verification": ["first_hand"],
        "complete": [True], "n": [1.5],
    })
    with pytest.raises(ValueError, match="'n'"):
        score_month_frame(Month(2024, 5), frame, departments=[1])
