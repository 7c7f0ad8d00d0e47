"""Demo step: this month's supervision report, written to ``REPORTS_DIR`` and summed up.

Adds a handful of example repair visits for the sample jobs' customers (last
month and this month; a survey counts in the month of its job's service) and
their surveys (first-hand IVR ones from the customer's own number, and paper
ones the sample supervisor ``inspector`` verifies through the use case)
unless they are already there,
then writes the month's supervision report as JSON, XLSX and HTML and prints
the headline figures per department.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from callcenter.clock import system_clock
from callcenter.reporting import runs
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import CustomerPhone, ServiceJob, Staff, Survey
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import Grade, Role, SurveySource
from crm.identity import Identity
from crm.services.surveys import SaveSurvey, save_survey, verify_survey
from crm.surveys import ITEMS
from reports.periods import Month

__all__ = ["supervision_step"]

DEMO_NOTE = "demo survey"
# (job reference, days before the 1st of this month (negative: into this month), grades, source)
_EXAMPLES = [
    ("J-20261101", 20, "BBC", SurveySource.IVR), ("J-20261104", 12, "ABC", SurveySource.IVR),
    ("J-20261102", 18, "ACC", SurveySource.IVR), ("J-20261103", 9, "BBB", SurveySource.PAPER),
    ("J-20261101", -1, "AAB", SurveySource.IVR), ("J-20261104", -2, "AAA", SurveySource.PAPER),
    ("J-20261102", -1, "BCC", SurveySource.IVR), ("J-20261103", -2, "CDC", SurveySource.PAPER),
]


def _grades(letters: str) -> dict[str, Grade | None]:
    return dict(zip(ITEMS, (Grade(c) for c in letters), strict=True))


async def _example_surveys(db: Database, settings: Settings, now: datetime) -> int:
    async with db.sessions() as session:
        if await session.scalar(select(func.count()).select_from(Survey).where(Survey.note == DEMO_NOTE)):
            return 0
        jobs = {r.reference: r for r in (await session.scalars(select(ServiceJob))).all()}
        phones = {r.customer_id: r.e164 for r in (await session.scalars(
            select(CustomerPhone).order_by(CustomerPhone.is_primary, CustomerPhone.id))).all()}
        inspector = await session.scalar(select(Staff).where(Staff.username == "inspector"))
    first = Month.of(now.astimezone(settings.zone).date()).first_day
    supervisor = None if inspector is None else Identity(
        inspector.id, inspector.username, inspector.name, frozenset({Role.SUPERVISOR}))
    added = 0
    for index, (reference, days_before, letters, source) in enumerate(_EXAMPLES):
        if reference not in jobs:
            continue
        day = first - timedelta(days=days_before) if days_before > 0 else \
            first + timedelta(days=min(-days_before - 1, max(now.astimezone(settings.zone).day - 1, 0)))
        at = datetime.combine(day, time(10), settings.zone).astimezone(UTC)
        sample = jobs[reference]
        visit = ServiceJob(  # a repair visit of its own, serviced the morning it is rated
            reference=f"{reference}-D{index + 1}", customer_id=sample.customer_id,
            technician_id=sample.technician_id, department_id=sample.department_id,
            description=f"demo visit ({reference})", completed_at=at - timedelta(hours=2))
        async with db.sessions() as session:
            session.add(visit)
            await session.commit()
        saved = await save_survey(SaveSurvey(
            visit.id, source, _grades(letters), at, note=DEMO_NOTE,
            number=phones.get(sample.customer_id) if source is SurveySource.IVR else None,
        ), SqlUnitOfWork(db))
        if source is not SurveySource.IVR and supervisor is not None:
            await verify_survey(saved.id, True, supervisor, at, SqlUnitOfWork(db))
        added += 1
    return added


async def supervision_step(settings: Settings, db: Database, console: Console) -> None:
    now = system_clock()
    added = await _example_surveys(db, settings, now)
    if added:
        console.print(f"[green]✓[/] {added} example surveys stored (last month and this month)")
    month = Month.of(now.astimezone(settings.zone).date())
    run = await runs.run_report(db, settings, "supervision", str(month), now=now,
                                generated_by="demo", formats=("json", "xlsx", "html"))
    assert run is not None
    table = Table(title=f"Supervision score {month}")
    for column in ("department", "surveys", "average", "previous", "delta", "outcome",
                   "complaints", "band", "total (yuan)"):
        table.add_column(column, justify="left" if column in ("department", "outcome", "band") else "right")
    names = run.payload["names"]["departments"]
    for d in run.payload["supervision"]["departments"]:
        s, c = d["satisfaction"], d["complaints"]
        table.add_row(names.get(str(d["department_id"]), {}).get("code", str(d["department_id"])),
                      str(s["surveys"]["counted"]), s["average"] or "no data",
                      s["previous_average"] or "-", s["delta"] or "-", f"{s['outcome']} {s['amount']}",
                      str(c["complaints"]), f"{c['band']} ({c['amount']})", d["total_amount"])
    console.print(table)
    for name in run.files:
        console.print(f"written: {settings.reports_dir / name}")
