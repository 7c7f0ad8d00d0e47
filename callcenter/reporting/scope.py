"""What a report request names, checked in the serving process without pandas.

The report periods a request may ask for (1970..2100) and the departments an
identity reads. `callcenter.reporting.builders` (pandas) re-exports these; the
web handlers import them from here so the serving process never loads pandas
(building runs in the CPU pool's worker processes, `callcenter.offload`).
"""

from __future__ import annotations

import re
from datetime import date

from callcenter.storage.engine import Database
from crm.identity import Identity
from reports.periods import Month

__all__ = ["EARLIEST", "LATEST", "Departments", "parse_day", "parse_month", "parse_week",
           "readable_departments", "sane"]

EARLIEST, LATEST = date(1970, 1, 1), date(2100, 12, 31)
Departments = frozenset[int] | None  # None: every department


def sane(day: date) -> date:
    """A report period lies in 1970..2100: conversions to UTC and "the next period" never overflow."""
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"report periods lie between {EARLIEST} and {LATEST}, not {day}")
    return day


def parse_month(text: str) -> Month:
    """``"YYYY-MM"`` in 1970..2100."""
    month = Month.parse(text)
    if not EARLIEST.year <= month.year <= LATEST.year:
        raise ValueError(f"report periods lie between {EARLIEST} and {LATEST}, not {month}")
    return month


def parse_day(text: str) -> date:
    try:
        return sane(date.fromisoformat(text.strip()))
    except ValueError as exc:
        raise ValueError(f"date must look like 2026-05-18 (1970..2100), got {text!r}") from exc


def parse_week(text: str) -> date:
    """``"2026-W21"`` -> that ISO week's Monday."""
    match = re.fullmatch(r"(\d{4})-W(\d{2})", text.strip())
    if not match:
        raise ValueError(f"week must look like 2026-W21, got {text!r}")
    try:
        return sane(date.fromisocalendar(int(match[1]), int(match[2]), 1))
    except ValueError as exc:
        raise ValueError(f"no ISO week {text!r}") from exc


async def readable_departments(db: Database, identity: Identity | None) -> Departments:
    """The departments whose rows `identity` reads in an operational report: every one for
    supervisors, callback staff and admins (and the system), else their own and those below
    it (a manager's), the same rule as reading a complaint one by one."""
    if identity is None or identity.sees_all_departments:
        return None
    if identity.department_id is None:
        return frozenset()
    from callcenter.storage.uow import SqlUnitOfWork

    async with SqlUnitOfWork(db) as uow:
        return frozenset(await uow.complaints.department_subtree(identity.department_id))
