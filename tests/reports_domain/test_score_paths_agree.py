"""The vectorised DataFrame path scores exactly like the dataclass path."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from crm.enums import Grade, SurveySource, SurveyVerification
from reports.periods import Month
from reports.scoring import score_month, score_month_frame
from reports.survey_tally import ComplaintRow, LeadRow, SurveyRow

from .survey_builders import complaint_frame, lead_frame, survey_frame

MONTHS = [Month(2024, 3), Month(2024, 4), Month(2024, 5), Month(2024, 6)]
SCORED = Month(2024, 5)

staff_ids = st.one_of(st.none(), st.integers(1, 4))
departments = st.sampled_from([1, 2, 3])
months = st.sampled_from(MONTHS)
grades = st.one_of(st.none(), st.sampled_from(list(Grade)), st.sampled_from([Grade.A] * 3))

instants = st.one_of(st.none(), st.sampled_from(
    [datetime(2024, 5, day, tzinfo=UTC) for day in (1, 2, 3)]))
survey_rows = st.builds(
    SurveyRow,
    job_id=st.one_of(st.none(), st.integers(1, 8)),  # jobs rated more than once, and none
    surveyed_at=instants,
    department_id=departments,
    staff_id=staff_ids,
    month=months,
    timeliness=grades,
    quality=grades,
    attitude=grades,
    source=st.sampled_from(list(SurveySource)),
    verification=st.sampled_from(list(SurveyVerification)),
    complete=st.sampled_from([True, True, True, False]),
)
complaint_rows = st.builds(ComplaintRow, complaint_id=st.integers(), department_id=departments,
                           staff_id=staff_ids, month=months)
lead_rows = st.builds(LeadRow, lead_id=st.integers(), department_id=departments,
                      found_by=staff_ids, found_month=months,
                      won_month=st.one_of(st.none(), months))


@settings(max_examples=150, deadline=None)
@given(
    surveys=st.lists(survey_rows, max_size=40),
    complaints=st.lists(complaint_rows, max_size=20),
    leads=st.lists(lead_rows, max_size=10),
    as_points=st.booleans(),
)
def test_dataframe_and_dataclass_paths_give_identical_reports(
    surveys: list[SurveyRow], complaints: list[ComplaintRow], leads: list[LeadRow],
    as_points: bool,
) -> None:
    expected = score_month(SCORED, surveys, complaints, leads)
    actual = score_month_frame(SCORED, survey_frame(surveys, as_points), complaint_frame(complaints),
                               lead_frame(leads))
    assert actual == expected
    assert actual.to_dict() == expected.to_dict()


@settings(max_examples=30, deadline=None)
@given(surveys=st.lists(survey_rows, min_size=1, max_size=30))
def test_paths_agree_with_text_department_and_staff_ids(surveys: list[SurveyRow]) -> None:
    renamed = [
        SurveyRow(r.job_id, f"dept-{r.department_id}",
                  None if r.staff_id is None else f"tech-{r.staff_id}", r.month, r.timeliness,
                  r.quality, r.attitude, r.source, r.verification, r.complete)
        for r in surveys
    ]
    assert score_month_frame(SCORED, survey_frame(renamed)) == score_month(SCORED, renamed)
