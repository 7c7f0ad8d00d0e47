"""Deliver the scheduled reports by e-mail (seed 000: daily, Monday weekly, 5th-of-month 上报).

Rules:
- Recipients are configured per report kind and, optionally, per department
  (``REPORT_MAIL_TO``: ``kind[/DEPT]=addr,addr; ...``). A department entry gets
  that department's report (scope ``department:DEPT``), made here when the
  schedule has not made it.
- Each due report (`schedule.due_reports`) goes to its recipients once: the
  HTML report is the body, the XLSX / PDF files (``REPORT_MAIL_ATTACHMENTS``)
  are attached, and `mail_deliveries` keeps what was sent, to whom and when
  (key ``report:<kind>:<period>:<scope>``).
- Rendering (PDF via matplotlib) runs in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime
from typing import Any

from callcenter.mail import PDF, XLSX, Attachment, MailSettings, build_message
from callcenter.mail_deliveries import deliver_once
from callcenter.reporting import exports, runs
from callcenter.reporting.schedule import due_reports
from callcenter.settings import Settings
from callcenter.storage.engine import Database

log = logging.getLogger(__name__)
KINDS = ("daily", "weekly", "monthly", "supervision")
ATTACHABLE = {"xlsx": XLSX, "pdf": PDF, "csv": ("text", "csv")}
_ADDRESS = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


def parse_recipients(text: str) -> dict[tuple[str, str | None], list[str]]:
    """'daily=a@x.cn,b@x.cn; weekly/SVC=c@x.cn' -> {('daily', None): [...], ('weekly', 'SVC'): [...]}."""
    found: dict[tuple[str, str | None], list[str]] = {}
    for entry in filter(None, (e.strip() for e in text.split(";"))):
        target, sep, addresses = entry.partition("=")
        kind, _, department = (part.strip() for part in target.partition("/"))
        emails = [a.strip() for a in addresses.split(",") if a.strip()]
        bad = [a for a in emails if not _ADDRESS.match(a)]
        if not sep or kind not in KINDS or not emails or bad:
            raise ValueError(
                f"REPORT_MAIL_TO: {entry!r} must be <kind>[/<department code>]=<address>,...; "
                f"kind one of {', '.join(KINDS)}" + (f"; not an address: {', '.join(bad)}" if bad else "")
            )
        found.setdefault((kind, department or None), []).extend(emails)
    return found


def attachment_formats(text: str) -> tuple[str, ...]:
    chosen = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    unknown = [f for f in chosen if f not in ATTACHABLE]
    if unknown:
        raise ValueError(f"REPORT_MAIL_ATTACHMENTS: unknown {unknown}; choose from {list(ATTACHABLE)}")
    return chosen


def _render(payload: dict[str, Any], stem: str, fmts: tuple[str, ...], now: datetime) -> tuple[str, list[Attachment]]:
    html = exports.to_html(payload).decode()
    files = []
    for fmt in fmts:
        data = exports.to_pdf(payload, now) if fmt == "pdf" else exports.render(payload, fmt)
        maintype, subtype = ATTACHABLE[fmt]
        files.append(Attachment(f"{stem}.{fmt}", data, maintype, subtype))
    return html, files


async def deliver_report(
    db: Database, settings: Settings, kind: str, period: str, to: list[str], *, now: datetime,
    department: str | None = None, holder: str = "job-loop",
) -> str | None:
    """Mail one report (made first if missing) to `to`, once; "sent", "failed" or None."""
    config = MailSettings.of(settings)
    scope = "all" if department is None else f"department:{department}"
    run = await runs.latest_run(db, kind, period, scope)
    if run is None or run.status != "done":
        if department is None:
            return None  # the schedule makes the centre-wide report; deliver it next pass
        made = await runs.run_report(db, settings, kind, period, now=now, generated_by=holder,
                                     department=department, scheduled=True)
        if made is None:
            return None
        run = made
    payload = run.payload
    fmts = attachment_formats(settings.report_mail_attachments)
    subject = f"{exports.TITLES.get(kind, kind)} · {period}" + (f" · {department}" if department else "")

    async def build() -> Any:
        stem = runs.file_stem(kind, period, scope)
        html, files = await asyncio.to_thread(_render, payload, stem, fmts, now)
        text = f"{subject}\nscope {scope}; the report is attached ({', '.join(fmts) or 'no files'})."
        return build_message(config.sender, to, subject, html, text, files)

    return await deliver_once(db, config, key=f"report:{kind}:{period}:{scope}", kind="report",
                              subject=subject, to=to, build=build, now=now)


async def deliver_due_reports(db: Database, settings: Settings, now: datetime,
                              holder: str = "job-loop") -> list[tuple[str, str, str]]:
    """Mail every due report to its recipients; returns (kind, period, status) of attempts made."""
    recipients = parse_recipients(settings.report_mail_to)
    if not recipients or not MailSettings.of(settings).configured:
        return []
    done: list[tuple[str, str, str]] = []
    failed: list[str] = []
    for kind, period in due_reports(now, settings):
        for (wanted, department), to in recipients.items():
            if wanted != kind:
                continue
            try:
                status = await deliver_report(db, settings, kind, period, to, now=now,
                                              department=department, holder=holder)
            except Exception:  # e.g. the department's report could not be made: try the others
                log.exception("delivering the %s report %s (%s) failed", kind, period, department or "all")
                failed.append(f"{kind} {period} {department or 'all'}")
                continue
            if status is not None:
                done.append((kind, period, status))
    if failed:
        raise RuntimeError(f"report delivery failed (retried next pass): {', '.join(failed)}")
    return done
