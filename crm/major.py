"""Which complaints are major (重大投诉, seed 002), and why.

Guarantees:
- `major_reasons` returns every reason that applies, each once, in the order of
  `MajorReason`; an empty list means ordinary. The reasons are kept on the
  complaint, so a report can say *why* it was major.
- The five rules of 002:
  1. VIP customer: each flag (high spend, official, public figure, journalist)
     is its own reason (`vip_reasons`);
  2. the agent marked the caller as highly emotional;
  3. compensation claimed strictly above `MajorPolicy.compensation_threshold`;
  4. an ordinary complaint escalated: the same customer complained about the
     same category within `repeat_window` before this one, the complaint was
     reopened, it is overdue, or the agent marked contradictory answers;
  5. a media threat: a keyword in the description or notes. Chinese keywords
     match anywhere; Latin ones only as whole words (optionally plural), case
     folded, so "TV" matches "call the TV" and "找TV台" but not "atv" or "CCTV".
  Rule 4 also covers the other causes 002 lists for an ordinary complaint
  turning major:
  - passed between handlers (被踢皮球): handed to another owner more than
    `MajorPolicy.max_handovers` times, or to an owner in another department;
  - disrespect by staff (不尊重): the agent's flag, or a keyword of
    `MajorPolicy.disrespect_keywords` in the description or notes (matched like
    the media keywords);
  - a group complaint (群体性投诉): at least `group_min_customers` different
    customers complained about the same job, product or site within
    `group_window` (`crm.services.complaint_groups` links and raises them).
- Nothing here reads a clock: the complaint's `opened_at` anchors the repeat
  window.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Protocol

from crm.enums import ComplaintCategory, MajorReason, Severity
from crm.errors import aware_utc

DEFAULT_MEDIA_KEYWORDS: tuple[str, ...] = (
    "记者",
    "媒体",
    "曝光",
    "电视台",
    "报社",
    "微博",
    "上网",
    "网上",
    "journalist",
    "newspaper",
    "TV",
    "media",
    "press",
    "reporter",
)

DEFAULT_DISRESPECT_KEYWORDS: tuple[str, ...] = (
    "不尊重",
    "态度恶劣",
    "骂人",
    "辱骂",
    "侮辱",
    "瞧不起",
    "不理不睬",
    "rude",
    "disrespectful",
    "insulted",
    "insulting",
    "swore",
)


class VipFlags(Protocol):
    """What the major rule reads from a customer record."""

    @property
    def high_spend(self) -> bool: ...
    @property
    def official(self) -> bool: ...
    @property
    def public_figure(self) -> bool: ...
    @property
    def journalist(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class CustomerFlags:
    """A customer's VIP flags (000/002); any object with these attributes will do."""

    high_spend: bool = False
    official: bool = False
    public_figure: bool = False
    journalist: bool = False


def vip_reasons(customer: VipFlags) -> list[MajorReason]:
    """The VIP reasons a customer brings to any complaint, one per flag set."""
    reasons: list[MajorReason] = []
    if customer.high_spend:
        reasons.append(MajorReason.VIP_HIGH_SPEND)
    if customer.official:
        reasons.append(MajorReason.VIP_OFFICIAL)
    if customer.public_figure:
        reasons.append(MajorReason.VIP_PUBLIC_FIGURE)
    if customer.journalist:
        reasons.append(MajorReason.VIP_JOURNALIST)
    return reasons


def is_vip(customer: VipFlags) -> bool:
    """True when any VIP flag is set."""
    return bool(vip_reasons(customer))


@dataclass(frozen=True, slots=True)
class PriorComplaint:
    """An earlier complaint by the same customer: when, and about what."""

    opened_at: datetime
    category: ComplaintCategory


@dataclass(frozen=True, slots=True)
class MajorPolicy:
    """Thresholds of the major-complaint rule (configurable per deployment)."""

    compensation_threshold: Decimal = Decimal("5000")
    repeat_window: timedelta = timedelta(days=30)
    media_keywords: tuple[str, ...] = DEFAULT_MEDIA_KEYWORDS
    max_handovers: int = 2  # handed to another owner more often than this: passed around
    disrespect_keywords: tuple[str, ...] = DEFAULT_DISRESPECT_KEYWORDS
    group_min_customers: int = 3  # different customers about one job / product / site
    group_window: timedelta = timedelta(hours=72)

    def __post_init__(self) -> None:
        if self.compensation_threshold < 0:
            raise ValueError("compensation_threshold cannot be negative")
        if self.repeat_window <= timedelta(0):
            raise ValueError("repeat_window must be positive, e.g. timedelta(days=30)")
        if any(not kw.strip() for kw in (*self.media_keywords, *self.disrespect_keywords)):
            raise ValueError("media_keywords and disrespect_keywords cannot contain blank keywords")
        if self.max_handovers < 0:
            raise ValueError("max_handovers cannot be negative")
        if self.group_min_customers < 2:
            raise ValueError("group_min_customers must be at least 2 (a group is several customers)")
        if self.group_window <= timedelta(0):
            raise ValueError("group_window must be positive, e.g. timedelta(hours=72)")


