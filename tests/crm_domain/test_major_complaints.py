"""Major complaints (002): each rule, its edges, and the ordinary case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from crm.enums import ComplaintCategory, MajorReason, Severity
from crm.major import (
    ComplaintFacts,
    CustomerFlags,
    MajorPolicy,
    PriorComplaint,
    is_vip,
    major_reasons,
    mentions_media,
    severity_for,
    vip_reasons,
)

R = MajorReason
OPENED = datetime(2024, 5, 31, 10, 0, tzinfo=UTC)


def facts(**changes: object) -> ComplaintFacts:
    base: dict[str, object] = {
        "opened_at": OPENED,
        "category": ComplaintCategory.REPAIR_QUALITY,
        "description": "洗衣机修好后又漏水了",
    }
    base.update(changes)
    return ComplaintFacts(**base)  # type: ignore[arg-type]


def test_ordinary_complaint_triggers_no_major_reason() -> None:
    assert major_reasons(facts()) == []
    assert severity_for(major_reasons(facts())) is Severity.ORDINARY


def test_journalist_customer_makes_a_complaint_major() -> None:
    reasons = major_reasons(facts(customer=CustomerFlags(journalist=True)))
    assert reasons == [R.VIP_JOURNALIST]
    assert severity_for(reasons) is Severity.MAJOR


def test_each_vip_flag_is_its_own_reason() -> None:
    everyone = CustomerFlags(high_spend=True, official=True, public_figure=True, journalist=True)
    assert vip_reasons(everyone) == [
        R.VIP_HIGH_SPEND,
        R.VIP_OFFICIAL,
        R.VIP_PUBLIC_FIGURE,
        R.VIP_JOURNALIST,
    ]


def test_customer_without_flags_is_not_vip() -> None:
    assert not is_vip(CustomerFlags())


def test_highly_emotional_caller_makes_it_major() -> None:
    assert major_reasons(facts(emotional=True)) == [R.EMOTIONAL]


def test_compensation_above_5000_is_major_but_exactly_5000_is_not() -> None:
    assert major_reasons(facts(compensation_claimed=Decimal("5000.01"))) == [R.LARGE_COMPENSATION]
    assert major_reasons(facts(compensation_claimed=Decimal("5000"))) == []


def test_compensation_threshold_is_configurable() -> None:
    policy = MajorPolicy(compensation_threshold=Decimal("1000"))
    assert major_reasons(facts(compensation_claimed=Decimal("1500")), policy) == [
        R.LARGE_COMPENSATION
    ]


def test_same_problem_again_within_30_days_is_a_repeat() -> None:
    earlier = PriorComplaint(OPENED - timedelta(days=29), ComplaintCategory.REPAIR_QUALITY)
    assert major_reasons(facts(previous_complaints=[earlier])) == [R.REPEAT]


def test_same_problem_31_days_earlier_is_not_a_repeat() -> None:
    earlier = PriorComplaint(OPENED - timedelta(days=31), ComplaintCategory.REPAIR_QUALITY)
    assert major_reasons(facts(previous_complaints=[earlier])) == []


def test_earlier_complaint_about_another_category_is_not_a_repeat() -> None:
    earlier = PriorComplaint(OPENED - timedelta(days=3), ComplaintCategory.BILLING)
    assert major_reasons(facts(previous_complaints=[earlier])) == []


def test_complaint_listed_among_its_own_previous_ones_is_not_a_repeat() -> None:
    itself = PriorComplaint(OPENED, ComplaintCategory.REPAIR_QUALITY)
    assert major_reasons(facts(previous_complaints=[itself])) == []


def test_repeat_window_is_configurable() -> None:
    earlier = PriorComplaint(OPENED - timedelta(days=45), ComplaintCategory.REPAIR_QUALITY)
    policy = MajorPolicy(repeat_window=timedelta(days=60))
    assert major_reasons(facts(previous_complaints=[earlier]), policy) == [R.REPEAT]


def test_reopened_overdue_and_contradictory_answers_each_count() -> None:
    reasons = major_reasons(facts(reopened=True, overdue=True, contradictory_answers=True))
    assert reasons == [R.REOPENED, R.OVERDUE, R.CONTRADICTORY_ANSWERS]


def test_threat_to_go_to_the_press_in_chinese_is_a_media_threat() -> None:
    assert major_reasons(facts(description="再不解决我就找电视台曝光")) == [R.MEDIA_THREAT]


def test_media_threat_in_agent_notes_counts_too() -> None:
    notes = ["customer says she will call a Reporter tomorrow"]
    assert major_reasons(facts(notes=notes)) == [R.MEDIA_THREAT]


def test_english_keywords_ignore_case() -> None:
    assert mentions_media(["I'm going to the PRESS"])


def test_tv_inside_a_word_is_not_a_media_threat() -> None:
    assert not mentions_media(["my ATV engine and the activity log", "CCTV camera broke"])


def test_tv_next_to_chinese_text_is_a_media_threat() -> None:
    assert mentions_media(["我要找TV台的人"])


def test_pressure_is_not_the_press() -> None:
    assert not mentions_media(["water pressure is low, express service please"])


def test_plural_keywords_match() -> None:
    assert mentions_media(["I know journalists at two newspapers"])


def test_media_keywords_are_configurable() -> None:
    policy = MajorPolicy(media_keywords=("抖音", "tiktok"))
    assert major_reasons(facts(description="我发抖音"), policy) == [R.MEDIA_THREAT]
    assert major_reasons(facts(description="我找记者"), policy) == []


def test_blank_media_keyword_is_refused() -> None:
    with pytest.raises(ValueError, match="blank"):
        MajorPolicy(media_keywords=("记者", " "))


def test_reasons_come_once_each_in_a_fixed_order() -> None:
    reasons = major_reasons(
        facts(
            customer=CustomerFlags(official=True),
            emotional=True,
            description="媒体 曝光 journalist",
        )
    )
    assert reasons == [R.VIP_OFFICIAL, R.EMOTIONAL, R.MEDIA_THREAT]
