"""Leads from service visits (004): lifecycle, demand level, finder credit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from crm.enums import LeadState
from crm.errors import CreditNotDue, InvalidDemandLevel, InvalidTransition
from crm.leads import (
    Lead,
    LeadAction,
    credit_finder,
    lead_transition,
    next_follow_up,
    validate_demand_level,
    win_lead,
)

WON_AT = datetime(2024, 6, 3, 6, 0, tzinfo=UTC)


def lead(**changes: object) -> Lead:
    base: dict[str, object] = {
        "lead_id": 5,
        "customer_id": 42,
        "finder_id": 7,  # the technician who noticed the old equipment
        "follower_id": 9,
        "demand_level": 2,
        "state": LeadState.QUOTED,
    }
    base.update(changes)
    return Lead(**base)  # type: ignore[arg-type]


def test_lead_goes_open_contacted_quoted_won() -> None:
    state = LeadState.OPEN
    for action in (LeadAction.CONTACT, LeadAction.QUOTE, LeadAction.WIN):
        state = lead_transition(state, action)
    assert state is LeadState.WON


def test_open_lead_cannot_be_won_before_anyone_contacts_the_customer() -> None:
    with pytest.raises(InvalidTransition, match="allowed now: contact, quote, lose"):
        lead_transition(LeadState.OPEN, LeadAction.WIN)


def test_lost_lead_is_final() -> None:
    with pytest.raises(InvalidTransition, match="lost is final"):
        lead_transition(LeadState.LOST, LeadAction.CONTACT)


@pytest.mark.parametrize("level", [0, 4, True, 2.0])
def test_demand_level_outside_1_to_3_is_refused(level: object) -> None:
    with pytest.raises(InvalidDemandLevel, match="1 \\(low\\)"):
        validate_demand_level(level)  # type: ignore[arg-type]


def test_lead_with_bad_demand_level_cannot_be_built() -> None:
    with pytest.raises(InvalidDemandLevel):
        lead(demand_level=5)


def test_winning_a_lead_credits_the_finder_not_the_closer() -> None:
    won, credit = win_lead(lead(), WON_AT, closed_by=9, order_value=Decimal("12800"))
    assert won.state is LeadState.WON
    assert credit is not None
    assert (credit.finder_id, credit.closed_by, credit.lead_id, credit.customer_id) == (7, 9, 5, 42)
    assert (credit.won_at, credit.order_value) == (WON_AT, Decimal("12800"))


def test_lead_nobody_found_is_won_without_credit() -> None:
    won, credit = win_lead(lead(finder_id=None), WON_AT)
    assert won.state is LeadState.WON and credit is None


def test_no_credit_before_the_lead_is_won() -> None:
    with pytest.raises(CreditNotDue, match="only once it is won"):
        credit_finder(lead(), WON_AT)


def test_hot_lead_is_followed_up_weekly_and_cool_one_monthly() -> None:
    last = datetime(2024, 6, 1, tzinfo=UTC)
    assert next_follow_up(lead(demand_level=3), last) == last + timedelta(days=7)
    assert next_follow_up(lead(demand_level=1), last) == last + timedelta(days=30)


def test_won_lead_needs_no_more_follow_up() -> None:
    assert next_follow_up(lead(state=LeadState.WON), datetime(2024, 6, 1, tzinfo=UTC)) is None
