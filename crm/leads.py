"""Sales leads found during service visits (service marketing, seed 004).

Rule 1: a lead moves only as `LEAD_TRANSITIONS` says: open -> contacted ->
quoted -> won, or lost from any unfinished state. Contacting again keeps it
contacted or quoted (the named follower calls periodically until an order is
placed); won and lost are final.

Rule 2: the demand level is 1 (low), 2 or 3 (high: ready to buy); anything else
raises `InvalidDemandLevel`. The follower calls again every 30 / 14 / 7 days
for levels 1 / 2 / 3 (configurable).

Rule 3: when a lead is won, the staff member who found the need is credited
(`credit_finder`), whoever closed the sale; a lead without a finder, or not
won, earns no credit (`CreditNotDue`). The amount is
`FinderCreditPolicy.fixed` + `rate` x the order value (configurable; 004:
为发现需求信息的售服人员提供相应的激励，待销售实现后立即兑现), payable at once.

Rule 4 (004: 一张为售服部经理签字的针对性合理配置建议): a lead carries a second
form, the targeted configuration proposal; it counts only once the service
head (a manager) signed it, and a changed proposal needs signing again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from crm.enums import LeadState
from crm.errors import CreditNotDue, InvalidDemandLevel, InvalidTransition, aware_utc

DEMAND_LEVELS = (1, 2, 3)


class LeadAction(StrEnum):
    CONTACT = "contact"
    QUOTE = "quote"
    WIN = "win"  # the customer placed an order
    LOSE = "lose"


_S = LeadState
_A = LeadAction

LEAD_TRANSITIONS: Mapping[LeadState, Mapping[LeadAction, LeadState]] = {
    _S.OPEN: {_A.CONTACT: _S.CONTACTED, _A.QUOTE: _S.QUOTED, _A.LOSE: _S.LOST},
    _S.CONTACTED: {
        _A.CONTACT: _S.CONTACTED,
        _A.QUOTE: _S.QUOTED,
        _A.WIN: _S.WON,
        _A.LOSE: _S.LOST,
    },
    _S.QUOTED: {_A.CONTACT: _S.QUOTED, _A.QUOTE: _S.QUOTED, _A.WIN: _S.WON, _A.LOSE: _S.LOST},
    _S.WON: {},
    _S.LOST: {},
}


def lead_transition(state: LeadState, action: LeadAction) -> LeadState:
    """The state `action` leads to, or `InvalidTransition` naming the allowed actions."""
    current = LeadState(state)
    moves = LEAD_TRANSITIONS[current]
    try:
        wanted: LeadAction | None = LeadAction(action)
    except ValueError:
        wanted = None
    if wanted is None or wanted not in moves:
        allowed = ", ".join(moves) or f"none ({current} is final)"
        raise InvalidTransition(f"cannot {action} a lead that is {current}; allowed now: {allowed}")
    return moves[wanted]


def validate_demand_level(level: int) -> int:
    """Return `level` if it is 1, 2 or 3."""
    if isinstance(level, bool) or not isinstance(level, int) or level not in DEMAND_LEVELS:
        raise InvalidDemandLevel(
            f"demand level {level!r} is not 1 (low), 2 (medium) or 3 (high, ready to buy)"
        )
    return level


@dataclass(frozen=True, slots=True)
class Lead:
    """A customer's unmet need, who found it and who follows it up."""

    lead_id: int
    customer_id: int
    finder_id: int | None  # staff who found the need on a visit or call
    follower_id: int | None  # the named person who follows up
    demand_level: int
    state: LeadState = LeadState.OPEN
    need: str = ""

    def __post_init__(self) -> None:
        validate_demand_level(self.demand_level)


def _default_intervals() -> dict[int, timedelta]:
    return {1: timedelta(days=30), 2: timedelta(days=14), 3: timedelta(days=7)}


@dataclass(frozen=True, slots=True)
class FollowUpPolicy:
    intervals: Mapping[int, timedelta] = field(default_factory=_default_intervals)

    def __post_init__(self) -> None:
        if set(self.intervals) != set(DEMAND_LEVELS):
            raise ValueError("follow-up intervals need exactly the demand levels 1, 2, 3")


def next_follow_up(
    lead: Lead, last_contact_at: datetime, policy: FollowUpPolicy | None = None
) -> datetime | None:
    """When the follower should call again; None once the lead is won or lost."""
    if not LEAD_TRANSITIONS[lead.state]:
        return None
    interval = (policy or FollowUpPolicy()).intervals[lead.demand_level]
    return aware_utc(last_contact_at, "last_contact_at") + interval


@dataclass(frozen=True, slots=True)
class FinderCredit:
    """The record that a staff member's find became a sale."""

    lead_id: int
    customer_id: int
    finder_id: int
    closed_by: int | None
    won_at: datetime
    order_value: Decimal | None = None
    amount: Decimal = Decimal(0)  # payable to the finder


@dataclass(frozen=True, slots=True)
class FinderCreditPolicy:
    """What a find that became a sale earns its finder (yuan): fixed + rate x order value."""

    fixed: Decimal = Decimal(200)
    rate: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if self.fixed < 0 or not 0 <= self.rate <= 1:
            raise ValueError("finder credit: fixed must be >= 0 and rate between 0 and 1")

    def amount(self, order_value: Decimal | None) -> Decimal:
        value = Decimal(0) if order_value is None else Decimal(order_value)
        return (self.fixed + self.rate * value).quantize(Decimal("0.01"))


def credit_finder(
    lead: Lead, won_at: datetime, closed_by: int | None = None, order_value: Decimal | None = None,
    policy: FinderCreditPolicy | None = None,
) -> FinderCredit:
    """The credit owed to the lead's finder; the lead must be won and have a finder."""
    if lead.state is not LeadState.WON:
        raise CreditNotDue(
            f"lead {lead.lead_id} is {lead.state}: credit the finder only once it is won"
        )
    if lead.finder_id is None:
        raise CreditNotDue(f"lead {lead.lead_id} has no finder: record who found the need first")
    if order_value is not None and Decimal(order_value) < 0:
        raise ValueError("order_value cannot be negative")
    return FinderCredit(
        lead_id=lead.lead_id,
        customer_id=lead.customer_id,
        finder_id=lead.finder_id,
        closed_by=closed_by,
        won_at=aware_utc(won_at, "won_at"),
        order_value=None if order_value is None else Decimal(order_value),
        amount=(policy or FinderCreditPolicy()).amount(order_value),
    )


def win_lead(
    lead: Lead, won_at: datetime, closed_by: int | None = None, order_value: Decimal | None = None,
    policy: FinderCreditPolicy | None = None,
) -> tuple[Lead, FinderCredit | None]:
    """Mark the lead won; return it and the finder's credit (None when nobody found it)."""
    won = replace(lead, state=lead_transition(lead.state, LeadAction.WIN))
    if won.finder_id is None:
        return won, None
    return won, credit_finder(won, won_at, closed_by, order_value, policy)
