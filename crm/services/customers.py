"""Customer use cases: identify a caller, read the card, create, edit, link numbers, merge.

Guarantees:
- `identify_caller` always returns a customer for a dialable number: the one
  owning it (whatever form the number was written in), or a new unverified
  record; two processes identifying the same unknown number at once end with
  one customer (the repository resolves the unique-number race).
- A number belongs to at most one customer (`PhoneTaken` otherwise).
- Every read that takes an `Identity` applies `Identity.may_see_department`:
  an agent of one department never gets another department's customer
  (`PermissionDenied`, 403).
- A caller without a readable number gets an "unidentified caller" record
  (`record_unidentified_caller`: unverified, no number) when they file
  something; `list_unidentified_callers` is the agents' work list, and merging
  links it to the real customer like any unverified record.
- Merging folds an unverified caller record into a real customer: its phones,
  calls, contacts, complaints, jobs, surveys, leads and callbacks move over, and
  the empty record is deleted, all in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from crm.access import CUSTOMER_WRITERS, JOB_WRITERS
from crm.customers import (
    Customer,
    CustomerCard,
    CustomerProfile,
    NoSuchCustomer,
    Phone,
    PhoneTaken,
    apply_changes,
    plan_merge,
)
from crm.enums import ContactKind, Role
from crm.errors import CrmError, aware_utc
from crm.identity import Identity, PermissionDenied
from crm.phones import normalize_phone
from crm.services.refusals import check_role, refuse

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork


class CustomerRepository(Protocol):
    async def get(self, customer_id: int) -> Customer | None: ...

    async def by_phone(self, e164: str) -> Customer | None: ...

    async def add(self, draft: CustomerDraft) -> Customer:
        """Insert; raises `PhoneTaken` when a number is already someone's."""
        ...

    async def add_unknown_caller(self, e164: str, timezone: str) -> Customer:
        """Insert an unverified customer owning `e164`, or return the one that won a race."""
        ...

    async def add_unidentified_caller(self, timezone: str, language: str) -> Customer:
        """Insert an unverified customer with no number (a withheld or unreadable caller ID)."""
        ...

    async def unidentified(self, *, limit: int, offset: int) -> list[Customer]:
        """Unverified customers without a number, newest first."""
        ...

    async def save(self, customer: Customer) -> None:
        """Write the profile fields (not the phones)."""
        ...

    async def add_phone(self, customer_id: int, phone: Phone) -> None: ...

    async def stamp_phones(self, customer_id: int, e164s: Collection[str], staff_id: int | None,
                           department_id: int | None) -> None:
        """Record who put these numbers on the record (their department then); a number
        someone put on a record already keeps that first stamp (a merge moves it as it is)."""
        ...

    async def remove_phone(self, customer_id: int, e164: str) -> bool: ...

    async def merge(self, source_id: int, target_id: int) -> None:
        """Move everything of `source_id` to `target_id`, then delete `source_id`."""
        ...

    async def card(self, customer: Customer, *, history_limit: int = 50) -> CustomerCard: ...

    # contacts (000: every contact) live with the customer they belong to
    async def add_contact(self, contact: ContactDraft) -> int: ...

    async def contact_for_call(self, call_id: int) -> int | None: ...

    async def update_contact(self, contact_id: int, **values: object) -> None: ...

    # service jobs (repairs, visits) belong to the customer they were done for
    async def add_job(self, job: JobRecord) -> JobRecord:
        """Insert; raises `PhoneTaken`-like `DuplicateJob` when the reference exists."""
        ...

    async def get_job(self, job_id: int) -> JobRecord | None: ...

    async def month_published(self, period: str) -> bool:
        """Are the supervision figures of local month `period` ("YYYY-MM") published?"""
        ...

    async def jobs(self, customer_id: int | None, *, limit: int, offset: int) -> list[JobRecord]: ...

    async def search(
        self, *, text: str | None, departments: Collection[int] | None, limit: int, offset: int
    ) -> list[Customer]:
        """Customers matching `text` (name, reference, company or number); `departments`
        (None: every one) restricts to those departments plus customers of no department."""
        ...


@dataclass(frozen=True)
class CustomerDraft(CustomerProfile):
    name: str
    phones: Sequence[str] = ()  # any written form; normalised by the use case
    verified: bool = True


@dataclass(frozen=True)
class ContactDraft:
    customer_id: int
    kind: ContactKind
    at: datetime
    staff_id: int | None = None
    call_id: int | None = None
    job_id: int | None = None
    complaint_id: int | None = None
    subject: str | None = None
    disposition: str | None = None
    summary: str | None = None
    notes: str | None = None


