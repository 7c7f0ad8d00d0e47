"""Complaint time limits and escalation (投诉升级机制, seed 002).

Rule 1 (time limits, per severity, configurable): a major complaint must get a
first response within 2 h and be resolved within 24 h; an ordinary one within
24 h and 72 h. Limits run from `opened_at`, unless the complaint carries its
own `resolve_by` (set when it was reopened or re-planned).

Rule 2 (overdue): a complaint is overdue only while it is open (new, assigned,
in progress, reopened) and `now` is strictly past a due time.

Rule 3 (escalation, 002: 超出规定响应时限，系统自动进行投诉升级): a complaint
climbs the owner's department chain one level at a time, for either time limit.
Level n is the manager of `chain[n-1]` (level 1 = the owner's own department
head).
- Respond-by: a new or (by rule) assigned complaint nobody has acknowledged (a
  person assigned it or its owner started work) when its respond-by time
  passes climbs one level, once (`cause` "respond").
- Resolve-by: an unresolved complaint climbs one level when its resolve-by time
  passes (`cause` "resolve"), whether or not it climbed for the respond-by
  time; each further level is due `escalation_step` after the previous
  escalation (4 h for major, 24 h for ordinary by default).
It never goes beyond the top of the chain, and resolved or closed complaints
never escalate. `next_escalation` returns at most one level per call, so a
late run never skips a manager.

Rule 4 (who the complaint count believes, 001 complaint bands): a complaint
from the public web form (`UNCONFIRMED_CHANNELS`) was typed by someone nobody
heard; the phone number it gave is not known to be the complainer's. It stays
in the complaint workflow (owner, state, escalation) but counts against a
department in the supervision complaint count only once the number is
confirmed (the supervision loader's rule on `UNCONFIRMED_CHANNELS`): a call came from that number, or an
answered call went to it, after the complaint was opened, or an agent,
callback staff member or supervisor confirmed it (`NUMBER_CONFIRMERS`). Until
then the report lists it as "unconfirmed, not counted" with the number.

Rule 5 (who a complaint is charged to, 001: the complaints received about the service
department): a complaint counts against the department (and technician) of its service job.
One that names no job (every IVR complaint, an agent's or a callback's without a job, the
public form) is charged through the customer's job completed most recently, if that was
within `job_window` before the complaint (`charges_through`); only without such a job
does it fall to the customer's department, then the default department. The job it was
charged through is stored on the complaint with the department (both fixed at filing).
Without this, a customer of no department (an unknown caller's record) complained about
nobody, and the per-staff figures never named a technician for an IVR complaint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crm.complaints import is_open
from crm.enums import ComplaintChannel, ComplaintState, Role, Severity
from crm.errors import EscalationChainEmpty, aware_utc

#: how long after a job's completion a complaint naming no job is charged through it (Rule 5;
#: COMPLAINT_JOB_WINDOW_DAYS): a month, the scoring period; a repair's fault shows in weeks
COMPLAINT_JOB_WINDOW = timedelta(days=30)


def charges_through(completed_at: datetime | None, opened_at: datetime,
                    window: timedelta = COMPLAINT_JOB_WINDOW) -> bool:
    """Rule 5: a complaint naming no job, opened at `opened_at`, is charged through the
    customer's last job completed at `completed_at` (not later than the complaint, at most
    `window` before it)."""
    if completed_at is None:
        return False
    opened, done = aware_utc(opened_at, "opened_at"), aware_utc(completed_at, "completed_at")
    return opened - window <= done <= opened


@dataclass(frozen=True, slots=True)
class TimeLimits:
    """How long a complaint of one severity may wait."""

    respond: timedelta
    resolve: timedelta
    escalation_step: timedelta

    def __post_init__(self) -> None:
        for name in ("respond", "resolve", "escalation_step"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be a positive timedelta")
        if self.respond > self.resolve:
            raise ValueError("respond limit cannot be longer than the resolve limit")


def _default_limits() -> dict[Severity, TimeLimits]:
    return {
        Severity.MAJOR: TimeLimits(
            respond=timedelta(hours=2),
            resolve=timedelta(hours=24),
            escalation_step=timedelta(hours=4),
        ),
        Severity.ORDINARY: TimeLimits(
            respond=timedelta(hours=24),
            resolve=timedelta(hours=72),
            escalation_step=timedelta(hours=24),
        ),
    }


@dataclass(frozen=True, slots=True)
class ComplaintTimePolicy:
    """Time limits per severity; every `Severity` must have an entry."""

    limits: Mapping[Severity, TimeLimits] = field(default_factory=_default_limits)

    def __post_init__(self) -> None:
        missing = [s for s in Severity if s not in self.limits]
        if missing:
            raise ValueError(f"time limits missing for severity: {', '.join(missing)}")

    def for_severity(self, severity: Severity) -> TimeLimits:
        return self.limits[Severity(severity)]


@dataclass(frozen=True, slots=True)
class DueTimes:
    respond_by: datetime
    resolve_by: datetime


def due_times(
    opened_at: datetime, severity: Severity, policy: ComplaintTimePolicy | None = None
) -> DueTimes:
    """When the first response and the resolution are due."""
    opened = aware_utc(opened_at, "opened_at")
    limits = (policy or ComplaintTimePolicy()).for_severity(severity)
    return DueTimes(respond_by=opened + limits.respond, resolve_by=opened + limits.resolve)


def is_response_overdue(
    state: ComplaintState,
    severity: Severity,
    opened_at: datetime,
    now: datetime,
    policy: ComplaintTimePolicy | None = None,
) -> bool:
    """True when nobody has started work (new/assigned) and the respond-by time passed."""
    if ComplaintState(state) not in (ComplaintState.NEW, ComplaintState.ASSIGNED):
        return False
    return aware_utc(now, "now") > due_times(opened_at, severity, policy).respond_by


def is_overdue(
    state: ComplaintState,
    severity: Severity,
    opened_at: datetime,
    now: datetime,
    policy: ComplaintTimePolicy | None = None,
    resolve_by: datetime | None = None,
) -> bool:
    """True when the complaint is still open past its resolve-by time.

    `resolve_by` overrides the time computed from `opened_at`.
    """
    if not is_open(state):
        return False
    due = (
        aware_utc(resolve_by, "resolve_by")
        if resolve_by is not None
        else due_times(opened_at, severity, policy).resolve_by
    )
    return aware_utc(now, "now") > due


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One department on the way up, and the manager told at that level."""

    department_id: int
    manager_id: int | None  # None: department without a manager; notify the department


