"""Validation of imported records (CSV rows) into typed records, before anything is written.

Guarantee: `validate_rows` checks every row and returns either all records
or the complete list of bad rows with their reasons, so an import can refuse
a file as a whole and tell the user every line to fix at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from crm.access import InvalidChoice, normal_text, parse_role, parse_yes_no
from crm.call_windows import is_iana_zone
from crm.customers import FLAGS
from crm.enums import Role, ValueGrade
from crm.errors import InvalidPhoneNumber
from crm.phones import normalize_phone

T = TypeVar("T")
TRUE = {"1", "true", "yes", "y", "是", "x"}
FALSE = {"", "0", "false", "no", "n", "否"}


class RowError(ValueError):
    """One or more problems in one row; `reasons` lists them all."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class BadRow:
    line: int  # 1-based line number in the file, header is line 1
    reasons: list[str]


@dataclass
class Validated(Generic[T]):
    records: list[tuple[int, T]] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)


@dataclass(frozen=True)
class DepartmentRecord:
    code: str
    name: str
    parent_code: str | None
    manager_username: str | None
    #: a supervision department (监察部): no stake in the departments below it
    #: (None: the file does not say; the stored mark is kept)
    supervision: bool | None = None


@dataclass(frozen=True)
class StaffRecord:
    username: str
    name: str
    department_code: str | None
    roles: tuple[Role, ...]
    phone: str | None
    email: str | None
    extension: str | None
    password: str | None
    manages: str | None = None  # code of the department this person manages


@dataclass(frozen=True)
class CustomerRecord:
    reference: str | None
    name: str
    phones: tuple[str, ...]
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
    department_code: str | None = None


@dataclass(frozen=True)
class JobRecord:
    reference: str
    customer_key: str  # customer reference or E.164 phone
    technician_username: str | None
    department_code: str | None
    description: str | None
    completed_at: datetime | None


@dataclass(frozen=True)
class Known:
    """What already exists (in the database or earlier in the same file)."""

    departments: Set[str] = frozenset()
    staff: Set[str] = frozenset()
    customers: Set[str] = frozenset()  # references and E.164 phones


def _text(row: Mapping[str, str | None], key: str) -> str:
    return (row.get(key) or "").strip()


def _opt(row: Mapping[str, str | None], key: str) -> str | None:
    return _text(row, key) or None


def _flag(row: Mapping[str, str | None], key: str, errors: list[str]) -> bool:
    value = _text(row, key).lower()
    if value in TRUE:
        return True
    if value not in FALSE:
        errors.append(f"{key}: expected yes/no, got {value!r}")
    return False


def _zone(value: str, errors: list[str], key: str = "timezone") -> str:
    """An IANA zone name (not a file path, "localtime" or a POSIX rule string)."""
    if not is_iana_zone(value):
        errors.append(f"{key}: unknown IANA time zone {value!r} (e.g. Asia/Shanghai)")
    return value


def _ref(value: str | None, known: Set[str], what: str, errors: list[str]) -> None:
    if value and value not in known:
        errors.append(f"{what}: unknown {value!r}; import it first")


def parse_department(row: Mapping[str, str | None], known: Known) -> DepartmentRecord:
    errors: list[str] = []
    code, name = _text(row, "code"), _text(row, "name")
    if not code:
        errors.append("code: required")
    if not name:
        errors.append("name: required")
    parent = _opt(row, "parent")
    _ref(parent, known.departments, "parent", errors)
    supervision: bool | None = None
    if _opt(row, "supervision"):
        try:
            supervision = parse_yes_no(_opt(row, "supervision"), "supervision")
        except InvalidChoice as exc:
            errors.append(f"supervision: {exc}")
    if errors:
        raise RowError(errors)
    return DepartmentRecord(code, name, parent, _opt(row, "manager"), supervision)


def parse_staff(row: Mapping[str, str | None], known: Known) -> StaffRecord:
    errors: list[str] = []
    username, name = _text(row, "username"), _text(row, "name")
    if not username:
        errors.append("username: required")
    if not name:
        errors.append("name: required")
    roles: list[Role] = []
    for raw in normal_text(_text(row, "roles")).replace(",", ";").replace("；", ";").split(";"):
        raw = raw.strip()
        if not raw:
            continue
        try:  # one spelling: " Supervisor ", "ＡＤＭＩＮ", "callback-staff"; lookalikes refused
            roles.append(parse_role(raw))
        except InvalidChoice:
            errors.append(f"roles: unknown role {raw!r} (one of {', '.join(Role)})")
    if not roles:
        errors.append("roles: at least one role")
    department = _opt(row, "department")
    _ref(department, known.departments, "department", errors)
    phone = _opt(row, "phone")
    if phone:
        try:
            phone = normalize_phone(phone)
        except InvalidPhoneNumber as exc:
            errors.append(f"phone: {exc}")
    manages = _opt(row, "manages")
    _ref(manages, known.departments, "manages", errors)
    password = _opt(row, "password")
    if password is not None and len(password) < 8:
        errors.append("password: at least 8 characters")
    if errors:
        raise RowError(errors)
    return StaffRecord(
        username, name, department, tuple(roles), phone, _opt(row, "email"),
        _opt(row, "extension"), password, manages,
    )


