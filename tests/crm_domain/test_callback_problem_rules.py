"""Which post-repair callbacks are problems, and which causes make a complaint major (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime

from crm.callback_problems import callback_problem
from crm.enums import ComplaintCategory, MajorReason
from crm.major import ComplaintFacts, MajorPolicy, major_reasons, passed_around

OPENED = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)


def test_an_e_outranks_a_d_when_choosing_the_complaints_category() -> None:
    found = callback_problem("surveyed", None, {"timeliness": "D", "quality": "B", "attitude": "E"})
    assert found is not None and found.category == ComplaintCategory.ATTITUDE
    assert "timeliness D" in found.summary and "attitude E" in found.summary


def test_grades_a_to_c_and_unreached_calls_are_no_problem() -> None:
    assert callback_problem("surveyed", None, {"timeliness": "C", "quality": "A", "attitude": "B"}) is None
    assert callback_problem("hung_up", "hung up at greeting", {}) is None
    assert callback_problem("no_answer", None, {}) is None


def test_a_complaint_during_the_call_is_a_problem_about_other() -> None:
    found = callback_problem("complaint", "师傅迟到两小时", {})
    assert found is not None and found.category == ComplaintCategory.OTHER and "师傅迟到两小时" in found.summary


def test_passed_around_after_more_handovers_than_allowed_or_across_departments() -> None:
    policy = MajorPolicy(max_handovers=2)
    assert not passed_around(2, False, policy)
    assert passed_around(3, False, policy)
    assert passed_around(1, True, policy)


def test_disrespect_keywords_match_whole_latin_words_and_chinese_anywhere() -> None:
    def reasons(text: str) -> list[MajorReason]:
        return major_reasons(ComplaintFacts(OPENED, ComplaintCategory.ATTITUDE, description=text))

    assert MajorReason.DISRESPECT in reasons("客服态度恶劣")
    assert MajorReason.DISRESPECT in reasons("the agent was RUDE to me")
    assert MajorReason.DISRESPECT not in reasons("a crude estimate of the repair cost")
