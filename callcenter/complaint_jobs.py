"""The complaint escalation job: `escalate_overdue` on the service's own job loop.

Registered by `callcenter.web.complaints.setup` as the periodic job
`complaints.escalate`. The job loop's lease keeps one process running it at a
time; the use case's unique keys make each escalation happen once even when
two processes do run it together.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from callcenter.appkeys import DB, JOB_LOOP, SETTINGS
from callcenter.complaint_settings import complaint_policy
from callcenter.jobs import PeriodicJob
from callcenter.storage.engine import Database
from callcenter.storage.uow import SqlUnitOfWork
from crm.services.complaint_escalation import Escalated, escalate_overdue
from crm.services.complaints import ComplaintPolicy

JOB_NAME = "complaints.escalate"


def escalation_job(db: Database, policy: ComplaintPolicy, interval: timedelta) -> PeriodicJob:
    async def run(now: datetime) -> list[Escalated]:
        return await escalate_overdue(SqlUnitOfWork(db), now=now, policy=policy)

    return PeriodicJob(name=JOB_NAME, interval=interval, run=run)


def register(app: web.Application) -> None:
    """Add the escalation job; the database is read when the job runs, not now."""
    settings = app[SETTINGS]
    policy = complaint_policy(settings)

    async def run(now: datetime) -> list[Escalated]:
        return await escalate_overdue(SqlUnitOfWork(app[DB]), now=now, policy=policy)

    app[JOB_LOOP].add(
        PeriodicJob(
            name=JOB_NAME,
            interval=timedelta(seconds=settings.complaint_escalation_interval_s),
            run=run,
        )
    )
