"""n is the number of repair jobs: one survey per job counts, chosen by the configured precedence."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crm.enums import SurveySource, SurveyVerification
from reports.rules import SupervisionRules, parse_survey_precedence
from reports.scoring import MonthOutcome, ScoreStatus, score_month, score_month_frame
from reports.survey_tally import SurveyStatus, choose_job_surveys

from .survey_builders import APRIL, MAY, survey, survey_frame, surveys_averaging

IVR, CALLBACK, PAPER, AGENT = (SurveySource.IVR, SurveySource.CALLBACK, SurveySource.PAPER,
                               SurveySource.AGENT)
PENDING, VERIFIED = SurveyVerification.PENDING, SurveyVerification.VERIFIED


def on_job(job: int, letters: str, source: SurveySource, day: int,
           verification: SurveyVerification | None = None) -> object:
    if verification is None:
        verification = (SurveyVerification.FIRST_HAND if source in (IVR, CALLBACK)
                        else PENDING)
    return replace(survey(letters, source=source, verification=verification), job_id=job,
                   surveyed_at=datetime(2024, 5, day, tzinfo=UTC))


def both_paths(rows: list, **kwargs: object):  # type: ignore[no-untyped-def]
    by_rows = score_month(MAY, rows, **kwargs)  # type: ignore[arg-type]
    by_frame = score_month_frame(MAY, survey_frame(rows), **kwargs)  # type: ignore[arg-type]
    assert by_rows == by_frame
    return by_rows.department(1).satisfaction


def test_a_job_rated_by_ivr_callback_and_paper_counts_once_by_its_callback_survey() -> None:
    rows = [on_job(1, "EEE", IVR, 2), on_job(1, "AAA", CALLBACK, 3), on_job(1, "CCC", PAPER, 4)]
    satisfaction = both_paths(rows)
    assert satisfaction.surveys.counted == 1 and satisfaction.points == 6
    assert satisfaction.surveys.superseded == 2
    assert satisfaction.surveys.jobs_with_several_surveys == 1
    assert satisfaction.surveys.pending_verification == 0  # the paper form is not a job
    assert "1 job(s) had more than one survey" in satisfaction.explanation


def test_a_supervisor_verified_form_outranks_the_callback_survey() -> None:
    rows = [on_job(1, "AAA", CALLBACK, 2), on_job(1, "CCC", PAPER, 3, VERIFIED)]
    assert both_paths(rows).points == 0


def test_a_pending_form_does_not_hold_back_a_job_that_has_a_first_hand_survey() -> None:
    rows = [on_job(1, "AAA", AGENT, 2), on_job(1, "BBB", IVR, 3)]
    satisfaction = both_paths(rows)
    assert (satisfaction.surveys.counted, satisfaction.points) == (1, 3)


def test_of_two_ivr_surveys_of_one_job_the_first_one_given_counts() -> None:
    rows = [on_job(1, "EEE", IVR, 5), on_job(1, "AAA", IVR, 2)]
    assert both_paths(rows).points == 6


def test_the_precedence_is_configurable() -> None:
    rules = SupervisionRules(survey_precedence=parse_survey_precedence(
        "verified,ivr,callback,paper/agent"))
    rows = [on_job(1, "EEE", IVR, 2), on_job(1, "AAA", CALLBACK, 3)]
    assert both_paths(rows, rules=rules).points == -6
    assert rules.to_dict()["survey_precedence"] == "verified,ivr,callback,paper/agent"
    assert SupervisionRules.from_dict(rules.to_dict()) == rules


@pytest.mark.parametrize("text", ["verified,callback,ivr", "verified,callback,ivr,paper,agent,sms",
                                  "verified,callback,ivr,paper/paper"])
def test_a_precedence_that_misses_or_repeats_a_kind_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="exactly once"):
        parse_survey_precedence(text)


def test_superseded_surveys_say_which_survey_stands_for_their_job() -> None:
    rows = [on_job(1, "EEE", IVR, 2), on_job(1, "AAA", CALLBACK, 3)]
    ivr, callback = choose_job_surveys(rows)
    assert ivr.status is SurveyStatus.SUPERSEDED and ivr.superseded_by is rows[1]
    assert callback.chosen and callback.status is SurveyStatus.COUNTED_FIRST_HAND
    assert callback.job_surveys == 2


def test_two_consecutive_all_a_months_earn_the_base_reward_plus_the_extra_bonus() -> None:
    rows = [survey("AAA") for _ in range(3)] + [survey("AAA", APRIL) for _ in range(2)]
    satisfaction = both_paths(rows, rules=SupervisionRules(all_a_bonus=Decimal(2000)))
    assert satisfaction.delta == 0 and satisfaction.outcome is MonthOutcome.REWARD
    assert (satisfaction.amount, satisfaction.extra_amount) == (Decimal(1000), Decimal(2000))
    assert satisfaction.explanation == (
        "average 6 over 3 jobs minus previous 6 = 0: reward (6 is the highest average, so a "
        "second all-A month still earns the reward); every item of every survey is A: "
        "extra bonus 2000")


def test_two_consecutive_all_e_months_cost_the_base_penalty_plus_the_extra_penalty() -> None:
    rows = [survey("EEE") for _ in range(2)] + [survey("EEE", APRIL)]
    satisfaction = both_paths(rows)
    assert satisfaction.outcome is MonthOutcome.PENALTY
    assert (satisfaction.amount, satisfaction.extra_amount) == (Decimal(-1000), Decimal(-1000))
    assert satisfaction.explanation.endswith("every item of every survey is E: extra penalty 1000")


def test_an_all_e_month_after_a_better_one_says_penalty_and_extra_penalty() -> None:
    rows = [survey("EEE")] + surveys_averaging(4, 2, APRIL)
    satisfaction = both_paths(rows)
    assert satisfaction.explanation == (
        "average -6 over 1 job minus previous 2 = -8: penalty; every item of every survey is "
        "E: extra penalty 1000")


def test_a_department_with_no_surveys_explains_there_is_no_data() -> None:
    report = score_month(MAY, [survey("AAA", department=1)], departments=[1, 2])
    satisfaction = report.department(2).satisfaction
    assert satisfaction.status is ScoreStatus.NO_DATA and satisfaction.amount == 0
    assert satisfaction.explanation == (
        "no data: no verified complete survey this month (0 incomplete, 0 pending "
        "verification, 0 disputed)")


def test_a_month_with_no_previous_month_explains_why_there_is_no_reward() -> None:
    satisfaction = both_paths([survey("AAB"), survey("AAC")])
    assert satisfaction.status is ScoreStatus.NO_PREVIOUS_MONTH
    assert satisfaction.explanation == (
        "average 4.5 over 2 jobs; no previous month to compare with, so no reward or penalty")


def test_a_form_counted_as_if_checked_does_not_outrank_the_customers_callback_survey() -> None:
    # SURVEY_SAMPLE_UNSAMPLED=count scores an unchecked form as verified; it is still a paper
    # form when one survey is picked for the job (the stored verification decides the kind)
    rows = [on_job(1, "AAA", CALLBACK, 3), on_job(1, "EEE", PAPER, 2, VERIFIED)]
    frame = survey_frame(rows).assign(stored_verification=["first_hand", "pending"])
    satisfaction = score_month_frame(MAY, frame).department(1).satisfaction
    assert (satisfaction.surveys.counted, satisfaction.points) == (1, 6)
