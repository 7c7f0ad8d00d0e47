"""The complaint ports: what the repository hands out and must do, the policy, the actor,
and the access rules every complaint use case applies.

Guarantees:
- `ComplaintRecord` / `HistoryRow` are plain frozen dataclasses: repositories
  return them, never ORM rows.
- `tighten` only ever adds major reasons; a complaint that becomes major gets
  the major due times, never later ones.
- `check_visible`: staff read the complaints of their department and the ones
  below it, owners their own, supervisors, callback staff and the hotline
  (`HOTLINE_DEPARTMENTS`) all (the department rule, `crm.identity`); anyone
  else gets `PermissionDenied` (403).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from crm.access import ScoredScope
from crm.complaint_rules import COMPLAINT_JOB_WINDOW, ChainLink, ComplaintTimePolicy, due_times
from crm.enums import (
    ComplaintCategory,
    ComplaintChannel,
    ComplaintState,
    MajorReason,
    Role,
    Severity,
    Verdict,
)
from crm.errors import UnknownComplaint
from crm.identity import Identity, PermissionDenied
from crm.major import CustomerFlags, MajorPolicy, PriorComplaint, severity_for

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

Clock = Callable[[], datetime]


# -- what the repository hands out ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ComplaintRecord:
    """A complaint as stored; `complaint_id == 0` and `ticket == ""` before it is added."""

    complaint_id: int
    ticket: str
    customer_id: int
    channel: ComplaintChannel
    category: ComplaintCategory
    description: str
    opened_at: datetime
    recording_url: str | None = None
    compensation_claimed: Decimal | None = None
    severity: Severity = Severity.ORDINARY
    major_reasons: tuple[MajorReason, ...] = ()
    emotional: bool = False
    contradictory_answers: bool = False
    owner_id: int | None = None
    department_id: int | None = None
    job_id: int | None = None
    call_id: int | None = None
    state: ComplaintState = ComplaintState.NEW
    escalation_level: int = 0
    respond_due_at: datetime | None = None
    resolve_due_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    last_escalated_at: datetime | None = None
    resolution: str | None = None
    verdict: Verdict | None = None
    version: int = 1
    acknowledged_at: datetime | None = None  # a person assigned it, or the owner started work
    respond_escalated_at: datetime | None = None  # climbed a level for its respond-by time
    disrespected: bool = False  # agent flag: staff did not respect the customer
    product: str | None = None  # what the complaint is about (group complaints)
    site: str | None = None  # where (group complaints)
    group_id: int | None = None  # the group complaint it belongs to
    #: the service job whose department (and technician) it is charged to: the job it names,
    #: else the customer's last job in the window (`crm.complaint_rules` Rule 5); fixed at filing
    charged_job_id: int | None = None

    @property
    def major(self) -> bool:
        return self.severity == Severity.MAJOR


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One append-only history row; `from_state` is None only for the opening row."""

    complaint_id: int
    at: datetime
    actor_label: str
    action: str  # a ComplaintAction, or open / flag / escalate / verdict / overdue
    from_state: ComplaintState | None
    to_state: ComplaintState | None
    note: str = ""
    actor_id: int | None = None


@dataclass(frozen=True, slots=True)
class ComplaintCustomer:
    """What a complaint needs to know about its customer."""

    customer_id: int
    flags: CustomerFlags
    department_id: int | None


@dataclass(frozen=True, slots=True)
class ChargedJob:
    """A customer's service job a complaint naming no job may be charged through (Rule 5)."""

    job_id: int
    reference: str
    department_id: int | None
    completed_at: datetime


@dataclass(frozen=True, slots=True)
class StaffRef:
    staff_id: int
    department_id: int | None
    active: bool