@dataclass(frozen=True, slots=True)
class EscalationStatus:
    """What escalation needs to know about a complaint."""

    state: ComplaintState
    severity: Severity
    opened_at: datetime
    level: int = 0  # 0 = never escalated
    last_escalated_at: datetime | None = None
    resolve_by: datetime | None = None  # overrides opened_at + resolve limit
    respond_by: datetime | None = None  # overrides opened_at + respond limit
    acknowledged: bool = False  # a person assigned it, or the owner started work
    respond_escalated: bool = False  # the respond-by level was taken already

    def __post_init__(self) -> None:
        if self.level < 0:
            raise ValueError("escalation level cannot be negative")
        if self.level > 0 and self.last_escalated_at is None:
            raise ValueError("an escalated complaint needs last_escalated_at")


@dataclass(frozen=True, slots=True)
class Escalation:
    """Decision: raise the complaint to `level`, telling this department's manager."""

    level: int
    department_id: int
    manager_id: int | None
    due_at: datetime  # when this level became due (now or earlier)
    cause: str = "resolve"  # "respond": not acknowledged in time; "resolve": not resolved


def escalation_due_at(
    status: EscalationStatus, policy: ComplaintTimePolicy | None = None
) -> datetime:
    """When the next resolve-by level is due, ignoring the chain's height."""
    limits = (policy or ComplaintTimePolicy()).for_severity(status.severity)
    resolve_levels = status.level - (1 if status.respond_escalated else 0)
    if resolve_levels <= 0:
        if status.resolve_by is not None:
            return aware_utc(status.resolve_by, "resolve_by")
        return aware_utc(status.opened_at, "opened_at") + limits.resolve
    assert status.last_escalated_at is not None  # checked in EscalationStatus
    return aware_utc(status.last_escalated_at, "last_escalated_at") + limits.escalation_step


def respond_escalation_due_at(
    status: EscalationStatus, policy: ComplaintTimePolicy | None = None
) -> datetime | None:
    """When the respond-by level is due; None once acknowledged or already taken."""
    waiting = ComplaintState(status.state) in (ComplaintState.NEW, ComplaintState.ASSIGNED)
    if status.acknowledged or status.respond_escalated or not waiting:
        return None
    if status.respond_by is not None:
        return aware_utc(status.respond_by, "respond_by")
    limits = (policy or ComplaintTimePolicy()).for_severity(status.severity)
    return aware_utc(status.opened_at, "opened_at") + limits.respond


def next_escalation(
    complaint: EscalationStatus,
    chain: Sequence[ChainLink],
    now: datetime,
    policy: ComplaintTimePolicy | None = None,
) -> Escalation | None:
    """The escalation to make now, or None (not due, not open, or already at the top).

    `chain` lists the owner's department first, then each parent up to the top.
    """
    if not chain:
        raise EscalationChainEmpty(
            "the complaint's owner has no department chain: give the owner a department "
            "or reassign the complaint before escalating"
        )
    current = aware_utc(now, "now")
    if not is_open(complaint.state) or complaint.level >= len(chain):
        return None
    due, cause = escalation_due_at(complaint, policy), "resolve"
    respond_due = respond_escalation_due_at(complaint, policy)
    if respond_due is not None and respond_due < due:
        due, cause = respond_due, "respond"
    if current <= due:
        return None
    target = chain[complaint.level]
    return Escalation(
        level=complaint.level + 1,
        department_id=target.department_id,
        manager_id=target.manager_id,
        due_at=due,
        cause=cause,
    )


#: channels where nobody heard the complainer: counted only once the number is confirmed
UNCONFIRMED_CHANNELS = frozenset({ComplaintChannel.WEB_FORM})
#: channels staff may name when they open a complaint (the public form and the IVR open
#: theirs themselves: a person claiming either would change how it is counted)
STAFF_CHANNELS = frozenset({ComplaintChannel.AGENT, ComplaintChannel.CALLBACK})
#: who may confirm a public-form complaint's number (after phoning it, or on a call from it)
NUMBER_CONFIRMERS = (Role.AGENT, Role.CALLBACK_STAFF, Role.SUPERVISOR)
