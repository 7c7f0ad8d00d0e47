"""SQL implementation of `CustomerRepository` (crm.services.customers).

Guarantees: returns `crm.customers` dataclasses, never ORM rows; the unique
index on `customer_phones.e164` decides races (a lost insert is undone by its
SAVEPOINT and the winner is returned); `merge` moves every row that points at
the source customer before deleting it, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Row,
    Select,
    Table,
    bindparam,
    cast,
    delete,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from callcenter.storage.inserts import CONTACTS, Insert, contact_row, defaulted, with_defaults
from callcenter.storage.refusals import refusal_of
from callcenter.storage.tables import (
    Call,
    Callback,
    Complaint,
    Contact,
    CustomerPhone,
    Lead,
    ReportVersion,
    ServiceJob,
    Staff,
    Survey,
)
from callcenter.storage.tables import (
    Customer as CustomerRow,
)
from callcenter.storage.text_search import contains, phone_digits
from callcenter.storage.types import utcnow
from crm.customers import (
    EDITABLE_FIELDS,
    CallEntry,
    ComplaintSummary,
    ContactEntry,
    Customer,
    CustomerCard,
    JobSummary,
    LeadSummary,
    Phone,
    PhoneTaken,
    SurveySummary,
)
from crm.enums import ContactKind, LeadState, ValueGrade
from crm.services.customers import ContactDraft, CustomerDraft, DuplicateJob, JobRecord

#: the profile columns copied as they are (value_grade is converted on its own)
PROFILE = (*(f for f in EDITABLE_FIELDS if f != "value_grade"), "verified")
# Every table whose rows follow a customer through a merge.
OWNED = (Call, Contact, Complaint, ServiceJob, Survey, Lead, Callback)


def _only_taken(exc: IntegrityError) -> None:
    """Re-raise `exc` unless a unique value was taken: an unknown department is not a
    taken number (the web layer answers it as a missing reference)."""
    refusal = refusal_of(exc)
    if refusal is None or refusal.kind != "unique":
        raise exc


def _grade(value: str) -> ValueGrade:
    return ValueGrade(value) if value in ValueGrade._value2member_map_ else ValueGrade.NORMAL


def to_customer(row: CustomerRow, phones: list[CustomerPhone]) -> Customer:
    ordered = sorted(phones, key=lambda p: (not p.is_primary, p.id))
    return Customer(
        customer_id=row.id,
        phones=tuple(Phone(p.e164, p.label, p.is_primary) for p in ordered),
        value_grade=_grade(row.value_grade),
        **{name: getattr(row, name) for name in PROFILE},
    )


_OWNER = aliased(CustomerPhone)
#: PostgreSQL, on the driver (asyncpg) connection: (e164, customer id) of these numbers
PG_OWNERS = "SELECT e164, customer_id FROM customer_phones WHERE e164 = ANY($1::text[])"
_PG_NEXT_IDS = "SELECT nextval(pg_get_serial_sequence('customers', 'id')) FROM generate_series(1, $1)"
_CUSTOMERS: Table = CustomerRow.__table__  # type: ignore[assignment]
_PHONES: Table = CustomerPhone.__table__  # type: ignore[assignment]
_PG_UNKNOWN = defaulted(_CUSTOMERS, ("id", "name", "verified", "timezone"))
_PG_ADD_UNKNOWN, _PG_ADD_UNKNOWN_NAMES = _PG_UNKNOWN.from_arrays(1, "c")
_PG_NUMBERS = Insert(_PHONES, ("customer_id", "e164", "is_primary", "created_at"),
                     "ON CONFLICT (e164) DO NOTHING")
_PG_ADD_NUMBERS, _PG_ADD_NUMBER_NAMES = _PG_NUMBERS.from_arrays(1, "p", returning="RETURNING e164")


async def add_unknown_callers_pg(connection: Any, e164s: Iterable[str], timezone: str
                                 ) -> dict[str, int]:
    """`SqlCustomerRepository.add_unknown_callers` on an asyncpg connection (in its
    transaction): the customers under ids taken first, then their numbers (a number someone
    else took meanwhile goes to its owner, and the customer made for it is deleted again)."""
    wanted = sorted(set(e164s))
    if not wanted:
        return {}
    ids = [row[0] for row in await connection.fetch(_PG_NEXT_IDS, len(wanted))]
    await connection.execute(_PG_ADD_UNKNOWN, *_PG_UNKNOWN.arrays(_PG_ADD_UNKNOWN_NAMES, [
        with_defaults(_PG_UNKNOWN, {"id": i, "name": "", "verified": False, "timezone": timezone})
        for i in ids]))
    made = dict(zip(wanted, ids, strict=True))
    now = utcnow()
    stored = {row[0] for row in await connection.fetch(_PG_ADD_NUMBERS, *_PG_NUMBERS.arrays(
        _PG_ADD_NUMBER_NAMES, [{"customer_id": made[e164], "e164": e164, "is_primary": True,
                                "created_at": now} for e164 in wanted]))}
    lost = [e164 for e164 in wanted if e164 not in stored]
    if lost:
        await connection.execute("DELETE FROM customers WHERE id = ANY($1::bigint[])",
                                 [made[e164] for e164 in lost])
        made.update(dict(await connection.fetch(PG_OWNERS, lost)))
    return made
#: a contact, through the table's one INSERT (`inserts.CONTACTS`)
_ADD_CONTACT = CONTACTS.values(1, returning="RETURNING id")
_PHONE = aliased(CustomerPhone)
_BY_PHONE = (
    select(CustomerRow.id, CustomerRow.value_grade,
           *(getattr(CustomerRow, name) for name in PROFILE),
           _PHONE.id.label("phone_id"), _PHONE.e164.label("phone_e164"),
           _PHONE.label.label("phone_label"), _PHONE.is_primary.label("phone_is_primary"))
    .select_from(_OWNER)
    .join(CustomerRow, CustomerRow.id == _OWNER.customer_id)
    .join(_PHONE, _PHONE.customer_id == CustomerRow.id)
    .where(_OWNER.e164 == bindparam("e164"))
)


def _job(row: ServiceJob) -> JobRecord:
    return JobRecord(
        row.id, row.reference, row.customer_id, row.technician_id, row.department_id,
        row.description, row.completed_at,
    )


class SqlCustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _phones(self, customer_id: int) -> list[CustomerPhone]:
        rows = await self.session.scalars(
            select(CustomerPhone).where(CustomerPhone.customer_id == customer_id)
        )
        return list(rows)

    async def get(self, customer_id: int) -> Customer | None:
        row = await self.session.get(CustomerRow, customer_id, populate_existing=True)
        if row is None:
            return None
        return to_customer(row, await self._phones(row.id))

    async def by_phone(self, e164: str) -> Customer | None:
        """One round trip (every caller's first webhook asks): the owner and all its phones."""
        rows = (await self.session.execute(_BY_PHONE, {"e164": e164})).all()
        if not rows:
            return None
        first = rows[0]
        phones = sorted(rows, key=lambda r: (not r.phone_is_primary, r.phone_id))
        return Customer(
            customer_id=first.id,
            phones=tuple(Phone(r.phone_e164, r.phone_label, r.phone_is_primary) for r in phones),
            value_grade=_grade(first.value_grade),
            **{name: getattr(first, name) for name in PROFILE},
        )

    async def add(self, draft: CustomerDraft) -> Customer:
        values = {name: getattr(draft, name) for name in PROFILE}
        row = CustomerRow(value_grade=draft.value_grade.value, **values)
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
                for i, e164 in enumerate(draft.phones):
                    self.session.add(CustomerPhone(customer_id=row.id, e164=e164, is_primary=i == 0))
                await self.session.flush()
        except IntegrityError as exc:
            _only_taken(exc)
            raise PhoneTaken(
                "a number or the reference already belongs to another customer"
            ) from exc
        found = await self.get(row.id)
        assert found is not None
        return found

    async def add_unknown_caller(self, e164: str, timezone: str) -> Customer:
        try:
            async with self.session.begin_nested():
                row = CustomerRow(name="", verified=False, timezone=timezone)
                self.session.add(row)
                await self.session.flush()
                self.session.add(CustomerPhone(customer_id=row.id, e164=e164, is_primary=True))
                await self.session.flush()
        except IntegrityError:
            winner = await self.by_phone(e164)
            if winner is None:
                raise
            return winner
        found = await self.get(row.id)
        assert found is not None
        return found

    async def owners_of(self, e164s: Iterable[str]) -> dict[str, int]:
        """The customer owning each of these numbers (one SELECT); unknown ones left out."""
        wanted = list(e164s)
        if not wanted:
            return {}
        rows = await self.session.execute(select(CustomerPhone.e164, CustomerPhone.customer_id)
                                          .where(CustomerPhone.e164.in_(wanted)))
        return {e164: customer_id for e164, customer_id in rows.all()}

    async def add_unknown_callers(self, e164s: Iterable[str], timezone: str) -> dict[str, int]:
        """`add_unknown_caller` for many numbers in three statements: the customers, their
        numbers (a number someone else took meanwhile goes to its owner, and the customer
        made for it is deleted again). Returns e164 -> customer id."""
        wanted = sorted(set(e164s))
        if not wanted:
            return {}
        rows = [CustomerRow(name="", verified=False, timezone=timezone) for _ in wanted]
        self.session.add_all(rows)
        await self.session.flush()
        made = {e164: row.id for e164, row in zip(wanted, rows, strict=True)}
        insert = (pg_insert if self.session.bind.dialect.name == "postgresql" else sqlite_insert)
        stored = set((await self.session.execute(
            insert(CustomerPhone).on_conflict_do_nothing(index_elements=["e164"])
            .returning(CustomerPhone.e164),
            [{"customer_id": made[e164], "e164": e164, "is_primary": True, "created_at": utcnow()}
             for e164 in wanted])).scalars())
        lost = [e164 for e164 in wanted if e164 not in stored]
        if lost:
            await self.session.execute(delete(CustomerRow).where(
                CustomerRow.id.in_([made[e164] for e164 in lost])))
            made.update(await self.owners_of(lost))
        return made

    async def add_unidentified_caller(self, timezone: str, language: str) -> Customer:
        row = CustomerRow(name="", verified=False, timezone=timezone, language=language)
        self.session.add(row)
        await self.session.flush()
        found = await self.get(row.id)
        assert found is not None
        return found

    async def unidentified(self, *, limit: int, offset: int) -> list[Customer]:
        has_phone = select(CustomerPhone.id).where(CustomerPhone.customer_id == CustomerRow.id)
        rows = (await self.session.scalars(
            select(CustomerRow)
            .where(CustomerRow.verified.is_(False), ~has_phone.exists())
            .order_by(CustomerRow.id.desc()).limit(limit).offset(offset)
        )).all()
        return [to_customer(row, []) for row in rows]

    async def save(self, customer: Customer) -> None:
        values = {name: getattr(customer, name) for name in PROFILE}
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    update(CustomerRow)
                    .where(CustomerRow.id == customer.customer_id)
                    .values(value_grade=ValueGrade(customer.value_grade).value, **values)
                )
        except IntegrityError as exc:
            _only_taken(exc)
            raise PhoneTaken("this reference already belongs to another customer") from exc

    async def add_phone(self, customer_id: int, phone: Phone) -> None:
        try:
            async with self.session.begin_nested():
                if phone.is_primary:
                    await self.session.execute(
                        update(CustomerPhone)
                        .where(CustomerPhone.customer_id == customer_id)
                        .values(is_primary=False)
                    )
                self.session.add(CustomerPhone(
                    customer_id=customer_id, e164=phone.e164, label=phone.label,
                    is_primary=phone.is_primary,
                ))
                await self.session.flush()
        except IntegrityError as exc:
            _only_taken(exc)
            raise PhoneTaken("this number already belongs to another customer") from exc

    async def stamp_phones(self, customer_id: int, e164s: Collection[str], staff_id: int | None,
                           department_id: int | None) -> None:
        if e164s:
            await self.session.execute(
                update(CustomerPhone)
                .where(CustomerPhone.customer_id == customer_id, CustomerPhone.e164.in_(list(e164s)),
                       CustomerPhone.added_by.is_(None))  # the first person's word stays
                .values(added_by=staff_id, added_by_department_id=department_id))

    async def remove_phone(self, customer_id: int, e164: str) -> bool:
        result = await self.session.execute(
            delete(CustomerPhone).where(
                CustomerPhone.customer_id == customer_id, CustomerPhone.e164 == e164
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def merge(self, source_id: int, target_id: int) -> None:
        await self.session.execute(
            update(CustomerPhone)
            .where(CustomerPhone.customer_id == source_id)
            .values(customer_id=target_id, is_primary=False)
        )
        for table in OWNED:
            await self.session.execute(
                update(table).where(table.customer_id == source_id).values(customer_id=target_id)
            )
        await self.session.execute(delete(CustomerRow).where(CustomerRow.id == source_id))
        self.session.expunge_all()

    async def add_contact(self, contact: ContactDraft) -> int:
        row = contact_row({
            "customer_id": contact.customer_id, "kind": ContactKind(contact.kind).value,
            "at": contact.at, "call_id": contact.call_id, "staff_id": contact.staff_id,
            "job_id": contact.job_id, "complaint_id": contact.complaint_id,
            "subject": contact.subject, "disposition": contact.disposition,
            "summary": contact.summary, "notes": contact.notes})
        return int((await self.session.execute(_ADD_CONTACT, CONTACTS.params([row]))).scalar_one())

    async def contact_for_call(self, call_id: int) -> int | None:
        found = await self.session.scalar(
            select(Contact.id).where(Contact.call_id == call_id).order_by(Contact.id).limit(1)
        )
        return None if found is None else int(found)

    async def update_contact(self, contact_id: int, **values: object) -> None:
        await self.session.execute(update(Contact).where(Contact.id == contact_id).values(**values))

    async def add_job(self, job: JobRecord) -> JobRecord:
        row = ServiceJob(
            reference=job.reference, customer_id=job.customer_id, technician_id=job.technician_id,
            department_id=job.department_id, description=job.description,
            completed_at=job.completed_at,
        )
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError as exc:
            raise DuplicateJob(
                f"job reference {job.reference!r} exists, or the technician / department is unknown"
            ) from exc
        return _job(row)

    async def month_published(self, period: str) -> bool:
        found = await self.session.scalar(select(ReportVersion.id).where(
            ReportVersion.kind == "supervision", ReportVersion.period == period,
            ReportVersion.published_at.is_not(None)).limit(1))
        return found is not None

    async def get_job(self, job_id: int) -> JobRecord | None:
        row = await self.session.get(ServiceJob, job_id)
        return None if row is None else _job(row)

    async def jobs(self, customer_id: int | None, *, limit: int, offset: int) -> list[JobRecord]:
        query = select(ServiceJob).order_by(ServiceJob.id.desc()).limit(limit).offset(offset)
        if customer_id is not None:
            query = query.where(ServiceJob.customer_id == customer_id)
        return [_job(r) for r in await self.session.scalars(query)]

    async def search(
        self, *, text: str | None, departments: Collection[int] | None, limit: int, offset: int
    ) -> list[Customer]:
        query = select(CustomerRow).order_by(CustomerRow.id).limit(limit).offset(offset)
        if departments is not None:
            query = query.where(or_(CustomerRow.department_id.in_(list(departments)),
                                    CustomerRow.department_id.is_(None)))
        if text and text.strip():
            wanted = text.strip()
            found = [contains(CustomerRow.name, wanted), contains(CustomerRow.reference, wanted),
                     contains(CustomerRow.company, wanted)]
            digits = phone_digits(wanted)
            if digits is not None:  # any of the customer's numbers, typed in any format
                found.append(CustomerRow.id.in_(select(CustomerPhone.customer_id).where(
                    CustomerPhone.e164.like(f"%{digits}%"))))
            query = query.where(or_(*found))
        rows = list(await self.session.scalars(query))
        phones: dict[int, list[CustomerPhone]] = {r.id: [] for r in rows}
        if rows:
            for phone in await self.session.scalars(
                select(CustomerPhone).where(CustomerPhone.customer_id.in_(list(phones)))
            ):
                phones[phone.customer_id].append(phone)
        return [to_customer(r, phones[r.id]) for r in rows]

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count(CustomerRow.id))) or 0)

    # -- the card -------------------------------------------------------------------------

    async def card(self, customer: Customer, *, history_limit: int = 50) -> CustomerCard:
        """The whole card in one round trip (the screen-pop runs it on every offered call)."""
        params = {"cid": customer.customer_id, "lim": history_limit}
        parts: list[list[Row[Any]]] = [[] for _ in CARD_PARTS]
        for row in await self.session.execute(CARD, params):
            parts[row[0]].append(row)
        lists: list[list[tuple[Any, ...]]] = []
        for index, (start, stop) in enumerate(CARD_SLICES):
            lists.append([tuple(r[start:stop]) for r in sorted(parts[index], key=lambda r: r[1])])
        jobs, complaints, surveys, contacts, calls, leads = lists
        return CustomerCard(
            customer,
            [JobSummary(*r) for r in jobs],
            [ComplaintSummary(*r) for r in complaints],
            [SurveySummary(*r) for r in surveys],
            [ContactEntry(*r) for r in contacts],
            [CallEntry(*r) for r in calls],
            [LeadSummary(r[0], r[1], r[2], r[3], LeadState(r[4]), r[5], r[6], r[7]) for r in leads],
        )