class ComplaintRepository(Protocol):
    async def customer(self, customer_id: int) -> ComplaintCustomer | None: ...

    async def job_department(self, job_id: int) -> tuple[bool, int | None]:
        """(job exists, its department id)."""
        ...

    async def last_completed_job(self, customer_id: int, until: datetime) -> ChargedJob | None:
        """The customer's job completed most recently, not after `until` (ties: the newest)."""
        ...

    async def call_exists(self, call_id: int) -> bool: ...

    async def staff(self, staff_id: int) -> StaffRef | None: ...

    async def department_id(self, code: str) -> int | None: ...

    async def department_chain(self, department_id: int) -> list[ChainLink]:
        """The department, then each parent up to the top (cycles cut)."""
        ...

    async def department_subtree(self, department_id: int) -> set[int]:
        """The department and every department below it."""
        ...

    async def department_scope(self, department_ids: Iterable[int]) -> ScoredScope:
        """The stake of every department in the score of `department_ids`
        (`crm.access.scored_scope`, supervision departments as marked)."""
        ...

    async def prior_complaints(self, customer_id: int, since: datetime) -> list[PriorComplaint]: ...

    async def add(self, draft: ComplaintRecord) -> int:
        """Insert `draft` (id and ticket ignored) and return the new id."""
        ...

    async def set_ticket(self, complaint_id: int, ticket: str) -> None: ...

    async def get(self, complaint_id: int) -> ComplaintRecord | None: ...

    async def by_ticket(self, ticket: str) -> ComplaintRecord | None: ...

    async def of_customer(self, customer_id: int, states: Sequence[ComplaintState],
                          limit: int) -> list[ComplaintRecord]:
        """The customer's complaints in `states`, newest first."""
        ...

    async def department_names(self, department_ids: set[int]) -> dict[int, tuple[str, str]]:
        """department id -> (code, name)."""
        ...

    async def save(self, record: ComplaintRecord) -> ComplaintRecord:
        """Write every mutable field if the stored version is still `record.version`;
        return the record with its new version, or raise `ConcurrentChange`."""
        ...

    async def add_history(self, row: HistoryRow) -> None: ...

    async def confirm_number(self, complaint_id: int, staff_id: int | None, at: datetime) -> datetime:
        """Stamp the complaint's number confirmed (by `staff_id`, at `at`) unless it already
        is; return the stamp that stands."""
        ...

    async def set_reported_number(self, complaint_id: int, e164: str) -> None:
        """The number a public-form complaint gave."""
        ...

    async def history(self, complaint_id: int) -> list[HistoryRow]: ...

    async def notify(self, staff_id: int, kind: str, payload: dict[str, object], at: datetime) -> None: ...

    async def escalation_candidates(self, now: datetime, open_states: Sequence[ComplaintState]) -> list[int]:
        """Ids of complaints in `open_states` whose resolve-by time is before `now`, or
        whose respond-by time is before `now` while nobody acknowledged them."""
        ...

    async def group_matches(
        self, since: datetime, *, job_id: int | None, product: str | None, site: str | None,
    ) -> list[ComplaintRecord]:
        """Complaints opened at or after `since` about this job, product or site."""
        ...

    async def add_group(self, key: str, at: datetime) -> int:
        """A new group complaint keyed by what its members share; returns its id."""
        ...

    async def add_escalation(
        self, complaint_id: int, level: int, at: datetime, department_id: int | None,
        manager_id: int | None, state_then: ComplaintState, cause: str = "resolve",
    ) -> None:
        """Record a level reached; raise `AlreadyEscalated` if it was recorded before."""
        ...

    async def search(
        self,
        *,
        departments: set[int] | None,
        viewer_id: int | None,
        owner_id: int | None = None,
        states: Sequence[ComplaintState] | None = None,
        major_only: bool = False,
        overdue_at: datetime | None = None,
        text: str | None = None,
        limit: int = 200,
    ) -> list[ComplaintRecord]:
        """Major first, then by resolve-by time; `departments` None = all, else those plus
        the ones `viewer_id` owns; `text` matches a ticket, customer name or number."""
        ...

    async def counts_by_state(self, departments: set[int] | None) -> dict[str, int]: ...

    async def notifications(self, staff_id: int, *, unread_only: bool, limit: int = 100) -> list[dict[str, Any]]: ...

    async def mark_read(self, staff_id: int, notification_id: int, at: datetime) -> bool: ...


