"""Which new surveys count without verification (pure rule, `crm.surveys.first_hand_check`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm.enums import SurveySource, SurveyVerification
from crm.surveys import JobRef, first_hand_check

JOB = JobRef(1, "J-7", 3, 4, 5, datetime(2026, 5, 1, tzinfo=UTC),
             frozenset({"+8613800138000", "+862161234567"}))


@pytest.mark.parametrize("source", [SurveySource.IVR, SurveySource.CALLBACK])
@pytest.mark.parametrize("number", ["+8613800138000", "+862161234567"])
def test_a_call_from_or_to_any_number_on_the_customer_record_is_first_hand(
        source: SurveySource, number: str) -> None:
    assert first_hand_check(source, JOB, number) == (SurveyVerification.FIRST_HAND, None)


@pytest.mark.parametrize(("source", "number", "reason"), [
    (SurveySource.IVR, "+8613911112222", "not a number on that job's customer record"),
    (SurveySource.CALLBACK, "+8613911112222", "not a number on that job's customer record"),
    (SurveySource.IVR, None, "withheld or unknown number"),
    (SurveySource.AGENT, "+8613800138000", "keyed in by an agent"),
    (SurveySource.PAPER, None, "paper form"),
])
def test_anything_else_waits_for_verification_and_says_why(
        source: SurveySource, number: str | None, reason: str) -> None:
    verification, why = first_hand_check(source, JOB, number)
    assert verification is SurveyVerification.PENDING and why is not None and reason in why


def test_a_survey_without_a_job_is_never_first_hand() -> None:
    verification, why = first_hand_check(SurveySource.IVR, None, "+8613800138000")
    assert verification is SurveyVerification.PENDING and why == "IVR survey without a service job"