# The card's statements are built once (column lists, bound customer id and limit): the
# screen-pop runs them on every offered call.
_cid, _lim = bindparam("cid"), bindparam("lim")
_tech, _finder, _follower = aliased(Staff), aliased(Staff), aliased(Staff)
CARD_JOBS = (
    select(ServiceJob.id, ServiceJob.reference, ServiceJob.description, _tech.name,
           ServiceJob.completed_at)
    .outerjoin(_tech, _tech.id == ServiceJob.technician_id).where(ServiceJob.customer_id == _cid)
    .order_by(ServiceJob.completed_at.desc().nulls_first(), ServiceJob.id.desc()).limit(_lim)
)
CARD_COMPLAINTS = (
    select(Complaint.id, Complaint.ticket, Complaint.category, Complaint.state, Complaint.major,
           Complaint.opened_at, _tech.name)
    .outerjoin(_tech, _tech.id == Complaint.owner_id).where(Complaint.customer_id == _cid)
    .order_by(Complaint.opened_at.desc(), Complaint.id.desc()).limit(_lim)
)
CARD_SURVEYS = (
    select(Survey.id, Survey.surveyed_at, Survey.timeliness, Survey.quality, Survey.attitude,
           Survey.verification)
    .where(Survey.customer_id == _cid).order_by(Survey.surveyed_at.desc(), Survey.id.desc())
    .limit(_lim)
)
CARD_CONTACTS = (
    select(Contact.id, Contact.kind, Contact.at, _tech.name, Contact.disposition, Contact.summary,
           Contact.notes, Contact.call_id, Call.ivr_path, Call.disposition)
    .outerjoin(_tech, _tech.id == Contact.staff_id).outerjoin(Call, Call.id == Contact.call_id)
    .where(Contact.customer_id == _cid).order_by(Contact.at.desc(), Contact.id.desc()).limit(_lim)
)
CARD_CALLS = (
    select(Call.id, Call.carrier, Call.direction, Call.started_at, Call.disposition, Call.ivr_path,
           _tech.name, Call.duration_s)
    .outerjoin(_tech, _tech.id == Call.agent_id).where(Call.customer_id == _cid)
    .order_by(Call.started_at.desc(), Call.id.desc()).limit(_lim)
)
CARD_LEADS = (
    select(Lead.id, Lead.need, Lead.equipment, Lead.demand_level, Lead.state, _finder.name,
           _follower.name, Lead.follow_up_at)
    .outerjoin(_finder, _finder.id == Lead.found_by_id)
    .outerjoin(_follower, _follower.id == Lead.assigned_to_id)
    .where(Lead.customer_id == _cid).order_by(Lead.id.desc()).limit(_lim)
)


