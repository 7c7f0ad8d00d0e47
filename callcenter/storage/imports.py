"""CSV import of departments, staff, customers and service jobs.

Guarantees:
- Every row is validated (phones, zones, grades, unknown references) before
  anything is written; with any bad row nothing is imported unless
  `skip_bad=True`, and the report lists each bad row's line and reasons.
- Re-running the same file changes nothing: rows are upserted by their key
  (department code, username, customer reference or phone, job reference).
- The whole import is one transaction: it lands entirely or not at all.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.passwords import hash_password
from callcenter.storage.engine import Database
from callcenter.storage.tables import Customer, CustomerPhone, Department, ServiceJob, Staff
from crm.customers import FLAGS
from crm.records import (
    BadRow,
    CustomerRecord,
    DepartmentRecord,
    JobRecord,
    Known,
    StaffRecord,
    Validated,
    parse_customer,
    parse_department,
    parse_job,
    parse_staff,
    validate_rows,
)

Kind = Literal["departments", "staff", "customers", "jobs"]
REQUIRED: dict[str, tuple[str, ...]] = {
    "departments": ("code", "name"),
    "staff": ("username", "name", "roles"),
    "customers": ("name", "phones"),
    "jobs": ("reference", "customer"),
}


class ImportFileError(ValueError):
    """The file itself cannot be read as CSV (encoding, empty)."""


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    bad: list[BadRow] = field(default_factory=list)
    written: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "rows": self.rows, "created": self.created, "updated": self.updated,
            "skipped": self.skipped, "written": self.written,
            "bad": [{"line": b.line, "reasons": b.reasons} for b in self.bad],
        }


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str | None]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{path.name} is not UTF-8 (byte {exc.start}); save it as CSV UTF-8"
        ) from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise ImportFileError(f"{path.name} is empty: the first line must name the columns")
    columns = [c.strip() for c in reader.fieldnames]
    reader.fieldnames = columns
    return columns, list(reader)


async def _known(session: AsyncSession) -> Known:
    departments = set((await session.scalars(select(Department.code))).all())
    staff = set((await session.scalars(select(Staff.username))).all())
    customers = {r for r in (await session.scalars(select(Customer.reference))).all() if r}
    customers |= set((await session.scalars(select(CustomerPhone.e164))).all())
    return Known(departments, staff, customers)


def _parser(kind: Kind, known: Known, zone: str, region: str) -> Callable[[Mapping[str, str | None]], Any]:
    if kind == "departments":
        def parse_dep(row: Mapping[str, str | None]) -> DepartmentRecord:
            record = parse_department(row, known)
            known.departments.add(record.code)  # type: ignore[attr-defined]  # later rows may name it
            return record
        return parse_dep
    if kind == "staff":
        return lambda row: parse_staff(row, known)
    if kind == "customers":
        return lambda row: parse_customer(row, known, region)
    return lambda row: parse_job(row, known, zone, region)


async def import_csv(
    db: Database,
    kind: Kind,
    path: Path,
    *,
    skip_bad: bool = False,
    centre_zone: str = "Asia/Shanghai",
    default_region: str = "CN",
    show_progress: bool = False,
) -> ImportReport:
    if kind not in REQUIRED:
        raise ValueError(f"unknown import kind {kind!r}; one of {', '.join(REQUIRED)}")
    columns, rows = read_csv(path)
    report = ImportReport(kind, rows=len(rows))
    async with db.sessions() as session:
        known = await _known(session)
        known = Known(set(known.departments), set(known.staff), set(known.customers))
        checked: Validated[Any] = validate_rows(
            rows, _parser(kind, known, centre_zone, default_region), REQUIRED[kind], columns
        )
        report.bad = checked.bad
        if checked.bad and not skip_bad:
            return report
        report.skipped = len(checked.bad)
        writer = _WRITERS[kind]
        from rich.progress import Progress  # loaded with the first import, not the service

        with Progress(disable=not show_progress, transient=True) as progress:
            task = progress.add_task(f"importing {kind}", total=len(checked.records))
            for _line, record in checked.records:
                created = await writer(session, record)
                report.created += int(created)
                report.updated += int(not created)
                progress.advance(task)
        await session.commit()
        report.written = True
    return report


async def _department_id(session: AsyncSession, code: str | None) -> int | None:
    if code is None:
        return None
    return await session.scalar(select(Department.id).where(Department.code == code))


async def _staff_id(session: AsyncSession, username: str | None) -> int | None:
    if username is None:
        return None
    return await session.scalar(select(Staff.id).where(Staff.username == username))


async def _write_department(session: AsyncSession, r: DepartmentRecord) -> bool:
    row = await session.scalar(select(Department).where(Department.code == r.code))
    created = row is None
    if row is None:
        row = Department(code=r.code)
        session.add(row)
    row.name = r.name
    if r.supervision is not None:
        row.supervision = r.supervision
    row.parent_id = await _department_id(session, r.parent_code)
    await session.flush()
    if r.manager_username:
        manager = await _staff_id(session, r.manager_username)
        if manager is not None:
            row.manager_id = manager
    return created


async def _write_staff(session: AsyncSession, r: StaffRecord) -> bool:
    row = await session.scalar(select(Staff).where(Staff.username == r.username))
    created = row is None
    if row is None:
        row = Staff(username=r.username)
        session.add(row)
    row.name, row.roles = r.name, [role.value for role in r.roles]
    row.department_id = await _department_id(session, r.department_code)
    row.phone, row.email, row.extension = r.phone, r.email, r.extension
    if r.password and created:
        row.password_hash = hash_password(r.password)
    await session.flush()
    if r.manages:
        department = await session.scalar(select(Department).where(Department.code == r.manages))
        if department is not None:
            department.manager_id = row.id
    return created


async def _write_customer(session: AsyncSession, r: CustomerRecord) -> bool:
    row: Customer | None = None
    if r.reference:
        row = await session.scalar(select(Customer).where(Customer.reference == r.reference))
    if row is None and r.phones:
        row = await session.scalar(
            select(Customer).join(CustomerPhone).where(CustomerPhone.e164.in_(r.phones))
        )
    created = row is None
    if row is None:
        row = Customer()
        session.add(row)
    for name in ("reference", "name", "company", "title", "address", "language", "timezone",
                 *FLAGS, "preferences"):
        value = getattr(r, name)
        if name == "reference" and value is None:
            continue
        setattr(row, name, value)
    row.value_grade = r.value_grade.value
    row.verified = True
    row.department_id = await _department_id(session, r.department_code)
    await session.flush()
    existing = {
        p.e164: p for p in (await session.scalars(
            select(CustomerPhone).where(CustomerPhone.e164.in_(r.phones)))).all()
    }
    for index, e164 in enumerate(r.phones):
        phone = existing.get(e164)
        if phone is None:
            session.add(CustomerPhone(customer_id=row.id, e164=e164, is_primary=index == 0))
        elif phone.customer_id != row.id:
            phone.customer_id = row.id  # the file is the newer truth: move the number
    await session.flush()
    return created


async def _write_job(session: AsyncSession, r: JobRecord) -> bool:
    customer_id = await session.scalar(select(Customer.id).where(Customer.reference == r.customer_key))
    if customer_id is None:
        customer_id = await session.scalar(
            select(CustomerPhone.customer_id).where(CustomerPhone.e164 == r.customer_key)
        )
    if customer_id is None:  # validated before; a concurrent delete is the only way here
        raise ValueError(f"customer {r.customer_key!r} vanished during the import")
    row = await session.scalar(select(ServiceJob).where(ServiceJob.reference == r.reference))
    created = row is None
    if row is None:
        row = ServiceJob(reference=r.reference, customer_id=customer_id)
        session.add(row)
    row.customer_id = customer_id
    row.technician_id = await _staff_id(session, r.technician_username)
    row.department_id = await _department_id(session, r.department_code)
    row.description = r.description
    row.completed_at = r.completed_at
    await session.flush()
    return created


_WRITERS: dict[str, Callable[[AsyncSession, Any], Any]] = {
    "departments": _write_department,
    "staff": _write_staff,
    "customers": _write_customer,
    "jobs": _write_job,
}
