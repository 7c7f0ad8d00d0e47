"""The monthly complaint count band and the administrative-action flag (seed 001)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reports.rules import ComplaintBand, SupervisionRules
from reports.scoring import score_complaints, score_month

from .survey_builders import APRIL, MAY, complaint


@pytest.mark.parametrize(
    ("complaints", "amount", "band"),
    [
        (0, 5000, "0"),
        (1, 0, "1-5"),
        (5, 0, "1-5"),
        (6, -3000, "6-10"),
        (10, -3000, "6-10"),
        (11, -5000, "11-15"),
        (15, -5000, "11-15"),
        (16, -10000, "16+"),
        (29, -10000, "16+"),
        (30, -10000, "16+"),
    ],
)
def test_complaint_count_falls_in_the_seed_band(complaints: int, amount: int, band: str) -> None:
    score = score_complaints(complaints)
    assert score.amount == Decimal(amount)
    assert score.band == band


@pytest.mark.parametrize(("complaints", "flagged"), [(0, False), (16, False), (29, False),
                                                     (30, True), (31, True)])
def test_thirty_complaints_flag_the_department_for_administrative_action(
    complaints: int, flagged: bool
) -> None:
    assert score_complaints(complaints).administrative_action is flagged


def test_the_administrative_action_threshold_is_configurable() -> None:
    rules = SupervisionRules(administrative_action_at=20)
    assert score_complaints(19, rules).administrative_action is False
    assert score_complaints(20, rules).administrative_action is True


def test_the_band_table_is_configurable() -> None:
    rules = SupervisionRules(complaint_bands=(
        ComplaintBand(0, 2, Decimal(100)), ComplaintBand(3, None, Decimal(-50))))
    assert score_complaints(2, rules).amount == Decimal(100)
    assert score_complaints(3, rules).amount == Decimal(-50)


@pytest.mark.parametrize("bands", [
    (ComplaintBand(1, None, Decimal(0)),),  # does not start at 0
    (ComplaintBand(0, 3, Decimal(0)), ComplaintBand(5, None, Decimal(0))),  # gap at 4
    (ComplaintBand(0, 3, Decimal(0)), ComplaintBand(3, None, Decimal(0))),  # overlap at 3
    (ComplaintBand(0, 3, Decimal(0)),),  # no open-ended last band
    (ComplaintBand(0, None, Decimal(0)), ComplaintBand(1, None, Decimal(0))),
])
def test_a_band_table_with_a_gap_or_overlap_is_refused(bands: tuple[ComplaintBand, ...]) -> None:
    with pytest.raises(ValueError):
        SupervisionRules(complaint_bands=bands)


def test_a_negative_complaint_count_is_refused() -> None:
    with pytest.raises(ValueError):
        score_complaints(-1)


def test_a_department_without_complaints_earns_5000_in_its_report() -> None:
    report = score_month(MAY, [], [complaint(APRIL)], departments=[1, 2])
    assert [d.complaints.amount for d in report.departments] == [Decimal(5000)] * 2


def test_only_the_months_complaints_count() -> None:
    complaints = [complaint() for _ in range(6)] + [complaint(APRIL) for _ in range(20)]
    scored = score_month(MAY, [], complaints).department(1).complaints
    assert (scored.complaints, scored.amount) == (6, Decimal(-3000))


def test_supervision_rules_survive_a_round_trip_through_their_dict() -> None:
    rules = SupervisionRules(reward=Decimal("1234.50"), administrative_action_at=25)
    assert SupervisionRules.from_dict(rules.to_dict()) == rules
