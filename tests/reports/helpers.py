"""Stored rows for the report tests: a service department, its people, jobs, surveys, complaints."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from callcenter.storage.engine import Database
from callcenter.storage.tables import ApiToken, Complaint, Staff, Survey
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.web.auth import sha256
from crm.enums import Grade, Role, SurveySource
from crm.identity import Identity
from crm.services import surveys as survey_service
from tests import factories

SHANGHAI = "Asia/Shanghai"
_numbers = itertools.count(1)


def local(text: str) -> datetime:
    """A Shanghai wall-clock time as an aware UTC instant."""
    return pd.Timestamp(text, tz=SHANGHAI).tz_convert(UTC).to_pydatetime()


@dataclass
class Shop:
    department_id: int
    technician: Staff
    supervisor: Staff
    customer_id: int
    customer_phone: str = ""

    @property
    def supervisor_identity(self) -> Identity:
        return Identity(self.supervisor.id, self.supervisor.username, self.supervisor.name,
                        frozenset({Role.SUPERVISOR}))


async def shop(db: Database, code: str = "SVC-N", name: str | None = None,
               tech_name: str | None = None) -> Shop:
    dep = await factories.department(db, code, name=name or code)
    tech = await factories.staff(db, f"tech-{code.lower()}", ["technician"], dep.id,
                                 name=tech_name or f"tech-{code.lower()}")
    sup = await factories.staff(db, f"sup-{code.lower()}", ["supervisor"], None)
    phone = f"+86138{next(_numbers):08d}"
    cust = await factories.customer(db, phones=(phone,))
    return Shop(dep.id, tech, sup, cust.id, phone)


def grades(letters: str) -> dict[str, Grade | None]:
    items = [None if ch == "-" else Grade(ch) for ch in letters]
    return dict(zip(("timeliness", "quality", "attitude"), items, strict=True))


async def verified_survey(db: Database, s: Shop, letters: str, at: datetime,
                          source: SurveySource = SurveySource.PAPER) -> int:
    """A survey stored and verified through the use cases, on a job of its own."""
    job = await factories.job(db, s.customer_id, f"J-{next(_numbers)}",
                              technician_id=s.technician.id, department_id=s.department_id,
                              completed_at=at - timedelta(hours=2))
    saved = await survey_service.save_survey(
        survey_service.SaveSurvey(job.id, source, grades(letters), at, number=s.customer_phone),
        SqlUnitOfWork(db))
    if source is not SurveySource.IVR:
        await survey_service.verify_survey(saved.id, True, s.supervisor_identity, at,
                                           SqlUnitOfWork(db))
    return saved.id


async def raw_surveys(db: Database, s: Shop, letters: str, at: datetime, n: int,
                      verification: str = "first_hand", source: str = "ivr",
                      complete: bool = True) -> None:
    """``n`` identical survey rows written straight to the table (fast)."""
    items = grades(letters)
    rows = [Survey(department_id=s.department_id, staff_id=s.technician.id, surveyed_at=at,
                   source=source, verification=verification, complete=complete,
                   **{k: (v.value if v else None) for k, v in items.items()}) for _ in range(n)]
    await factories.add(db, *rows)


async def complaints(db: Database, s: Shop, n: int, at: datetime, **kw: object) -> None:
    rows = [Complaint(ticket=f"T-{next(_numbers)}", customer_id=s.customer_id, channel="agent",
                      category=kw.get("category", "repair_quality"), department_id=s.department_id,
                      opened_at=at, state=kw.get("state", "new"),
                      resolve_due_at=kw.get("resolve_due_at"), resolved_at=kw.get("resolved_at"),
                      resolution=kw.get("resolution"), major=bool(kw.get("major", False)),
                      major_reasons=list(kw.get("major_reasons", [])))  # type: ignore[call-overload]
            for _ in range(n)]
    if rows:
        await factories.add(db, *rows)


async def bearer(db: Database, person: Staff) -> dict[str, str]:
    token = "cc_" + secrets.token_urlsafe(16)
    await factories.add(db, ApiToken(staff_id=person.id, name="test", token_hash=sha256(token)))
    return {"Authorization": f"Bearer {token}"}