@dataclass(frozen=True)
class JobRecord:
    job_id: int | None
    reference: str
    customer_id: int
    technician_id: int | None = None
    department_id: int | None = None
    description: str | None = None
    completed_at: datetime | None = None


class DuplicateJob(CrmError):
    """A service job with this reference exists already: use another reference."""

    http_status = 409


def _visible(customer: Customer, identity: Identity | None) -> Customer:
    if identity is not None and not identity.may_see_department(customer.department_id):
        raise PermissionDenied(
            f"customer {customer.customer_id} belongs to another department; "
            "ask a supervisor or that department's agents"
        )
    return customer


async def _for_change(
    uow: UnitOfWork, customer_id: int, identity: Identity | None, action: str,
    roles: Sequence[Role] = CUSTOMER_WRITERS,
) -> Customer:
    """The customer a write is about: the role and the department are checked here, in the
    use case; a refusal is audited (`crm.services.refusals`) and changes nothing."""
    await check_role(uow, identity, roles, action, f"customer:{customer_id}")
    try:
        return await _get(uow, customer_id, identity)
    except PermissionDenied as exc:
        await refuse(uow, identity, action, f"customer:{customer_id}", str(exc), datetime.now(UTC))


async def _get(uow: UnitOfWork, customer_id: int, identity: Identity | None) -> Customer:
    customer = await uow.customers.get(customer_id)
    if customer is None:
        raise NoSuchCustomer(f"no customer {customer_id}; search by phone or create one")
    return _visible(customer, identity)


async def identify_caller(
    phone_raw: str, uow: UnitOfWork, *, default_region: str, default_tz: str
) -> Customer:
    """The customer owning `phone_raw`, or a new unverified one created for it.

    Raises `InvalidPhoneNumber` (a `ValueError`) for a withheld or undialable
    caller ID; the caller decides what an anonymous call gets.
    """
    async with uow:
        customer = await find_or_add_caller(
            uow, phone_raw, default_region=default_region, default_tz=default_tz)
        await uow.commit()
        return customer


async def find_or_add_caller(
    uow: UnitOfWork, phone_raw: str, *, default_region: str, default_tz: str
) -> Customer:
    """`identify_caller` inside a transaction the caller opened (it commits, not this).

    The IVR driver calls it in the call's first turn, so identifying the
    caller, logging the call and starting the session are one transaction."""
    e164 = normalize_phone(phone_raw, default_region)
    found = await uow.customers.by_phone(e164)
    if found is not None:
        return found
    return await uow.customers.add_unknown_caller(e164, default_tz)


async def record_unidentified_caller(
    uow: UnitOfWork, *, call_id: int | None, timezone: str, language: str
) -> Customer:
    """An "unidentified caller" record for a call whose number nobody can read (withheld,
    foreign in a form we cannot parse): an unverified customer without a number, which
    the call (and what the caller files on it) belongs to. An agent later links it to
    the real customer (`merge_caller_into`) or names it (`update_customer`)."""
    async with uow:
        customer = await uow.customers.add_unidentified_caller(timezone, language)
        if call_id is not None:
            await uow.calls.update(call_id, customer_id=customer.customer_id)
        await uow.commit()
        return customer


async def list_unidentified_callers(
    uow: UnitOfWork, *, identity: Identity | None = None, limit: int = 50, offset: int = 0
) -> list[Customer]:
    """Unidentified caller records waiting for an agent to link or name them, newest first."""
    async with uow:
        found = await uow.customers.unidentified(limit=limit, offset=offset)
    return [c for c in found if identity is None or identity.may_see_department(c.department_id)]


async def find_by_phone(
    phone_raw: str, uow: UnitOfWork, *, default_region: str, identity: Identity | None = None
) -> Customer:
    e164 = normalize_phone(phone_raw, default_region)
    async with uow:
        found = await uow.customers.by_phone(e164)
    if found is None:
        raise NoSuchCustomer("no customer has this number; create one or link it to a customer")
    return _visible(found, identity)


async def customer_card(
    customer_id: int, uow: UnitOfWork, *, identity: Identity | None = None, history_limit: int = 50
) -> CustomerCard:
    async with uow:
        customer = await _get(uow, customer_id, identity)
        return await uow.customers.card(customer, history_limit=history_limit)


async def get_customer(
    customer_id: int, uow: UnitOfWork, *, identity: Identity | None = None
) -> Customer:
    async with uow:
        return await _get(uow, customer_id, identity)


async def search_customers(
    uow: UnitOfWork, *, identity: Identity, text: str | None = None, limit: int = 50, offset: int = 0
) -> list[Customer]:
    async with uow:
        found = await uow.customers.search(
            text=text, departments=identity.readable_departments, limit=limit, offset=offset
        )
    return [c for c in found if identity.may_see_department(c.department_id)]


