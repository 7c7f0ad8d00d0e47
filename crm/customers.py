"""Customers as the CRM knows them, and the card an agent sees (000, 004, 002).

Guarantees:
- A `Customer` always holds its phone numbers in E.164 (normalised with
  `crm.phones.normalize_phone`), so caller-ID matching is string equality.
- A caller nobody knows becomes a customer with `verified=False` and an empty
  name; the agent then fills it in (`verify`) or links the number to the real
  customer (a merge). `CustomerCard.unknown_caller` tells the page which.
- `vip_reasons` delegates to `crm.major.vip_reasons`, so the card and the
  major-complaint rule (002) always agree.
- `plan_merge` refuses to merge a customer into itself or a verified customer
  into anything: only an unverified caller record is folded into a real one.

Pure: no I/O, no framework imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum

from crm import major
from crm.enums import LeadState, MajorReason, ValueGrade
from crm.errors import CrmError, UnknownCustomer


class MergeRefused(CrmError):
    """A merge the rules do not allow (pick another pair of customers)."""

    http_status = 409


class PhoneTaken(CrmError):
    """The number already belongs to another customer (merge or unlink it first)."""

    http_status = 409


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    label: str | None = None
    is_primary: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerProfile:
    """A customer's profile, named once: `Customer` and the new customer's draft
    (`crm.services.customers.CustomerDraft`) are this with a name and numbers."""

    reference: str | None = None
    company: str | None = None
    title: str | None = None
    address: str | None = None
    language: str = "zh-CN"
    timezone: str = "Asia/Shanghai"
    value_grade: ValueGrade = ValueGrade.NORMAL
    vip_high_spend: bool = False
    vip_official: bool = False
    vip_public_figure: bool = False
    vip_journalist: bool = False
    do_not_call: bool = False
    preferences: str | None = None
    equipment: str | None = None
    department_id: int | None = None


@dataclass(frozen=True, slots=True)
class Customer(CustomerProfile):
    customer_id: int
    name: str
    phones: tuple[Phone, ...] = ()
    verified: bool = True

    @property
    def primary_phone(self) -> str | None:
        for phone in self.phones:
            if phone.is_primary:
                return phone.e164
        return self.phones[0].e164 if self.phones else None

    @property
    def vip_flags(self) -> major.CustomerFlags:
        """The flags in the shape the major-complaint rule reads."""
        return major.CustomerFlags(*(getattr(self, name) for name in VIP_FLAGS))

    @property
    def unidentified(self) -> bool:
        """An "unidentified caller" record: unverified and without a number (the caller's
        number was withheld or unreadable); an agent links it to the real customer."""
        return not self.verified and not self.phones


def vip_reasons(customer: Customer) -> list[MajorReason]:
    """The VIP flags set on `customer`, as major-complaint reasons (002 rule 1)."""
    return major.vip_reasons(customer.vip_flags)


# The customer's fields, named once: the API models, the CSV import, the repository and
# the use cases build their lists from these.
#: the VIP flags (`major.CustomerFlags`), in its order
VIP_FLAGS = ("vip_high_spend", "vip_official", "vip_public_figure", "vip_journalist")
#: every yes/no flag of a customer
FLAGS = (*VIP_FLAGS, "do_not_call")
#: fields that always have a value (an update may change them, never clear them)
REQUIRED_FIELDS = ("name", "language", "timezone", "value_grade", *FLAGS)
#: fields an agent may change on a customer (its name and profile); the API and the service
#: share this list
EDITABLE_FIELDS = ("name", *(f.name for f in fields(CustomerProfile)))


def apply_changes(customer: Customer, changes: dict[str, object]) -> Customer:
    """Return `customer` with `changes` applied; a named customer becomes verified."""
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValueError(f"cannot change {', '.join(unknown)}; editable: {', '.join(EDITABLE_FIELDS)}")
    updated = replace(customer, **changes)  # type: ignore[arg-type]
    if updated.name.strip() and not customer.verified and "name" in changes:
        updated = replace(updated, verified=True)
    return updated


def plan_merge(source: Customer, target: Customer) -> Customer:
    """Check that `source` may be folded into `target`; return the merged target.

    Only an unverified caller record merges into another customer; the target
    keeps its own profile and gains the source's phones (as non-primary).
    """
    if source.customer_id == target.customer_id:
        raise MergeRefused("cannot merge a customer into itself: pick the real customer record")
    if source.verified:
        raise MergeRefused(
            f"customer {source.customer_id} is a verified record: only an unverified caller "
            "record is merged; move single numbers with the phones API instead"
        )
    known = {p.e164 for p in target.phones}
    extra = tuple(Phone(p.e164, p.label, False) for p in source.phones if p.e164 not in known)
    return replace(target, phones=target.phones + extra)


# -- what the card shows --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobSummary:
    job_id: int
    reference: str
    description: str | None
    technician: str | None
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ComplaintSummary:
    complaint_id: int
    ticket: str
    category: str
    state: str
    major: bool
    opened_at: datetime
    owner: str | None

    @property
    def is_open(self) -> bool:
        return self.state not in ("resolved", "closed")


@dataclass(frozen=True, slots=True)
class SurveySummary:
    survey_id: int
    surveyed_at: datetime
    timeliness: str | None
    quality: str | None
    attitude: str | None
    verification: str


@dataclass(frozen=True, slots=True)
class ContactEntry:
    """One line of the contact history: a call, a visit, a note or a form."""

    contact_id: int
    kind: str
    at: datetime
    staff: str | None
    disposition: str | None
    summary: str | None
    notes: str | None
    call_id: int | None = None
    ivr_path: str | None = None
    call_outcome: str | None = None


@dataclass(frozen=True, slots=True)
class CallEntry:
    call_id: int
    carrier: str
    direction: str
    started_at: datetime
    disposition: str
    ivr_path: str | None
    agent: str | None
    duration_s: float | None


@dataclass(frozen=True, slots=True)
class LeadSummary:
    lead_id: int
    need: str
    equipment: str | None
    demand_level: int
    state: LeadState
    found_by: str | None
    assigned_to: str | None
    follow_up_at: datetime | None


@dataclass(frozen=True)
class CustomerCard:
    """Everything an agent needs about one customer, newest first."""

    customer: Customer
    jobs: list[JobSummary] = field(default_factory=list)
    complaints: list[ComplaintSummary] = field(default_factory=list)
    surveys: list[SurveySummary] = field(default_factory=list)
    contacts: list[ContactEntry] = field(default_factory=list)
    calls: list[CallEntry] = field(default_factory=list)
    leads: list[LeadSummary] = field(default_factory=list)

    @property
    def unknown_caller(self) -> bool:
        """True: the page offers "create customer" / "link to an existing customer"."""
        return not self.customer.verified

    @property
    def open_complaints(self) -> list[ComplaintSummary]:
        return [c for c in self.complaints if c.is_open]

    @property
    def vip(self) -> list[MajorReason]:
        return vip_reasons(self.customer)


def ivr_path_label(path: str | None) -> str | None:
    """'main>complaint>repair_quality' -> 'complaint / repair quality' (why they called)."""
    if not path:
        return None
    steps = [s.strip() for s in path.replace("/", ">").split(">") if s.strip()]
    steps = [s for s in steps if s not in ("main", "root", "start")]
    return " / ".join(s.replace("_", " ") for s in steps) or None


class NoSuchCustomer(UnknownCustomer):
    """No customer has this id (or number); create one or pass an existing customer_id."""

    http_status = 404


class WrapUpDisposition(StrEnum):
    """How the agent closes a contact (stored in `contacts.disposition`)."""

    RESOLVED = "resolved"  # answered / fixed on the call
    INFO_GIVEN = "info_given"
    COMPLAINT_OPENED = "complaint_opened"
    CALLBACK_NEEDED = "callback_needed"
    TRANSFERRED = "transferred"
    WRONG_NUMBER = "wrong_number"
    OTHER = "other"
