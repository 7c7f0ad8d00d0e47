"""Import the complaints the classic AGI fallback left in the spool directory.

`deploy/asterisk/agi-bin/hotline_fallback.py` writes `<name>.wav` and then,
atomically, `<name>.json` while the service is down. This module turns each
entry into a complaint once the service is back: `callcenter spool import`,
and the periodic job `asterisk-spool-import`.

Guarantees:
- Each entry is imported once: its name is stored in `spool_imports`; an
  entry whose name is there is skipped. A complaint already carrying the
  entry's recording (an import that died before it wrote its row) is linked,
  not opened a second time.
- Only complete entries are read (the JSON is renamed into place last);
  a broken JSON is logged and left for a human, never deleted.
- The caller is identified by number like any hotline call (unknown numbers
  get an unverified customer). An entry without a usable number or without a
  recording is recorded as imported with no complaint, and logged.
- Files are never deleted: the complaint points at the recording.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from callcenter.clock import Clock
from callcenter.logs import mask_number
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Complaint, SpoolImport
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import ComplaintCategory, ComplaintChannel
from crm.errors import InvalidPhoneNumber
from crm.services.customers import identify_caller

log = logging.getLogger(__name__)
FALLBACK_DESCRIPTION = "left on the fallback line while the hotline service was down"


@dataclass
class SpoolReport:
    imported: list[str] = field(default_factory=list)  # complaint tickets
    skipped: list[str] = field(default_factory=list)  # already imported
    without_complaint: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SpoolEntry:
    name: str
    caller_id: str
    recording: Path | None
    recorded_at: str

    @classmethod
    def read(cls, path: Path) -> SpoolEntry:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("metadata is not a JSON object")
        recording = data.get("recording")
        wav = path.parent / str(recording) if recording else None
        return cls(path.stem, str(data.get("caller_id") or ""),
                   wav if wav is not None and wav.exists() else None,
                   str(data.get("recorded_at") or ""))


async def _done(db: Database, name: str) -> bool:
    async with db.sessions() as session:
        return await session.get(SpoolImport, name) is not None


async def _mark(db: Database, name: str, complaint_id: int | None, now: datetime) -> None:
    async with db.sessions() as session:
        session.add(SpoolImport(name=name, complaint_id=complaint_id, imported_at=now))
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()  # another importer finished it first


async def _complaint_with_recording(db: Database, url: str) -> tuple[int, str] | None:
    async with db.sessions() as session:
        row = (await session.execute(
            select(Complaint.id, Complaint.ticket).where(Complaint.recording_url == url).limit(1)
        )).first()
    return (row.id, row.ticket) if row else None


async def import_entry(entry: SpoolEntry, db: Database, settings: Settings, clock: Clock,
                       report: SpoolReport) -> None:
    from callcenter.complaints.policy import complaint_policy
    from crm.services.complaints import Actor, OpenComplaint, open_complaint

    now = clock()
    if await _done(db, entry.name):
        report.skipped.append(entry.name)
        return
    if entry.recording is None:
        log.warning("spool entry %s has no recording (caller hung up first); nothing to open",
                    entry.name)
        await _mark(db, entry.name, None, now)
        report.without_complaint.append(entry.name)
        return
    url = str(entry.recording.resolve())
    existing = await _complaint_with_recording(db, url)
    if existing is not None:
        await _mark(db, entry.name, existing[0], now)
        report.imported.append(existing[1])
        return
    try:
        customer = await identify_caller(entry.caller_id, SqlUnitOfWork(db),
                                         default_region=settings.default_region,
                                         default_tz=settings.timezone)
    except InvalidPhoneNumber:
        log.warning("spool entry %s: caller id %r is not dialable; kept for a human",
                    entry.name, mask_number(entry.caller_id))
        await _mark(db, entry.name, None, now)
        report.without_complaint.append(entry.name)
        return
    opened = await open_complaint(OpenComplaint(
        customer_id=customer.customer_id, channel=ComplaintChannel.PHONE_IVR,
        category=ComplaintCategory.OTHER, description=FALLBACK_DESCRIPTION,
        recording_url=url, actor=Actor.system("spool-import"),
        notes=(f"recorded at {entry.recorded_at}",) if entry.recorded_at else (),
    ), SqlUnitOfWork(db), clock=clock, policy=complaint_policy(settings))
    await _mark(db, entry.name, opened.complaint_id, now)
    report.imported.append(opened.ticket)
    log.info("spool entry %s imported as complaint %s", entry.name, opened.ticket)


async def import_spool(db: Database, settings: Settings, clock: Clock) -> SpoolReport:
    """Import every complete entry in `settings.spool_dir`, oldest first."""
    report = SpoolReport()
    spool = settings.spool_dir
    if not spool.is_dir():
        return report
    for path in sorted(spool.glob("*.json")):
        try:
            entry = SpoolEntry.read(path)
        except (OSError, ValueError) as exc:
            log.error("spool entry %s unreadable (%s); left in place", path.name, exc)
            report.broken.append(path.name)
            continue
        await import_entry(entry, db, settings, clock, report)
    return report
