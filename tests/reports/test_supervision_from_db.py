"""The monthly supervision score read from stored surveys and complaints, on both engines."""

from __future__ import annotations

import pytest

from callcenter.reporting import builders
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from crm.enums import SurveySource
from reports.periods import Month

from .helpers import complaints, local, raw_surveys, shop, verified_survey

MAY, APRIL = Month(2026, 5), Month(2026, 4)


async def _department(db: Database, settings: Settings, month: Month = MAY) -> dict:
    payload = await builders.supervision(db, settings, month)
    (department,) = payload["supervision"]["departments"]
    return department


async def test_seed_example_may_average_4_after_april_3_5_earns_the_1000_reward(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    for day in range(1, 11):  # May: 10 verified jobs, 4 points each -> total 40
        await verified_survey(db, s, "AAC", local(f"2026-05-{day:02d} 10:00"))
    for day, letters in ((3, "AAC"), (4, "AAC"), (5, "ABC"), (6, "ABC")):  # April: 14 / 4 = 3.5
        await verified_survey(db, s, letters, local(f"2026-04-{day:02d} 10:00"))
    satisfaction = (await _department(db, settings))["satisfaction"]
    assert satisfaction["surveys"]["counted"] == 10 and satisfaction["surveys"]["verified"] == 10
    assert satisfaction["points"] == 40 and satisfaction["average"] == "4"
    assert satisfaction["previous_average"] == "3.5" and satisfaction["delta"] == "0.5"
    assert satisfaction["outcome"] == "reward" and satisfaction["amount"] == "1000"


async def test_a_survey_at_local_midnight_counts_in_the_month_it_starts(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-01 00:00"), 1)  # 2026-04-30 16:00 UTC
    await raw_surveys(db, s, "EEE", local("2026-04-30 23:59:59"), 1)
    satisfaction = (await _department(db, settings))["satisfaction"]
    assert satisfaction["surveys"]["counted"] == 1 and satisfaction["average"] == "6"
    assert satisfaction["previous_average"] == "-6"


async def test_unverified_and_incomplete_surveys_are_excluded_with_their_reasons(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    at = local("2026-05-12 09:00")
    await raw_surveys(db, s, "BBB", at, 2)  # first-hand IVR: counted
    await raw_surveys(db, s, "AAA", at, 3, verification="pending", source="agent")
    await raw_surveys(db, s, "EEE", at, 1, verification="disputed", source="paper")
    await raw_surveys(db, s, "AA-", at, 4, complete=False)
    await raw_surveys(db, s, "AAA", at, 1, verification="first_hand", source="agent")  # not credible
    satisfaction = (await _department(db, settings))["satisfaction"]
    assert satisfaction["surveys"]["counted"] == 2 and satisfaction["average"] == "3"
    assert satisfaction["surveys"]["excluded"] == {
        "incomplete": 4, "pending_verification": 4, "disputed": 1}


async def test_a_month_without_surveys_says_no_data_instead_of_dividing_by_zero(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-04-10 09:00"), 2)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 2, verification="pending",
                      source="paper")
    satisfaction = (await _department(db, settings))["satisfaction"]
    assert satisfaction["status"] == "no_data" and satisfaction["average"] is None
    assert satisfaction["amount"] == "0" and "no data" in satisfaction["explanation"]


async def test_every_item_a_all_month_earns_the_extra_bonus(db: Database, settings: Settings) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 3)
    satisfaction = (await _department(db, settings))["satisfaction"]
    assert satisfaction["extra"] == "all_a_bonus" and satisfaction["extra_amount"] == "1000"


async def test_every_item_e_all_month_costs_the_extra_penalty(db: Database, settings: Settings) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "EEE", local("2026-05-10 09:00"), 3)
    satisfaction = (await _department(db, settings))["satisfaction"]
    assert satisfaction["extra"] == "all_e_penalty" and satisfaction["extra_amount"] == "-1000"


@pytest.mark.parametrize(("count", "band", "amount"), [
    (0, "0", "5000"), (1, "1-5", "0"), (5, "1-5", "0"), (6, "6-10", "-3000"),
    (10, "6-10", "-3000"), (11, "11-15", "-5000"), (15, "11-15", "-5000"),
    (16, "16+", "-10000"),
])
async def test_stored_complaints_fall_in_their_band(
    db: Database, settings: Settings, count: int, band: str, amount: str
) -> None:
    s = await shop(db)
    await complaints(db, s, count, local("2026-05-20 15:00"))
    await complaints(db, s, 3, local("2026-04-20 15:00"))  # another month: not counted
    scored = (await _department(db, settings))["complaints"]
    assert (scored["complaints"], scored["band"], scored["amount"]) == (count, band, amount)
    assert scored["administrative_action"] is False


@pytest.mark.parametrize(("count", "flagged"), [(29, False), (30, True)])
async def test_administrative_action_is_flagged_from_the_configured_count(
    db: Database, settings: Settings, count: int, flagged: bool
) -> None:
    s = await shop(db)
    await complaints(db, s, count, local("2026-05-02 11:00"))
    assert (await _department(db, settings))["complaints"]["administrative_action"] is flagged


async def test_amounts_and_bands_come_from_the_settings(db: Database, settings: Settings) -> None:
    s = await shop(db)
    await verified_survey(db, s, "AAA", local("2026-04-03 10:00"))
    await verified_survey(db, s, "AAB", local("2026-05-03 10:00"), SurveySource.AGENT)
    await complaints(db, s, 2, local("2026-05-04 10:00"))
    custom = settings.model_copy(update={
        "supervision_penalty": 250, "supervision_complaint_bands": "0:100,1-2:-7,3+:-9",
        "supervision_administrative_action_at": 2})
    payload = await builders.supervision(db, custom, MAY)
    department = payload["supervision"]["departments"][0]
    assert department["satisfaction"]["amount"] == "-250"
    assert department["complaints"]["amount"] == "-7"
    assert department["complaints"]["administrative_action"] is True
    assert payload["settings"]["supervision"]["penalty"] == "250"


async def test_staff_figures_split_surveys_and_complaints_per_technician(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    await verified_survey(db, s, "ABC", local("2026-05-03 10:00"))
    department = await _department(db, settings)
    (person,) = department["staff"]
    assert person["staff_id"] == s.technician.id and person["surveys"] == 1
    assert person["points"] == 3


async def test_the_trend_shows_each_earlier_month_as_if_scored_alone(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAC", local("2026-02-01 00:00"), 2)
    await raw_surveys(db, s, "EEE", local("2026-02-10 09:00"), 3, verification="pending",
                      source="paper")
    await raw_surveys(db, s, "AB-", local("2026-02-11 09:00"), 1, complete=False)
    await raw_surveys(db, s, "ABC", local("2026-03-31 23:59"), 1)
    await complaints(db, s, 7, local("2026-02-12 09:00"))
    payload = await builders.supervision(db, settings, MAY)
    trend = {m["month"]: m["departments"][str(s.department_id)] for m in payload["trend"]}
    assert list(trend) == ["2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    alone = (await _department(db, settings, Month(2026, 2)))
    assert trend["2026-02"]["average"] == alone["satisfaction"]["average"] == "4"
    assert trend["2026-02"]["surveys"] == 2 and trend["2026-03"]["average"] == "3"
    assert (trend["2026-02"]["complaints"], trend["2026-02"]["band"]) == (7, "6-10")
    assert trend["2026-01"]["average"] is None and trend["2026-01"]["complaints"] == 0
