"""Generate a report, keep its files under ``settings.reports_dir`` and its row in ``report_runs``.

Guarantees:
- One ``report_runs`` row per (kind, period, scope), holding the payload
  (``result``), the rules used (``settings``), the files written (relative to
  ``reports_dir``), who made it and when.
- A scheduled run *claims* its row first (insert with status ``running``);
  the unique key lets exactly one process win, so a scheduled report is made
  once per period however many processes run the job loop. A failed claim
  (status ``failed``) may be retried; a ``running`` row older than
  ``STALE_AFTER`` (its process died) may be taken over.
- A manual run (CLI, API) re-runs any period and replaces the row and files;
  a supervision rerun also stores the month's figures as a new version (a
  draft, with its diff) when they changed: the published version stays as it
  was (`publication`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from callcenter.reporting import exports

if TYPE_CHECKING:
    from callcenter.reporting import builders
from callcenter.settings import Settings
from callcenter.storage.claims import claim
from callcenter.storage.engine import Database
from callcenter.storage.tables import ReportRun
from reports.periods import Month

__all__ = ["StoredRun", "run_report", "latest_run", "file_stem", "STALE_AFTER"]

log = logging.getLogger(__name__)
STALE_AFTER = timedelta(minutes=30)


@dataclass(frozen=True)
class StoredRun:
    id: int
    kind: str
    period: str
    scope: str
    status: str
    generated_at: datetime
    generated_by: str
    files: list[str]
    payload: dict[str, Any]


def file_stem(kind: str, period: str, scope: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{kind}-{period}-{scope}").strip("-")
    return slug.replace("..", "_to_")


def _scope_for(department: str | None) -> str:
    return "all" if department is None else f"department:{department}"


async def _claim(db: Database, kind: str, period: str, scope: str, now: datetime,
                 by: str) -> bool:
    """Take the (kind, period, scope) row for a scheduled run; False when someone has it."""
    return await claim(
        db, ReportRun(kind=kind, period=period, scope=scope, generated_at=now, generated_by=by,
                      status="running"),
        update(ReportRun)
        .where(ReportRun.kind == kind, ReportRun.period == period, ReportRun.scope == scope,
               or_(ReportRun.status == "failed",
                   (ReportRun.status == "running") & (ReportRun.generated_at < now - STALE_AFTER)))
        .values(status="running", generated_at=now, generated_by=by, error=None))


async def _store(db: Database, kind: str, period: str, scope: str, values: dict[str, Any]) -> int:
    async with db.sessions() as session:
        row = await session.scalar(select(ReportRun).where(
            ReportRun.kind == kind, ReportRun.period == period, ReportRun.scope == scope))
        if row is None:
            row = ReportRun(kind=kind, period=period, scope=scope, **values)
            session.add(row)
        else:
            for key, value in values.items():
                setattr(row, key, value)
        try:
            await session.commit()
        except IntegrityError:  # a concurrent manual run inserted first: update theirs
            await session.rollback()
            return await _store(db, kind, period, scope, values)
        return row.id


def write_files(settings: Settings, payload: dict[str, Any], formats: tuple[str, ...],
                now: datetime) -> list[str]:
    folder = Path(settings.reports_dir) / payload["kind"]
    folder.mkdir(parents=True, exist_ok=True)
    stem = file_stem(payload["kind"], payload["period"], payload["scope"])
    written = []
    for fmt in formats:
        data = exports.to_pdf(payload, now) if fmt == "pdf" else exports.render(payload, fmt)
        target = folder / f"{stem}.{fmt}"
        temporary = target.with_suffix(f".{fmt}.part")
        temporary.write_bytes(data)
        temporary.replace(target)  # readers never see half a file
        written.append(str(target.relative_to(settings.reports_dir)))
    return written


async def run_report(
    db: Database, settings: Settings, kind: str, period: str, *, now: datetime,
    generated_by: str, department: str | None = None, formats: tuple[str, ...] = ("json",),
    scheduled: bool = False, progress: builders.Progress | None = None,
) -> StoredRun | None:
    """Build, write and record one report. Scheduled runs return ``None`` when another
    process already made (or is making) this period's report."""
    scope = _scope_for(department)
    if scheduled and not await _claim(db, kind, period, scope, now, generated_by):
        return None
    try:
        from callcenter.reporting import builders  # pandas: loaded by the first run

        payload = await builders.build(db, settings, kind, period, now, department,
                                       progress or (lambda _: None))
        payload["generated_at"] = now.isoformat()
        payload["generated_by"] = generated_by
        if not scheduled:  # the builder's canonical names (department code, compact KPI range)
            scope, period = payload["scope"], payload["period"]
        files = write_files(settings, payload, formats, now)
    except Exception as exc:
        if scheduled:
            await _store(db, kind, period, scope, {"status": "failed", "error": repr(exc)[:2000],
                                                   "generated_at": now})
            log.exception("scheduled %s report for %s failed; it will be retried", kind, period)
        raise
    run_id = await _store(db, kind, period, scope, {
        "status": "done", "error": None, "generated_at": now, "generated_by": generated_by,
        "settings": payload["settings"], "result": payload, "files": files})
    if kind == "supervision" and scope == "all" and not scheduled:
        # a rerun never touches published figures: it becomes a version with its diff
        from callcenter.reporting import publication

        await publication.make_version(db, settings, Month.parse(period), now, generated_by,
                                       payload=payload)
    return StoredRun(run_id, kind, period, scope, "done", now, generated_by, files, payload)


async def run_report_for(db: Database, settings: Settings, kind: str, period: str, now: datetime,
                         generated_by: str, department: str | None,
                         formats: tuple[str, ...]) -> StoredRun | None:
    """`run_report` with positional arguments, for a worker process (`callcenter.offload`)."""
    return await run_report(db, settings, kind, period, now=now, generated_by=generated_by,
                            department=department, formats=formats)


async def latest_run(db: Database, kind: str, period: str, scope: str = "all") -> StoredRun | None:
    async with db.sessions() as session:
        row = await session.scalar(select(ReportRun).where(
            ReportRun.kind == kind, ReportRun.period == period, ReportRun.scope == scope))
    if row is None:
        return None
    return StoredRun(row.id, row.kind, row.period, row.scope, row.status, row.generated_at,
                     row.generated_by, list(row.files or []), dict(row.result or {}))