async def _stamp(uow: UnitOfWork, customer_id: int, e164s: Collection[str],
                 identity: Identity | None) -> None:
    """A person put these numbers on the record, or named the caller record they are on:
    remember who (first-hand surveys, `crm.surveys.planted_numbers`); a number keeps the
    first person's stamp. Without a person (import, the caller's own call) nothing."""
    if identity is not None:
        await uow.customers.stamp_phones(customer_id, e164s, identity.staff_id, identity.department_id)


async def create_customer(
    draft: CustomerDraft, uow: UnitOfWork, *, default_region: str, identity: Identity | None = None
) -> Customer:
    """A new customer. Staff of a department (not the hotline's, not supervisors or callback
    staff) create customers of their department or one below it; naming none makes it their
    own department's: a customer of no department is everyone's, and a complaint naming no
    job with no recent job to be charged through would then count against no department."""
    phones = list(dict.fromkeys(normalize_phone(p, default_region) for p in draft.phones))
    if (identity is not None and identity.readable_departments is not None
            and draft.department_id is None and identity.department_id is not None):
        draft = replace(draft, department_id=identity.department_id)
    async with uow:
        await check_role(uow, identity, CUSTOMER_WRITERS, "customer.create")
        if identity is not None and not identity.may_see_department(draft.department_id):
            await refuse(uow, identity, "customer.create", f"department:{draft.department_id}",
                         "you may only create customers of your own department", datetime.now(UTC))
        for e164 in phones:
            if await uow.customers.by_phone(e164) is not None:
                raise PhoneTaken(
                    "this number already belongs to another customer: open that card, "
                    "or move the number with the phones API"
                )
        customer = await uow.customers.add(
            replace(draft, phones=tuple(phones))
        )
        await _stamp(uow, customer.customer_id, phones, identity)
        await uow.commit()
        return customer


async def update_customer(
    customer_id: int,
    changes: dict[str, object],
    uow: UnitOfWork,
    *,
    identity: Identity | None = None,
) -> Customer:
    async with uow:
        customer = await _for_change(uow, customer_id, identity, "customer.update")
        updated = apply_changes(customer, changes)
        _visible(updated, identity)  # cannot move a customer out of one's own reach
        if (identity is not None and identity.readable_departments is not None
                and customer.department_id is not None and updated.department_id is None):
            # a job-less complaint is charged to the customer's department: none would
            # take the customer's next complaint out of the department's count
            await refuse(uow, identity, "customer.update", f"customer:{customer_id}",
                         "a customer of a department is not moved to no department; move them "
                         "to a department or ask the hotline", datetime.now(UTC))
        await uow.customers.save(updated)
        if updated.verified and not customer.verified:  # naming a caller record vouches its numbers
            await _stamp(uow, customer_id, [p.e164 for p in customer.phones], identity)
        await uow.commit()
        return updated


async def link_phone(
    customer_id: int,
    phone_raw: str,
    uow: UnitOfWork,
    *,
    default_region: str,
    label: str | None = None,
    primary: bool = False,
    identity: Identity | None = None,
) -> Customer:
    """Give `customer_id` another number. A number held by an unverified caller
    record is taken over by merging that record (its history follows)."""
    e164 = normalize_phone(phone_raw, default_region)
    async with uow:
        customer = await _for_change(uow, customer_id, identity, "customer.link_phone")
        owner = await uow.customers.by_phone(e164)
        if owner is not None and owner.customer_id == customer_id:
            return customer
        if owner is not None:
            plan_merge(owner, customer)  # raises MergeRefused for a verified owner
            await uow.customers.merge(owner.customer_id, customer_id)
            moved = [p.e164 for p in owner.phones]
        else:
            await uow.customers.add_phone(customer_id, Phone(e164, label, primary))
            moved = [e164]
        await _stamp(uow, customer_id, moved, identity)
        await uow.commit()
        result = await uow.customers.get(customer_id)
    assert result is not None
    return result


async def unlink_phone(
    customer_id: int,
    phone_raw: str,
    uow: UnitOfWork,
    *,
    default_region: str,
    identity: Identity | None = None,
) -> None:
    e164 = normalize_phone(phone_raw, default_region)
    async with uow:
        await _for_change(uow, customer_id, identity, "customer.unlink_phone")
        if not await uow.customers.remove_phone(customer_id, e164):
            raise NoSuchCustomer("this customer has no such number")
        await uow.commit()