# One statement for the whole card: each part above (newest first, `lim` rows) becomes a
# subquery, numbered by a window in the same order, and the parts are stacked with UNION
# ALL. A row is (part index, rank, the columns of every part, NULL outside its own), so
# the column types line up on both engines; `card` splits and orders them again.
CARD_PARTS = (CARD_JOBS, CARD_COMPLAINTS, CARD_SURVEYS, CARD_CONTACTS, CARD_CALLS, CARD_LEADS)
CARD_ORDERS: tuple[Callable[[list[Any]], list[Any]], ...] = (
    lambda c: [c[4].desc().nulls_first(), c[0].desc()],  # jobs: completed_at, id
    lambda c: [c[5].desc(), c[0].desc()],  # complaints: opened_at, id
    lambda c: [c[1].desc(), c[0].desc()],  # surveys: surveyed_at, id
    lambda c: [c[2].desc(), c[0].desc()],  # contacts: at, id
    lambda c: [c[3].desc(), c[0].desc()],  # calls: started_at, id
    lambda c: [c[0].desc()],  # leads: id
)


def _card_statement() -> tuple[CompoundSelect[Any], tuple[tuple[int, int], ...]]:
    parts: tuple[Select[Any], ...] = CARD_PARTS
    subs = [part.subquery(f"card_{i}") for i, part in enumerate(parts)]
    widths = [len(sub.c) for sub in subs]
    slices: list[tuple[int, int]] = []
    start = 2
    for width in widths:
        slices.append((start, start + width))
        start += width
    every = [col for sub in subs for col in sub.c]
    selects = []
    for i, sub in enumerate(subs):
        own = list(sub.c)
        columns: list[Any] = [
            literal_column(str(i)).label("part"),
            func.row_number().over(order_by=CARD_ORDERS[i](own)).label("rank"),
        ]
        for j, col in enumerate(every):
            inside = slices[i][0] - 2 <= j < slices[i][1] - 2
            columns.append((col if inside else cast(null(), col.type)).label(f"c{j}"))
        selects.append(select(*columns).select_from(sub))
    return union_all(*selects), tuple(slices)


CARD, CARD_SLICES = _card_statement()