# -- policy and commands ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ComplaintPolicy:
    """Everything configurable about complaints (built from Settings at the edge)."""

    major: MajorPolicy = field(default_factory=MajorPolicy)
    time: ComplaintTimePolicy = field(default_factory=ComplaintTimePolicy)
    category_departments: Mapping[ComplaintCategory, str] = field(default_factory=dict)
    default_department: str | None = None
    zone: str = "Asia/Shanghai"  # the ticket's date is the centre's date
    #: a complaint naming no job is charged through the customer's job completed this
    #: recently (`crm.complaint_rules` Rule 5)
    job_window: timedelta = COMPLAINT_JOB_WINDOW


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a staff member (with their identity, checked) or a system label."""

    label: str  # "staff:12", "ivr", "web-form", "job-loop", "spool-import"
    staff_id: int | None = None
    identity: Identity | None = None  # None: a trusted system caller, not checked

    @classmethod
    def of(cls, identity: Identity) -> Actor:
        return cls(identity.label, identity.staff_id, identity)

    @classmethod
    def system(cls, label: str) -> Actor:
        return cls(label)


@dataclass(frozen=True, slots=True)
class OpenComplaint:
    customer_id: int
    channel: ComplaintChannel
    category: ComplaintCategory
    description: str = ""
    recording_url: str | None = None
    compensation_claimed: Decimal | None = None
    emotional: bool = False
    contradictory_answers: bool = False
    job_id: int | None = None
    call_id: int | None = None
    actor: Actor = field(default_factory=lambda: Actor.system("system"))
    notes: Sequence[str] = ()
    disrespected: bool = False
    product: str | None = None
    site: str | None = None
    department_code: str | None = None  # route to this department (e.g. after-sales)


@dataclass(frozen=True, slots=True)
class OpenedComplaint:
    complaint_id: int
    ticket: str
    severity: Severity
    major_reasons: tuple[MajorReason, ...]
    owner_id: int | None
    department_id: int | None
    state: ComplaintState
    resolve_due_at: datetime
    charged_job_id: int | None = None  # the job it is charged through (Rule 5)


# -- pure helpers -------------------------------------------------------------------------


def tighten(record: ComplaintRecord, reasons: Sequence[MajorReason], policy: ComplaintPolicy) -> ComplaintRecord:
    """Add `reasons` to the record; a newly major complaint gets the major due times."""
    kept = tuple(r for r in MajorReason if r in set(record.major_reasons) | set(reasons))
    if kept == record.major_reasons:
        return record
    updated = replace(record, major_reasons=kept, severity=severity_for(kept))
    if kept and not record.major:
        due = due_times(record.opened_at, Severity.MAJOR, policy.time)
        updated = replace(
            updated,
            respond_due_at=_earliest(record.respond_due_at, due.respond_by),
            resolve_due_at=_earliest(record.resolve_due_at, due.resolve_by),
        )
    return updated


def _earliest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None else min(a, b)


def added_reasons(before: ComplaintRecord, after: ComplaintRecord) -> list[MajorReason]:
    return [r for r in after.major_reasons if r not in before.major_reasons]


# -- access ---------------------------------------------------------------------------------


async def visible_departments(identity: Identity | None, uow: UnitOfWork) -> set[int] | None:
    """Departments whose complaints `identity` may read; None = every department. The
    department rule of every record (`Identity.may_see_department`): their department and
    the ones below it (read from the tree here too), everything for the hotline and for
    supervisors, callback staff and admins."""
    if identity is None:
        return None
    readable = identity.readable_departments
    if readable is None or identity.department_id is None:
        return None if readable is None else set(readable)
    return set(readable) | await uow.complaints.department_subtree(identity.department_id)


async def check_visible(record: ComplaintRecord, identity: Identity | None, uow: UnitOfWork) -> None:
    if identity is None or record.owner_id == identity.staff_id:
        return
    departments = await visible_departments(identity, uow)
    if departments is None or record.department_id in departments:
        return
    raise PermissionDenied(
        f"complaint {record.ticket} belongs to another department; ask its manager or a supervisor"
    )


def check_may(record: ComplaintRecord, actor: Actor, *roles: Role, owner: bool = True) -> None:
    """The actor holds one of `roles`, or is the owner when `owner` is allowed."""
    identity = actor.identity
    if identity is None or identity.has(*roles):
        return
    if owner and record.owner_id == identity.staff_id:
        return
    who = ", ".join(r.value for r in roles) + (" or the owner" if owner else "")
    raise PermissionDenied(f"only {who} may do this to complaint {record.ticket}")


async def load(uow: UnitOfWork, complaint_id: int) -> ComplaintRecord:
    record = await uow.complaints.get(complaint_id)
    if record is None:
        raise UnknownComplaint(f"no complaint {complaint_id}; list complaints to find its id")
    return record




def summary(record: ComplaintRecord) -> dict[str, object]:
    """What a notification tells a person about a complaint (its current state)."""
    return {
        "complaint_id": record.complaint_id,
        "ticket": record.ticket,
        "state": str(record.state),
        "severity": str(record.severity),
        "major_reasons": [str(r) for r in record.major_reasons],
        "category": str(record.category),
        "owner_id": record.owner_id,
        "escalation_level": record.escalation_level,
        "group_id": record.group_id,
        "resolve_due_at": record.resolve_due_at.isoformat() if record.resolve_due_at else None,
    }
