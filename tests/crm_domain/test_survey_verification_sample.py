"""Which agent-keyed surveys the supervisors phone to verify (001)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.callbacks import SurveyForSampling, sample_size, verification_sample
from crm.enums import SurveySource


def surveys(
    n: int,
    department: int = 1,
    month: str = "2024-05",
    first_id: int = 1,
    source: SurveySource = SurveySource.AGENT,
) -> list[SurveyForSampling]:
    return [SurveyForSampling(first_id + i, department, month, source) for i in range(n)]


@pytest.mark.parametrize(("n", "size"), [(50, 5), (31, 4), (20, 3), (2, 2), (0, 0)])
def test_sample_is_ten_percent_rounded_up_but_at_least_three(n: int, size: int) -> None:
    assert sample_size(n) == size


def test_department_with_40_agent_keyed_surveys_gets_4_checked() -> None:
    assert len(verification_sample(surveys(40), seed=1)) == 4


def test_ivr_surveys_are_first_hand_and_never_sampled() -> None:
    mixed = surveys(5, source=SurveySource.IVR) + surveys(2, first_id=100)
    picked = verification_sample(mixed, seed=1)
    assert {s.survey_id for s in picked} == {100, 101}


def test_each_department_and_month_gets_its_own_minimum() -> None:
    pool = (
        surveys(10, department=1, month="2024-04")
        + surveys(10, department=1, month="2024-05", first_id=11)
        + surveys(10, department=2, month="2024-05", first_id=21)
    )
    picked = verification_sample(pool, seed=7)
    counts = {(d, m): 0 for d, m in [(1, "2024-04"), (1, "2024-05"), (2, "2024-05")]}
    for survey in picked:
        counts[(survey.department_id, survey.month)] += 1
    assert counts == {(1, "2024-04"): 3, (1, "2024-05"): 3, (2, "2024-05"): 3}


def test_percentage_and_minimum_are_configurable() -> None:
    picked = verification_sample(surveys(10), percentage=50, minimum_per_department_month=0, seed=1)
    assert len(picked) == 5


def test_same_seed_picks_the_same_surveys_whatever_their_order() -> None:
    pool = surveys(60)
    shuffled = pool[:]
    random.Random(3).shuffle(shuffled)
    assert verification_sample(pool, seed="2024-05") == verification_sample(
        shuffled, seed="2024-05"
    )


def test_another_seed_picks_other_surveys() -> None:
    pool = surveys(200)
    assert verification_sample(pool, seed=1) != verification_sample(pool, seed=2)


@given(st.integers(0, 500), st.integers(0, 100), st.integers(0, 10))
def test_sample_size_is_never_more_than_there_are_nor_below_the_rules(
    n: int, pct: int, minimum: int
) -> None:
    size = sample_size(n, pct, minimum)
    assert min(minimum, n) <= size <= n
    assert size * 100 >= pct * n