@dataclass(frozen=True, slots=True)
class ComplaintFacts:
    """What is known about a complaint when deciding whether it is major."""

    opened_at: datetime
    category: ComplaintCategory
    customer: VipFlags = field(default_factory=CustomerFlags)
    description: str = ""
    notes: Sequence[str] = ()
    emotional: bool = False  # agent flag
    contradictory_answers: bool = False  # agent flag
    compensation_claimed: Decimal | None = None
    reopened: bool = False
    overdue: bool = False
    previous_complaints: Sequence[PriorComplaint] = ()
    disrespected: bool = False  # agent flag
    handovers: int = 0  # times handed from one owner to another
    crossed_departments: bool = False  # handed to an owner in another department
    group: bool = False  # part of a group complaint


def major_reasons(facts: ComplaintFacts, policy: MajorPolicy | None = None) -> list[MajorReason]:
    """Every reason that makes this complaint major; empty for an ordinary one."""
    policy = policy or MajorPolicy()
    found: set[MajorReason] = set(vip_reasons(facts.customer))
    if facts.emotional:
        found.add(MajorReason.EMOTIONAL)
    if (
        facts.compensation_claimed is not None
        and Decimal(facts.compensation_claimed) > policy.compensation_threshold
    ):
        found.add(MajorReason.LARGE_COMPENSATION)
    if is_repeat(facts.opened_at, facts.category, facts.previous_complaints, policy.repeat_window):
        found.add(MajorReason.REPEAT)
    if facts.reopened:
        found.add(MajorReason.REOPENED)
    if facts.overdue:
        found.add(MajorReason.OVERDUE)
    if facts.contradictory_answers:
        found.add(MajorReason.CONTRADICTORY_ANSWERS)
    if mentions_media((facts.description, *facts.notes), policy.media_keywords):
        found.add(MajorReason.MEDIA_THREAT)
    if passed_around(facts.handovers, facts.crossed_departments, policy):
        found.add(MajorReason.PASSED_AROUND)
    if facts.disrespected or mentions_media((facts.description, *facts.notes), policy.disrespect_keywords):
        found.add(MajorReason.DISRESPECT)
    if facts.group:
        found.add(MajorReason.GROUP)
    return [reason for reason in MajorReason if reason in found]


def passed_around(handovers: int, crossed_departments: bool, policy: MajorPolicy | None = None) -> bool:
    """被踢皮球: more handovers than the policy allows, or one across departments."""
    policy = policy or MajorPolicy()
    return crossed_departments or handovers > policy.max_handovers


def severity_for(reasons: Iterable[MajorReason]) -> Severity:
    """Major when there is at least one reason, ordinary otherwise."""
    return Severity.MAJOR if any(True for _ in reasons) else Severity.ORDINARY


def is_repeat(
    opened_at: datetime,
    category: ComplaintCategory,
    previous: Iterable[PriorComplaint],
    window: timedelta = timedelta(days=30),
) -> bool:
    """True when an earlier complaint about the same category falls within `window`.

    Only complaints opened before `opened_at` count, so the complaint itself
    may be in `previous` without making itself a repeat.
    """
    opened = aware_utc(opened_at, "opened_at")
    since = opened - window
    for prior in previous:
        prior_at = aware_utc(prior.opened_at, "previous complaint opened_at")
        if prior.category == category and since <= prior_at < opened:
            return True
    return False


def mentions_media(texts: Iterable[str], keywords: Sequence[str] = DEFAULT_MEDIA_KEYWORDS) -> bool:
    """True when any text mentions one of `keywords` (see module rules; also used for
    the disrespect keywords)."""
    pattern = _media_pattern(tuple(keywords))
    return any(pattern.search(text) for text in texts if text)


@lru_cache(maxsize=32)
def _media_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    parts: list[str] = []
    for keyword in keywords:
        word = keyword.strip()
        if word.isascii():
            # Latin words: whole word, optional plural; ASCII look-arounds so that a
            # CJK neighbour still counts as a boundary ("找TV曝光") and "atv" does not.
            parts.append(rf"(?<![A-Za-z0-9]){re.escape(word)}(?:s|es)?(?![A-Za-z0-9])")
        else:
            parts.append(re.escape(word))
    return re.compile("|".join(parts), re.IGNORECASE)
