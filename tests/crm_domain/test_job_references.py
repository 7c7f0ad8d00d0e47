"""A job reference keyed on a phone keypad: its digits name the job (crm.job_references)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from crm.job_references import keyed_digits, reference_spellings, single_job


@dataclass(frozen=True)
class Job:
    id: int
    reference: str


@pytest.mark.parametrize(("keyed", "digits"), [
    ("20261105", "20261105"), ("２０２６１１０５", "20261105"), (" 20261105#", "20261105"),
    ("J-20261105", None), ("", None), ("2026-1105", None),
])
def test_only_digits_are_keyed_digits(keyed: str, digits: str | None) -> None:
    assert keyed_digits(keyed) == digits


def test_keyed_digits_may_name_the_reference_with_its_letter_prefix() -> None:
    assert reference_spellings("20261105") == ["20261105", "J-20261105", "J20261105"]


def test_a_reference_with_letters_names_only_itself() -> None:
    assert reference_spellings(" J-20261105 ") == ["J-20261105"]


def test_digits_naming_one_job_name_it() -> None:
    job = Job(7, "J-20261105")
    assert single_job([None, job, job]) is job


def test_digits_naming_several_jobs_name_none() -> None:
    assert single_job([Job(7, "20261105"), Job(8, "J-20261105")]) is None
    assert single_job([None, None]) is None