def parse_customer(
    row: Mapping[str, str | None], known: Known, default_region: str = "CN"
) -> CustomerRecord:
    errors: list[str] = []
    name = _text(row, "name")
    if not name:
        errors.append("name: required")
    phones: list[str] = []
    for raw in _text(row, "phones").replace(",", ";").split(";"):
        if raw.strip():
            try:
                phones.append(normalize_phone(raw, default_region))
            except InvalidPhoneNumber as exc:
                errors.append(f"phones: {exc}")
    if not phones and not _text(row, "reference"):
        errors.append("phones: a customer without a reference needs at least one phone")
    grade_raw = _text(row, "value_grade") or "normal"
    grade = ValueGrade.NORMAL
    matches = [g for g in ValueGrade if g.value.lower() == grade_raw.lower()]
    if matches:
        grade = matches[0]
    else:
        errors.append(f"value_grade: {grade_raw!r} is not one of MVC, MGC, BZ, normal")
    language = _text(row, "language") or "zh-CN"
    if language not in ("zh-CN", "en"):
        errors.append(f"language: {language!r} is not zh-CN or en")
    zone = _zone(_text(row, "timezone") or "Asia/Shanghai", errors)
    department = _opt(row, "department")
    _ref(department, known.departments, "department", errors)
    flags = {k: _flag(row, k, errors) for k in FLAGS}
    if errors:
        raise RowError(errors)
    return CustomerRecord(
        reference=_opt(row, "reference"), name=name, phones=tuple(dict.fromkeys(phones)),
        company=_opt(row, "company"), title=_opt(row, "title"), address=_opt(row, "address"),
        language=language, timezone=zone, value_grade=grade, preferences=_opt(row, "preferences"),
        department_code=department, **flags,
    )


def parse_job(
    row: Mapping[str, str | None], known: Known, centre_zone: str = "Asia/Shanghai",
    default_region: str = "CN",
) -> JobRecord:
    errors: list[str] = []
    reference = _text(row, "reference")
    if not reference:
        errors.append("reference: required")
    customer = _text(row, "customer")
    if not customer:
        errors.append("customer: required (customer reference or phone)")
    elif customer not in known.customers:
        try:
            customer_phone = normalize_phone(customer, default_region)
        except InvalidPhoneNumber:
            customer_phone = None
        if customer_phone is None or customer_phone not in known.customers:
            errors.append(f"customer: unknown {customer!r}; import the customer first")
        else:
            customer = customer_phone
    technician = _opt(row, "technician")
    _ref(technician, known.staff, "technician", errors)
    department = _opt(row, "department")
    _ref(department, known.departments, "department", errors)
    completed: datetime | None = None
    raw = _text(row, "completed_at")
    if raw:
        try:
            completed = datetime.fromisoformat(raw)
            if completed.tzinfo is None:  # a local time of the centre
                completed = completed.replace(tzinfo=ZoneInfo(centre_zone))
        except ValueError:
            errors.append(f"completed_at: {raw!r} is not a date-time like 2026-05-18 14:30")
    if errors:
        raise RowError(errors)
    return JobRecord(reference, customer, technician, department, _opt(row, "description"), completed)


def validate_rows(
    rows: Iterable[Mapping[str, str | None]],
    parse: Callable[[Mapping[str, str | None]], T],
    required_columns: Iterable[str] = (),
    columns: Iterable[str] | None = None,
) -> Validated[T]:
    """Parse every row; collect every bad row with all its reasons (line numbers 1-based)."""
    out: Validated[T] = Validated()
    if columns is not None:
        missing = [c for c in required_columns if c not in set(columns)]
        if missing:
            out.bad.append(BadRow(1, [f"missing column(s): {', '.join(missing)}"]))
            return out
    for index, row in enumerate(rows, start=2):
        if None in row:  # csv.DictReader puts extra fields under the None key
            out.bad.append(BadRow(index, ["more fields than the header has columns"]))
            continue
        try:
            out.records.append((index, parse(row)))
        except RowError as exc:
            out.bad.append(BadRow(index, exc.reasons))
    return out
