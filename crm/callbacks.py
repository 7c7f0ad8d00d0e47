"""Callback rules: lifecycle, retries, deadlines, priority, do-not-call, sampling.

Rule 1 (lifecycle): the only moves are those in `CALLBACK_TRANSITIONS`
({state: {action: next}}): scheduled -> claimed -> dialing -> in_call ->
completed; a dial that does not connect goes to retry_wait and back to
scheduled, or to failed. A claim that lapses before dialing returns the
callback to scheduled; one that lapses mid-dial or mid-call makes it unknown,
and the carrier's record then reconciles it (answer / complete / not
connected / give up). Completed, failed, cancelled and expired are final. A
supervision callback with no trustworthy number is `held` (never dialled,
shown to the supervision staff with the reason: `crm.callback_numbers`).

Rule 2 (retries, configurable): at most 3 attempts; after attempt n the next
one waits `backoff[n-1]` (15 min, 2 h, 1 day; the last entry repeats).
Busy and no answer retry; congestion retries soon (2 min); failed does not
retry unless configured. A retry that would fall past deadline + grace
expires the callback instead of parking it. With a zone and call window the
next try is moved into the window.

Rule 3 (deadlines, 000, configurable): post-repair within 3 days of the
repair's completion; complaint follow-up 2 days after resolution; survey
verification 7 days after the survey came in. Requested callbacks take their
deadline from the IVR choice (`call_windows.requested_window`), campaigns from
the campaign.

Rule 4 (priority): lower number first. Major complaint follow-ups (0), then
callbacks the customer asked for (1), then the rest of the service callbacks
(2), then campaigns (3); ties by deadline (`dispatch_key`).

Rule 5 (do-not-call): a customer marked do-not-call or a number on the DNC
list is never phoned by any kind of callback, complaint follow-ups
included; the follow-up is then recorded as unreached instead of dialled.

Rule 6 (survey verification sample, 001): of the surveys not answered
first-hand on the IVR, each department and month gets
max(ceil(pct% of n), min(minimum, n)) picked; the pick is a pure function of
the seed and the surveys, whatever their order.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from fractions import Fraction
from typing import Protocol, TypeVar

from crm.call_windows import (
    DEFAULT_QUIET,
    DEFAULT_WINDOW,
    CallWindow,
    QuietHours,
    next_allowed_time,
)
from crm.enums import CallbackKind, CallbackState, DialOutcome, Severity, SurveySource
from crm.errors import InvalidTransition, aware_utc


class CallbackAction(StrEnum):
    CLAIM = "claim"  # a dialer worker takes it
    RELEASE = "release"  # the worker gives it back, or its claim lapsed before dialing
    DIAL = "dial"
    ANSWER = "answer"
    COMPLETE = "complete"  # the call ended with the outcome recorded
    NOT_CONNECTED = "not_connected"  # busy / no answer / congestion: wait and retry
    GIVE_UP = "give_up"  # no more tries
    RETRY_DUE = "retry_due"
    CANCEL = "cancel"
    EXPIRE = "expire"  # past deadline + grace
    CLAIM_LAPSED = "claim_lapsed"  # the worker vanished mid-dial or mid-call
    HOLD = "hold"  # no trustworthy number for a supervision call (`crm.callback_numbers`)


_S = CallbackState
_A = CallbackAction

CALLBACK_TRANSITIONS: Mapping[CallbackState, Mapping[CallbackAction, CallbackState]] = {
    _S.SCHEDULED: {_A.CLAIM: _S.CLAIMED, _A.CANCEL: _S.CANCELLED, _A.EXPIRE: _S.EXPIRED,
                   _A.HOLD: _S.HELD},
    _S.CLAIMED: {
        _A.DIAL: _S.DIALING,
        _A.RELEASE: _S.SCHEDULED,
        _A.CANCEL: _S.CANCELLED,
        _A.EXPIRE: _S.EXPIRED,
        _A.HOLD: _S.HELD,
    },
    _S.DIALING: {
        _A.ANSWER: _S.IN_CALL,
        _A.NOT_CONNECTED: _S.RETRY_WAIT,
        _A.GIVE_UP: _S.FAILED,
        _A.EXPIRE: _S.EXPIRED,
        _A.CLAIM_LAPSED: _S.UNKNOWN,
        _A.HOLD: _S.HELD,
    },
    _S.IN_CALL: {_A.COMPLETE: _S.COMPLETED, _A.CLAIM_LAPSED: _S.UNKNOWN, _A.HOLD: _S.HELD},
    _S.RETRY_WAIT: {
        _A.RETRY_DUE: _S.SCHEDULED,
        _A.GIVE_UP: _S.FAILED,
        _A.CANCEL: _S.CANCELLED,
        _A.EXPIRE: _S.EXPIRED,
        _A.HOLD: _S.HELD,
    },
    _S.UNKNOWN: {  # reconciled with the carrier's record of the call
        _A.ANSWER: _S.IN_CALL,
        _A.COMPLETE: _S.COMPLETED,
        _A.NOT_CONNECTED: _S.RETRY_WAIT,
        _A.GIVE_UP: _S.FAILED,
        _A.EXPIRE: _S.EXPIRED,
        _A.HOLD: _S.HELD,
    },
    # no trustworthy number (`crm.callback_numbers`): released once one is on the record
    # (click to call), completed by hand, or cancelled; never dialled as it stands
    _S.HELD: {_A.RELEASE: _S.SCHEDULED, _A.CANCEL: _S.CANCELLED, _A.EXPIRE: _S.EXPIRED},
    _S.COMPLETED: {},
    _S.FAILED: {},
    _S.CANCELLED: {},
    _S.EXPIRED: {},
}

FINAL_STATES: frozenset[CallbackState] = frozenset(
    s for s, m in CALLBACK_TRANSITIONS.items() if not m
)


def callback_transition(state: CallbackState, action: CallbackAction) -> CallbackState:
    """The state `action` leads to from `state`, or `InvalidTransition` naming the allowed ones."""
    current = CallbackState(state)
    moves = CALLBACK_TRANSITIONS[current]
    try:
        wanted: CallbackAction | None = CallbackAction(action)
    except ValueError:
        wanted = None
    if wanted is None or wanted not in moves:
        allowed = ", ".join(moves) or f"none ({current} is final)"
        raise InvalidTransition(
            f"cannot {action} a callback that is {current}; allowed now: {allowed}"
        )
    return moves[wanted]


# --- retries -----------------------------------------------------------------


def _default_backoff() -> tuple[timedelta, ...]:
    return (timedelta(minutes=15), timedelta(hours=2), timedelta(days=1))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    backoff: tuple[timedelta, ...] = field(default_factory=_default_backoff)
    retry_on: frozenset[DialOutcome] = frozenset(
        {DialOutcome.BUSY, DialOutcome.NO_ANSWER, DialOutcome.CONGESTION}
    )
    soon: Mapping[DialOutcome, timedelta] = field(
        default_factory=lambda: {DialOutcome.CONGESTION: timedelta(minutes=2)}
    )
    expiry_grace: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not self.backoff or any(d <= timedelta(0) for d in self.backoff):
            raise ValueError("backoff must be a non-empty list of positive delays")
        if DialOutcome.ANSWERED in self.retry_on:
            raise ValueError("an answered call is never retried")
        if self.expiry_grace < timedelta(0):
            raise ValueError("expiry_grace cannot be negative")

    def delay_after(self, attempt: int, outcome: DialOutcome) -> timedelta:
        """Wait before the next try after attempt number `attempt` (1-based) ended so."""
        if outcome in self.soon:
            return self.soon[outcome]
        return self.backoff[min(attempt, len(self.backoff)) - 1]


@dataclass(frozen=True, slots=True)
class CallbackAttempt:
    """The callback as it stands when one dial attempt has just ended."""

    state: CallbackState  # dialing, or unknown when reconciling
    attempts_before: int  # attempts finished before this one
    deadline: datetime


def is_expired(deadline: datetime, now: datetime, policy: RetryPolicy | None = None) -> bool:
    """True once `now` is past the deadline plus the grace period."""
    grace = (policy or RetryPolicy()).expiry_grace
    return aware_utc(now, "now") > aware_utc(deadline, "deadline") + grace


def after_attempt(
    callback: CallbackAttempt,
    outcome: DialOutcome,
    now: datetime,
    policy: RetryPolicy | None = None,
    tz: tzinfo | None = None,
    window: CallWindow = DEFAULT_WINDOW,
    quiet: QuietHours = DEFAULT_QUIET,
) -> tuple[CallbackState, datetime | None]:
    """(new state, next due time or None) after a dial attempt ended with `outcome`.

    Answered -> in_call. Retryable with attempts left -> retry_wait and when
    to try again (moved into `window` when `tz` is given), or expired if that
    is past deadline + grace. Otherwise -> failed.
    """
    policy = policy or RetryPolicy()
    current = aware_utc(now, "now")
    outcome = DialOutcome(outcome)
    if outcome is DialOutcome.ANSWERED:
        return callback_transition(callback.state, CallbackAction.ANSWER), None
    attempt = callback.attempts_before + 1
    if outcome not in policy.retry_on or attempt >= policy.max_attempts:
        return callback_transition(callback.state, CallbackAction.GIVE_UP), None
    next_due = current + policy.delay_after(attempt, outcome)
    if tz is not None:
        next_due = next_allowed_time(next_due, tz, window, quiet)
    if is_expired(callback.deadline, next_due, policy):
        return callback_transition(callback.state, CallbackAction.EXPIRE), None
    return callback_transition(callback.state, CallbackAction.NOT_CONNECTED), next_due


# --- deadlines ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallbackDeadlines:
    post_repair: timedelta = timedelta(days=3)
    complaint_followup: timedelta = timedelta(days=2)
    survey_verification: timedelta = timedelta(days=7)


def deadline_for(
    kind: CallbackKind, since: datetime, deadlines: CallbackDeadlines | None = None
) -> datetime:
    """Deadline of a service callback counted from its trigger.

    `since` is the repair's completion, the complaint's resolution or the
    survey's arrival. Requested and campaign callbacks have no rule here.
    """
    deadlines = deadlines or CallbackDeadlines()
    start = aware_utc(since, "since")
    kind = CallbackKind(kind)
    if kind is CallbackKind.POST_REPAIR:
        return start + deadlines.post_repair
    if kind is CallbackKind.COMPLAINT_FOLLOWUP:
        return start + deadlines.complaint_followup
    if kind is CallbackKind.SURVEY_VERIFICATION:
        return start + deadlines.survey_verification
    raise ValueError(
        f"{kind} callbacks have no fixed deadline: take it from "
        "call_windows.requested_window (requested) or from the campaign"
    )


# --- priority and do-not-call --------------------------------------------------


def priority_for(kind: CallbackKind, severity: Severity | None = None) -> int:
    """Dispatch priority, lower first (see Rule 4)."""
    kind = CallbackKind(kind)
    if kind is CallbackKind.COMPLAINT_FOLLOWUP and severity == Severity.MAJOR:
        return 0
    if kind is CallbackKind.REQUESTED:
        return 1
    if kind is CallbackKind.CAMPAIGN:
        return 3
    return 2


def dispatch_key(
    kind: CallbackKind, severity: Severity | None, deadline: datetime
) -> tuple[int, datetime]:
    """Sort key for the dial queue: priority, then earliest deadline."""
    return priority_for(kind, severity), aware_utc(deadline, "deadline")


def may_call(customer_dnc: bool, number_on_dnc_list: bool, kind: CallbackKind) -> bool:
    """False when either do-not-call mark is set, for every kind (Rule 5)."""
    CallbackKind(kind)  # validates; no kind is exempt
    return not (customer_dnc or number_on_dnc_list)


# --- survey verification sample ----------------------------------------------


class SampledSurvey(Protocol):
    @property
    def survey_id(self) -> int: ...
    @property
    def department_id(self) -> int: ...
    @property
    def month(self) -> str: ...  # "YYYY-MM", in the reporting time zone
    @property
    def source(self) -> SurveySource: ...


S = TypeVar("S", bound=SampledSurvey)


@dataclass(frozen=True, slots=True)
class SurveyForSampling:
    survey_id: int
    department_id: int
    month: str
    source: SurveySource


def sample_size(n: int, percentage: float = 10, minimum: int = 3) -> int:
    """max(ceil(pct% of n), min(minimum, n)) -- never more than n."""
    if n < 0 or minimum < 0 or not 0 <= percentage <= 100:
        raise ValueError("need n >= 0, minimum >= 0 and 0 <= percentage <= 100")
    share = math.ceil(Fraction(str(percentage)) * n / 100)
    return min(n, max(share, min(minimum, n)))


def verification_sample(
    surveys: Iterable[S],
    percentage: float = 10,
    minimum_per_department_month: int = 3,
    seed: Hashable = 0,
    eligible: Callable[[S], bool] | None = None,
) -> list[S]:
    """The surveys to verify by phone, ordered by department, month, survey id.

    ``eligible`` says which surveys may be drawn (default: all but IVR ones);
    ``month`` may be any period label (`crm.sampling` passes its periods)."""
    groups: dict[tuple[int, str], list[S]] = defaultdict(list)
    for survey in surveys:
        if (eligible(survey) if eligible is not None
                else SurveySource(survey.source) is not SurveySource.IVR):
            groups[(survey.department_id, survey.month)].append(survey)
    picked: list[S] = []
    for key in sorted(groups):
        members: Sequence[S] = sorted(groups[key], key=lambda s: s.survey_id)
        size = sample_size(len(members), percentage, minimum_per_department_month)
        rng = random.Random(f"{seed!r}|{key[0]!r}|{key[1]}")
        chosen = rng.sample(range(len(members)), size)
        picked.extend(members[i] for i in sorted(chosen))
    return picked
