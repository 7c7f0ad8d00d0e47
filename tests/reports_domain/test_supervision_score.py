"""The supervision department's monthly satisfaction score (seed 001)."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest

from crm.enums import SurveySource, SurveyVerification
from reports.periods import Month
from reports.rules import SupervisionRules
from reports.scoring import (
    ExtraAward,
    MonthOutcome,
    ScoreStatus,
    score_month,
    score_month_frame,
)

from .survey_builders import (
    APRIL,
    MAY,
    complaint,
    lead,
    survey,
    survey_frame,
    surveys_averaging,
)


def seed_may_and_april() -> list:
    # May: 10 jobs, total 40. April: average 3.5 (4 jobs, total 14).
    return surveys_averaging(40, 10, MAY) + surveys_averaging(14, 4, APRIL)


def test_seed_example_may_average_4_after_april_3_5_earns_1000() -> None:
    score = score_month(MAY, seed_may_and_april()).department(1).satisfaction
    assert score.surveys.counted == 10
    assert score.points == 40
    assert score.average == 4
    assert score.previous_average == Fraction(7, 2)
    assert score.delta == Fraction(1, 2)
    assert score.outcome is MonthOutcome.REWARD
    assert score.amount == Decimal(1000)
    assert score.status is ScoreStatus.SCORED


def test_seed_example_serialises_exact_decimals() -> None:
    data = score_month(MAY, seed_may_and_april()).to_dict()
    satisfaction = data["departments"][0]["satisfaction"]
    assert (satisfaction["average"], satisfaction["previous_average"], satisfaction["delta"]) == (
        "4", "3.5", "0.5")
    assert satisfaction["amount"] == "1000"
    assert json.loads(json.dumps(data)) == data
    assert data["rules"] == SupervisionRules().to_dict()


def test_lower_average_than_last_month_costs_the_penalty() -> None:
    rows = surveys_averaging(30, 10, MAY) + surveys_averaging(14, 4, APRIL)
    score = score_month(MAY, rows).department(1).satisfaction
    assert score.delta == Fraction(-1, 2)
    assert score.outcome is MonthOutcome.PENALTY
    assert score.amount == Decimal(-1000)


def test_equal_averages_are_neither_rewarded_nor_penalised() -> None:
    # 1/3 + 1/3 + 1/3 would not be exactly 1 in floats; averages are exact fractions.
    rows = surveys_averaging(10, 3, MAY) + surveys_averaging(20, 6, APRIL)
    score = score_month(MAY, rows).department(1).satisfaction
    assert score.delta == 0
    assert score.outcome is MonthOutcome.NONE
    assert score.amount == 0


def test_reward_and_penalty_amounts_are_configurable() -> None:
    rules = SupervisionRules(reward=Decimal(2500), penalty=Decimal(800))
    up = score_month(MAY, seed_may_and_april(), rules=rules).department(1).satisfaction
    down = score_month(MAY, surveys_averaging(30, 10, MAY) + surveys_averaging(14, 4, APRIL),
                       rules=rules).department(1).satisfaction
    assert (up.amount, down.amount) == (Decimal(2500), Decimal(-800))


def test_item_averages_are_item_totals_over_surveyed_jobs() -> None:
    rows = [survey("ABC"), survey("AAE"), survey("BCD"), survey("ABC", APRIL)]
    score = score_month(MAY, rows).department(1).satisfaction
    assert score.timeliness_average == Fraction(5, 3)
    assert score.quality_average == Fraction(1)
    assert score.attitude_average == Fraction(-1)
    assert score.average == Fraction(5, 3)


def test_a_month_of_all_a_earns_the_extra_bonus_on_top_of_the_reward() -> None:
    rules = SupervisionRules(all_a_bonus=Decimal(3000))
    rows = [survey("AAA") for _ in range(5)] + surveys_averaging(10, 4, APRIL)
    result = score_month(MAY, rows, rules=rules).department(1)
    assert result.satisfaction.average == 6
    assert result.satisfaction.extra is ExtraAward.ALL_A_BONUS
    assert result.satisfaction.extra_amount == Decimal(3000)
    assert result.satisfaction.amount == Decimal(1000)
    assert result.total_amount == Decimal(1000 + 3000 + 5000)


def test_a_month_of_all_e_costs_the_extra_penalty() -> None:
    rules = SupervisionRules(all_e_penalty=Decimal(4000))
    rows = [survey("EEE") for _ in range(3)] + surveys_averaging(0, 2, APRIL)
    satisfaction = score_month(MAY, rows, rules=rules).department(1).satisfaction
    assert satisfaction.extra is ExtraAward.ALL_E_PENALTY
    assert satisfaction.extra_amount == Decimal(-4000)
    assert satisfaction.amount == Decimal(-1000)


def test_one_b_among_all_a_surveys_is_no_all_a_month() -> None:
    rows = [survey("AAA"), survey("AAA"), survey("AAB")]
    satisfaction = score_month(MAY, rows).department(1).satisfaction
    assert satisfaction.extra is None and satisfaction.extra_amount == 0


def test_unverified_disputed_and_incomplete_surveys_are_excluded_and_counted_by_reason() -> None:
    rows = [
        survey("AAA"),  # IVR, first hand: counts
        survey("CCC", source=SurveySource.AGENT, verification=SurveyVerification.VERIFIED),
        survey("EEE", source=SurveySource.AGENT, verification=SurveyVerification.PENDING),
        survey("EEE", source=SurveySource.PAPER, verification=SurveyVerification.DISPUTED),
        survey("EEE", complete=False),
        survey("AE-"),  # an item never graded
        survey("EEE", source=SurveySource.AGENT, verification=SurveyVerification.DISPUTED,
               complete=False),  # incomplete wins over disputed
    ]
    satisfaction = score_month(MAY, rows).department(1).satisfaction
    counts = satisfaction.surveys
    assert (counts.counted, counts.first_hand, counts.verified) == (2, 1, 1)
    assert (counts.incomplete, counts.pending_verification, counts.disputed) == (3, 1, 1)
    assert satisfaction.points == 6
    assert satisfaction.average == 3


def test_an_agent_cannot_vouch_first_hand_for_a_survey_they_keyed_in() -> None:
    rows = [survey("AAA", source=SurveySource.AGENT, verification=SurveyVerification.FIRST_HAND),
            survey("CCC")]
    counts = score_month(MAY, rows).department(1).satisfaction.surveys
    assert (counts.counted, counts.pending_verification) == (1, 1)


def test_a_month_without_counted_surveys_is_no_data_not_a_division_by_zero() -> None:
    rows = [survey("AAA", verification=SurveyVerification.DISPUTED)] + surveys_averaging(
        14, 4, APRIL)
    satisfaction = score_month(MAY, rows).department(1).satisfaction
    assert satisfaction.status is ScoreStatus.NO_DATA
    assert satisfaction.average is None and satisfaction.delta is None
    assert satisfaction.outcome is MonthOutcome.NONE and satisfaction.amount == 0
    assert satisfaction.extra is None
    assert satisfaction.surveys.disputed == 1
    assert "no data" in satisfaction.explanation
    assert satisfaction.to_dict()["average"] is None


def test_a_department_with_no_survey_rows_at_all_is_no_data() -> None:
    report = score_month(MAY, [], departments=[7])
    assert report.department(7).satisfaction.status is ScoreStatus.NO_DATA


def test_without_previous_month_there_is_no_delta_reward_or_penalty() -> None:
    satisfaction = score_month(MAY, surveys_averaging(40, 10, MAY)).department(1).satisfaction
    assert satisfaction.status is ScoreStatus.NO_PREVIOUS_MONTH
    assert satisfaction.previous_average is None and satisfaction.delta is None
    assert satisfaction.outcome is MonthOutcome.NONE and satisfaction.amount == 0
    assert "no previous month" in satisfaction.explanation


def test_previous_month_with_only_unverified_surveys_counts_as_no_previous_month() -> None:
    rows = surveys_averaging(40, 10, MAY) + [
        survey("AAA", APRIL, source=SurveySource.AGENT, verification=SurveyVerification.PENDING)]
    satisfaction = score_month(MAY, rows).department(1).satisfaction
    assert satisfaction.status is ScoreStatus.NO_PREVIOUS_MONTH


def test_a_stored_previous_average_replaces_last_months_surveys() -> None:
    rows = surveys_averaging(40, 10, MAY) + surveys_averaging(20, 4, APRIL)  # April 5 here
    satisfaction = score_month(MAY, rows, previous_averages={1: Fraction(7, 2)}).department(1)
    assert satisfaction.satisfaction.previous_average == Fraction(7, 2)
    assert satisfaction.satisfaction.outcome is MonthOutcome.REWARD


def test_surveys_of_older_months_do_not_count_as_previous_month() -> None:
    rows = surveys_averaging(40, 10, MAY) + surveys_averaging(14, 4, Month(2024, 3))
    assert score_month(MAY, rows).department(1).satisfaction.status is (
        ScoreStatus.NO_PREVIOUS_MONTH)


def test_january_compares_with_december_of_the_year_before() -> None:
    rows = surveys_averaging(4, 2, Month(2025, 1)) + surveys_averaging(2, 2, Month(2024, 12))
    satisfaction = score_month(Month(2025, 1), rows).department(1).satisfaction
    assert satisfaction.delta == 1


def test_departments_are_scored_separately() -> None:
    rows = (surveys_averaging(40, 10, MAY, department=1) + surveys_averaging(14, 4, APRIL, department=1)
            + surveys_averaging(10, 10, MAY, department=2) + surveys_averaging(14, 4, APRIL, department=2))
    report = score_month(MAY, rows)
    assert [d.department_id for d in report.departments] == [1, 2]
    assert report.department(1).satisfaction.outcome is MonthOutcome.REWARD
    assert report.department(2).satisfaction.outcome is MonthOutcome.PENALTY


def test_per_staff_figures_let_the_head_split_the_award() -> None:
    rows = [survey("AAA", staff=10), survey("AAB", staff=10), survey("CCC", staff=11),
            survey("EEE", staff=11, verification=SurveyVerification.DISPUTED),
            survey("AAA", APRIL, staff=12)]
    complaints = [complaint(staff=11), complaint(staff=11), complaint(staff=None),
                  complaint(APRIL, staff=10)]
    leads = [lead(10), lead(10, won=MAY), lead(12, found=APRIL, won=MAY), lead(11, won=Month(2024, 6))]
    report = score_month(MAY, rows, complaints, leads)
    staff = {s.staff_id: s for s in report.department(1).staff}
    assert set(staff) == {10, 11, 12, None}
    assert (staff[10].surveys, staff[10].points, staff[10].average) == (2, 11, Fraction(11, 2))
    assert (staff[11].surveys, staff[11].surveys_excluded, staff[11].average) == (1, 1, 0)
    assert (staff[11].complaints, staff[None].complaints, staff[10].complaints) == (2, 1, 0)
    assert (staff[10].leads_found, staff[10].leads_won) == (2, 1)
    assert (staff[12].leads_found, staff[12].leads_won, staff[12].surveys) == (0, 1, 0)
    assert (staff[11].leads_found, staff[11].leads_won) == (1, 0)
    assert staff[12].average is None
    assert report.department(1).complaints.complaints == 3


def test_per_staff_points_add_up_to_the_department_total() -> None:
    rows = [survey(g, staff=s) for g, s in (("ABC", 1), ("BBD", 2), ("AEE", 1), ("CCA", 3))]
    department = score_month(MAY, rows).department(1)
    assert sum(s.points for s in department.staff) == department.satisfaction.points
    assert sum(s.surveys for s in department.staff) == department.satisfaction.surveys.counted


def test_the_dataframe_path_gives_the_seed_example_too() -> None:
    rows = seed_may_and_april()
    by_letters = score_month_frame(MAY, survey_frame(rows))
    by_points = score_month_frame(MAY, survey_frame(rows, as_points=True))
    assert by_letters == by_points == score_month(MAY, rows)
    assert by_points.department(1).satisfaction.amount == Decimal(1000)


def test_the_dataframe_path_refuses_an_unknown_grade() -> None:
    frame = survey_frame([survey("AAA")])
    frame.loc[0, "quality"] = "F"
    with pytest.raises(ValueError, match="quality"):
        score_month_frame(MAY, frame)


def test_the_dataframe_path_refuses_points_outside_minus_2_to_2() -> None:
    frame = survey_frame([survey("AAA")], as_points=True)
    frame.loc[0, "attitude"] = 3
    with pytest.raises(ValueError, match="attitude"):
        score_month_frame(MAY, frame)
