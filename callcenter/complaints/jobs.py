"""The complaint escalation job: `escalate_overdue` on the service's own job loop.

`setup(app)` (listed in `callcenter.features`) adds it as the periodic job
`complaints.escalate`. The job loop's lease keeps one process running it at a
time; the use case's unique keys make each escalation happen once even when
two processes do run it together. Each escalation is e-mailed to the manager
it reached (`escalation_mailer`, once per complaint and level) when SMTP is
configured and `COMPLAINT_ESCALATION_MAIL` is on.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage

from aiohttp import web

from callcenter.appkeys import DB, JOB_LOOP, SETTINGS
from callcenter.complaints.policy import complaint_policy
from callcenter.jobs import PeriodicJob
from callcenter.mail import MailSettings, build_message
from callcenter.mail_deliveries import deliver_once
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Staff
from callcenter.storage.uow import SqlUnitOfWork
from crm.services.complaint_escalation import Escalated, EscalationListener, escalate_overdue
from crm.services.complaints import ComplaintPolicy

log = logging.getLogger(__name__)
JOB_NAME = "complaints.escalate"


def escalation_job(db: Callable[[], Database], policy: ComplaintPolicy, interval: timedelta,
                   settings: Settings | None = None) -> PeriodicJob:
    """The job; `db` is read when it runs. With `settings` whose `COMPLAINT_ESCALATION_MAIL`
    is on, each escalation is e-mailed to the manager it reached."""

    async def run(now: datetime) -> list[Escalated]:
        mailer = escalation_mailer(db(), settings, now) \
            if settings is not None and settings.complaint_escalation_mail else None
        return await escalate_overdue(SqlUnitOfWork(db()), now=now, policy=policy, on_escalated=mailer)

    return PeriodicJob(name=JOB_NAME, interval=interval, run=run)


def escalation_mailer(db: Database, settings: Settings, now: datetime) -> EscalationListener:
    """E-mail the manager a complaint escalated to (once per complaint and level)."""
    config = MailSettings.of(settings)

    async def tell(done: Escalated) -> object:
        if done.manager_id is None or not config.configured:
            return None
        async with db.sessions() as session:
            manager = await session.get(Staff, done.manager_id)
        if manager is None or not manager.email:
            log.info("complaint %s: manager staff:%s has no e-mail address", done.ticket, done.manager_id)
            return None
        why = "not acknowledged in time" if done.cause == "respond" else "not resolved in time"
        subject = f"投诉升级 Complaint {done.ticket} escalated to you (level {done.level}, {why})"
        rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in done.summary.items())
        body = f"<h1>{html.escape(subject)}</h1><table>{rows}</table>"

        async def build() -> EmailMessage:
            return build_message(config.sender, [manager.email or ""], subject, body,
                                 f"{subject}\n" + "\n".join(f"{k}: {v}" for k, v in done.summary.items()))

        return await deliver_once(db, config, key=f"escalation:{done.complaint_id}:{done.level}",
                                  kind="escalation", subject=subject, to=[manager.email], build=build, now=now)

    return tell


def setup(app: web.Application) -> None:
    """Add the escalation job; the database is read when the job runs, not now."""
    settings = app[SETTINGS]
    app[JOB_LOOP].add(escalation_job(
        lambda: app[DB], complaint_policy(settings),
        timedelta(seconds=settings.complaint_escalation_interval_s), settings))
