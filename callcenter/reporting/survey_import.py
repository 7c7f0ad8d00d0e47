"""`callcenter import surveys FILE.csv`: historical satisfaction surveys, through the use cases.

Columns: ``job`` (service job reference, required), ``timeliness``,
``quality``, ``attitude`` (A..E or keypad 1..5; blank = not answered, the
survey is then kept as incomplete), ``surveyed_at`` (required: ``2026-05-03``,
``2026-05-03 14:20`` in the centre's time zone, or ISO 8601 with an offset),
``source`` (ivr / agent / paper / callback; default paper), ``verified``
(yes/no, default no), ``verified_by`` (username of the supervisor who
verified the form; required when ``verified`` is yes), ``note``. An imported
IVR or callback survey is not first-hand: the file cannot show the number it
came from, so it waits for verification like a paper form.

Guarantees:
- Every row is validated before anything is written; with a bad row nothing
  is imported unless ``skip_bad``; each bad row is reported with its line
  number and every reason.
- Each survey is stored by `crm.services.surveys.save_survey` (department
  and technician come from the job; the audit row is written), and a
  verified one is then confirmed by `verify_survey` *as the named
  supervisor*, whose role and department the use case checks and whose name
  the audit keeps. The same rule (`crm.access.survey_supervisor_refusal`:
  a supervisor from outside the department the job scores) is checked per
  row before anything is written: a row naming anyone else is bad, and the
  refusal is stored in `access_refusals`. Usernames, yes/no and the source
  are compared in one spelling (`crm.access.normal_text`). The command
  itself acts as the system: whoever runs it vouches for the file, as with
  any database import.
- A row is bad, with its reason, when its job is unknown, when the job was not
  serviced yet when the survey was taken (not completed, or completed later)
  or the survey is dated in the future, or when it is a duplicate: a survey of
  the same job at the same time from the same source is already stored, or an
  earlier line of the file is the same survey. So re-running a file adds
  nothing: every row is reported as already imported.
- The good rows are written in one transaction (each through the use cases, a
  savepoint each): the file lands entirely or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from callcenter.identities import identity_of
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.imports import ImportFileError, read_csv
from callcenter.storage.joined_uow import JoinedUnitOfWork
from callcenter.storage.tables import Department, ServiceJob, Staff, Survey
from callcenter.storage.uow import SqlUnitOfWork
from crm.access import (
    InvalidChoice,
    ScoredScope,
    SurveyFacts,
    normal_text,
    parse_choice,
    parse_yes_no,
    scored_scope,
    survey_supervisor_refusal,
)
from crm.enums import Grade, SurveySource
from crm.identity import Identity
from crm.services.refusals import Refusal
from crm.services.surveys import SaveSurvey, save_survey, verify_survey
from crm.surveys import ITEMS, InvalidGrade, parse_grade

__all__ = ["import_surveys", "REQUIRED_COLUMNS"]

REQUIRED_COLUMNS = ("job", *ITEMS, "surveyed_at")


@dataclass
class _Row:
    line: int
    job_id: int
    grades: dict[str, Grade | None]
    at: datetime
    source: SurveySource
    verifier: Identity | None
    note: str | None


@dataclass
class _Known:
    jobs: dict[str, int]
    completed: dict[int, datetime | None]
    supervisors: dict[str, Identity]  # every active staff member, by normalised username
    staff: set[str] = field(default_factory=set)  # every username, normalised
    scored: dict[int, tuple[int | None, int | None]] = field(default_factory=dict)  # job: dept, tech
    below: dict[int, ScoredScope] = field(default_factory=dict)  # department: who has a stake in it
    refused: list[Refusal] = field(default_factory=list)


def parse_when(text: str, zone: ZoneInfo) -> datetime:
    value = text.strip()
    try:
        if len(value) == 10:  # a date: noon local, safely inside that day
            return datetime.combine(datetime.fromisoformat(value).date(), time(12), zone)
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"surveyed_at {text!r} is not 2026-05-03 or 2026-05-03 14:20") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _parse(line: int, raw: dict[str, str | None], known: _Known, zone: ZoneInfo,
           now: datetime) -> tuple[_Row | None, list[str]]:
    reasons: list[str] = []

    def get(name: str) -> str:
        return (raw.get(name) or "").strip()

    job_id = known.jobs.get(get("job"))
    if not get("job"):
        reasons.append("job: the service job reference is required")
    elif job_id is None:
        reasons.append(f"job: no service job with reference {get('job')!r}; import jobs first")
    grades: dict[str, Grade | None] = {}
    for item in ITEMS:
        try:
            grades[item] = parse_grade(get(item) or None)
        except InvalidGrade as exc:
            reasons.append(f"{item}: {exc}")
    at: datetime | None = None
    if not get("surveyed_at"):
        reasons.append("surveyed_at: required (the month the survey counts in)")
    else:
        try:
            at = parse_when(get("surveyed_at"), zone)
        except ValueError as exc:
            reasons.append(str(exc))
    if at is not None:
        local = f"{at.astimezone(zone):%Y-%m-%d %H:%M}"
        if at > now and not (len(get("surveyed_at")) == 10
                             and at.astimezone(zone).date() <= now.astimezone(zone).date()):
            reasons.append(f"surveyed_at: {local} is in the future")
        elif job_id is not None:
            done = known.completed.get(job_id)
            if done is None:
                reasons.append(f"job: {get('job')!r} is not completed yet: a survey rates a "
                               "finished repair")
            elif (done.astimezone(zone).date() > at.astimezone(zone).date()
                  if len(get("surveyed_at")) == 10 else done > at):  # a date: that day will do
                reasons.append(f"surveyed_at: {local} is before job {get('job')!r} was "
                               f"completed ({done.astimezone(zone):%Y-%m-%d %H:%M})")
    source = SurveySource.PAPER
    if get("source"):
        try:
            source = parse_choice(get("source"), SurveySource, "source")
        except InvalidChoice:
            reasons.append(f"source: {get('source')!r} is not one of ivr, agent, paper, callback")
    verifier = None
    try:
        verified = parse_yes_no(get("verified") or "no", "verified")
    except InvalidChoice:
        reasons.append(f"verified: {get('verified')!r} is not yes or no")
        verified = False
    if verified:
        name = get("verified_by")
        verifier = known.supervisors.get(normal_text(name))
        if not name:
            reasons.append("verified_by: name the supervisor who verified this survey")
        elif verifier is None:
            reasons.append(f"verified_by: {name!r} is not an active staff member"
                           if normal_text(name) in known.staff
                           else f"verified_by: no staff member {name!r}")
        elif job_id is not None:  # supervision apart from execution, checked before any write
            department, technician = known.scored.get(job_id, (None, None))
            refusal = survey_supervisor_refusal(
                verifier, SurveyFacts(0, department, technician, None),
                known.below.get(department, ScoredScope()) if department is not None else ScoredScope())
            if refusal is not None:
                reasons.append(f"verified_by: {refusal.replace('survey 0', 'this survey')}")
                known.refused.append(Refusal(
                    now, verifier.staff_id, f"import:{verifier.label}", "survey.verify",
                    f"job:{get('job')}"[:80], refusal.replace("survey 0", "this survey")))
    if reasons or job_id is None or at is None:
        return None, reasons
    return _Row(line, job_id, grades, at, source, verifier, get("note") or None), []


async def _known(db: Database) -> _Known:
    async with db.sessions() as session:
        job_rows = (await session.execute(
            select(ServiceJob.reference, ServiceJob.id, ServiceJob.completed_at,
                   ServiceJob.department_id, ServiceJob.technician_id))).all()
        jobs = {r.reference: r.id for r in job_rows}
        completed = {r.id: r.completed_at for r in job_rows}
        people = (await session.scalars(select(Staff))).all()
        parents = dict((await session.execute(select(Department.id, Department.parent_id))).all())
        supervision = set((await session.scalars(
            select(Department.id).where(Department.supervision.is_(True)))).all())
    supervisors = {}
    for person in people:
        identity = identity_of(person)
        if person.active:
            supervisors[normal_text(person.username)] = identity
    below = {d: scored_scope([d], parents, supervision)
             for d in {r.department_id for r in job_rows if r.department_id is not None}}
    return _Known(jobs, completed, supervisors, {normal_text(p.username) for p in people},
                  {r.id: (r.department_id, r.technician_id) for r in job_rows}, below)


async def _already(db: Database, row: _Row) -> int | None:
    async with db.sessions() as session:
        return await session.scalar(select(Survey.id).where(
            Survey.job_id == row.job_id, Survey.surveyed_at == row.at,
            Survey.source == row.source.value).limit(1))


async def import_surveys(db: Database, path: Path, *, skip_bad: bool = False,
                         settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """Validate then import; returns the import report (`callcenter import --json` shape)."""
    columns, raw_rows = read_csv(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ImportFileError(f"{path.name} lacks the column(s) {missing}; "
                              f"expected {list(REQUIRED_COLUMNS)} (+ source, verified, verified_by, note)")
    known = await _known(db)
    zone = settings.zone
    now = now or datetime.now(UTC)
    good: list[_Row] = []
    bad: list[dict[str, Any]] = []
    seen: dict[tuple[int, datetime, SurveySource], int] = {}
    duplicates = 0
    for index, raw in enumerate(raw_rows):
        row, reasons = _parse(index + 2, raw, known, zone, now)
        if row is not None:
            key = (row.job_id, row.at, row.source)
            stored = await _already(db, row)
            if stored is not None:
                reasons = [f"already imported: survey {stored} rates this job at this time "
                           "from this source"]
            elif key in seen:
                reasons = [f"duplicate of line {seen[key]}: the same job, time and source"]
            else:
                seen[key] = row.line
        if reasons:
            duplicates += int(row is not None)
            bad.append({"line": index + 2, "reasons": reasons})
        else:
            assert row is not None
            good.append(row)
    if known.refused:  # a refused verification is audited, even though nothing is imported
        async with SqlUnitOfWork(db) as uow:
            for refusal in known.refused:
                await uow.refusals.add(refusal)
            await uow.commit()
    report: dict[str, Any] = {"kind": "surveys", "rows": len(raw_rows), "created": 0,
                              "updated": 0, "verified": 0, "already_imported": duplicates,
                              "skipped": len(bad), "written": False, "bad": bad}
    if bad and not skip_bad:
        report["skipped"] = 0
        return report
    async with SqlUnitOfWork(db) as outer:  # one transaction: the file lands whole or not at all
        for row in good:
            saved = await save_survey(SaveSurvey(row.job_id, row.source, row.grades, row.at,
                                                 note=row.note), JoinedUnitOfWork(outer))
            report["created"] += 1
            if row.verifier is not None:
                await verify_survey(saved.id, True, row.verifier, row.at, JoinedUnitOfWork(outer),
                                    note=f"imported from {path.name} line {row.line}")
                report["verified"] += 1
        await outer.commit()
    report["written"] = True
    return report