async def merge_caller_into(
    source_id: int, target_id: int, uow: UnitOfWork, *, identity: Identity | None = None
) -> Customer:
    """Fold the unverified caller record `source_id` into the real customer `target_id`."""
    async with uow:
        source = await _for_change(uow, source_id, identity, "customer.merge")
        target = await _for_change(uow, target_id, identity, "customer.merge")
        plan_merge(source, target)
        await uow.customers.merge(source_id, target_id)
        await _stamp(uow, target_id, [p.e164 for p in source.phones], identity)
        await uow.commit()
        merged = await uow.customers.get(target_id)
    assert merged is not None
    return merged


#: how far ahead of the server's clock a completion time typed by staff may be (clock skew)
COMPLETION_SKEW = timedelta(minutes=5)


class InvalidJobDate(CrmError, ValueError):
    """A job's completion time staff may not give: in the future or in a closed month."""

    http_status = 422


#: how far back staff may date a job's completion by default (JOB_COMPLETION_BACKDATE_HOURS)
COMPLETION_BACKDATE = timedelta(hours=48)


async def add_job(job: JobRecord, uow: UnitOfWork, *, identity: Identity | None = None,
                  now: datetime | None = None, zone: str = "Asia/Shanghai",
                  backdate: timedelta = COMPLETION_BACKDATE) -> JobRecord:
    """Book a service job. Staff (`identity`) date its completion neither in the future, nor
    more than `backdate` ago, nor in a local month (`zone`) whose supervision figures are
    published: a survey counts in its job's month, so the date would choose where (or
    whether) it counts. Without the `backdate` bound, a department could book the jobs it
    expects bad surveys on into last month while that month is still open (sinking the
    average this month is compared with). A job older than that, or of a closed month,
    comes in by an operator's import, as a correction."""
    if job.completed_at is not None:
        job = replace(job, completed_at=aware_utc(job.completed_at, "completed_at"))
    async with uow:
        await _for_change(uow, job.customer_id, identity, "job.add", JOB_WRITERS)
        await _check_job_department(uow, job, identity, "job.add")
        if identity is not None and job.completed_at is not None:
            await _check_completion(uow, job.completed_at, now or datetime.now(UTC), zone,
                                    backdate)
        saved = await uow.customers.add_job(job)
        await uow.commit()
        return saved


async def _check_completion(uow: UnitOfWork, completed_at: datetime, now: datetime,
                            zone: str, backdate: timedelta) -> None:
    if completed_at > now + COMPLETION_SKEW:
        raise InvalidJobDate(
            f"completed_at {completed_at.isoformat()} is in the future: book a job once it is done")
    if completed_at < now - backdate:
        hours = backdate / timedelta(hours=1)
        raise InvalidJobDate(
            f"completed_at {completed_at.isoformat()} is more than {hours:g} hours ago: book a "
            "job when it is done; an older job is added by an operator's import")
    period = f"{completed_at.astimezone(ZoneInfo(zone)):%Y-%m}"
    if await uow.customers.month_published(period):
        raise InvalidJobDate(
            f"completed_at falls in {period}, whose supervision figures are published: a job of "
            "a closed month is added by an operator's import (it goes into a correction)")


async def _check_job_department(
    uow: UnitOfWork, job: JobRecord, identity: Identity | None, action: str
) -> None:
    """Staff book a job only to a department they write to (their own or one below it), with
    a technician of such a department: a job scores its department, which must not be able
    to book its work (and its surveys) to another. A refusal is audited and changes nothing."""
    if identity is None or identity.sees_all_departments:
        return
    mine = (await uow.complaints.department_subtree(identity.department_id)
            if identity.department_id is not None else set())
    technician = (await uow.complaints.staff(job.technician_id)
                  if job.technician_id is not None else None)
    if job.department_id is not None and job.department_id not in mine:
        reason = "you may only book service jobs to your own department or one below it"
    elif technician is not None and technician.department_id not in mine:
        reason = "you may only book service jobs to a technician of your own department or one below it"
    else:
        return
    await refuse(uow, identity, action, f"department:{job.department_id}", reason, datetime.now(UTC))


async def get_job(job_id: int, uow: UnitOfWork, *, identity: Identity | None = None) -> JobRecord:
    async with uow:
        job = await uow.customers.get_job(job_id)
        if job is None:
            raise NoSuchJob(f"no service job {job_id}")
        await _get(uow, job.customer_id, identity)
        return job


async def list_jobs(
    uow: UnitOfWork, *, customer_id: int, identity: Identity | None = None,
    limit: int = 50, offset: int = 0,
) -> list[JobRecord]:
    async with uow:
        await _get(uow, customer_id, identity)
        return await uow.customers.jobs(customer_id, limit=limit, offset=offset)


class NoSuchJob(CrmError, LookupError):
    http_status = 404
