"""The service's own job loop: periodic jobs leased through the `job_locks` table.

No Celery, no APScheduler. Every process runs a `JobLoop`; before a pass of a
job, a process takes the job's lease with one compare-and-set UPDATE, so one
process at a time runs it, and a job is not run again before its interval has
passed. A process that dies holding a lease loses it when the lease expires.
Jobs must still be idempotent (their own unique keys make each effect happen
once); the lease only avoids wasted work.

One way to add a job: the `jobs.py` of the package it belongs to (e.g.
`callcenter.complaints.jobs`), whose `setup(app)`, listed in
`callcenter.features`, calls `app[JOB_LOOP].add(PeriodicJob(name, interval,
run))`, reading the database and settings from `app` when the job runs; a
job that needs the telephony owner's parts passes `only_if`. The app factory
starts the loop after every feature has added its jobs. Long-running loops
that must run once per site (FastAGI, AMI, the callback dispatcher) are not
jobs but owner contexts (`callcenter.owner.add_owner_context`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.clock import Clock, system_clock
from callcenter.metrics import REGISTRY
from callcenter.storage.engine import Database
from callcenter.storage.tables import JobLock

log = logging.getLogger(__name__)
JOB_RUNS = REGISTRY.counter("callcenter_job_runs_total", "job loop passes by job and outcome")


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval: timedelta
    run: Callable[[datetime], Awaitable[object]]
    lease: timedelta = timedelta(minutes=5)
    #: the job runs only in processes where this says so (e.g. the telephony owner);
    #: elsewhere it is skipped without taking its lease or using up its interval
    only_if: Callable[[], bool] | None = None


async def ensure_lease_row(session: AsyncSession, name: str) -> None:
    """The `job_locks` row named `name` exists (made here unless another process made it first);
    the job loop's leases and the telephony owner's are compare-and-set UPDATEs of such rows."""
    if await session.scalar(select(JobLock.name).where(JobLock.name == name)) is None:
        session.add(JobLock(name=name))
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()  # another process created it first


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class JobLoop:
    db: Database
    jobs: list[PeriodicJob] = field(default_factory=list)
    holder: str = field(default_factory=default_holder)
    clock: Clock = system_clock
    tick: float = 1.0

    def add(self, job: PeriodicJob) -> None:
        if any(j.name == job.name for j in self.jobs):
            raise ValueError(f"job {job.name!r} registered twice")
        self.jobs.append(job)

    async def acquire(self, job: PeriodicJob, now: datetime) -> bool:
        """Take the lease of `job` if it is free and the job is due; True when taken."""
        async with self.db.sessions() as session:
            await ensure_lease_row(session, job.name)
            result = await session.execute(
                update(JobLock)
                .where(
                    JobLock.name == job.name,
                    or_(JobLock.lease_until.is_(None), JobLock.lease_until < now),
                    or_(JobLock.last_run_at.is_(None), JobLock.last_run_at <= now - job.interval),
                )
                .values(holder=self.holder, lease_until=now + job.lease)
            )
            await session.commit()
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def release(self, job: PeriodicJob, now: datetime) -> None:
        async with self.db.sessions() as session:
            await session.execute(
                update(JobLock)
                .where(JobLock.name == job.name, JobLock.holder == self.holder)
                .values(lease_until=None, last_run_at=now)
            )
            await session.commit()

    async def run_once(self) -> list[str]:
        """One pass over every job; returns the names of the jobs this process ran."""
        ran: list[str] = []
        for job in self.jobs:
            if job.only_if is not None and not job.only_if():
                continue
            now = self.clock()
            if not await self.acquire(job, now):
                continue
            try:
                await job.run(now)
                JOB_RUNS.inc(job=job.name, outcome="ok")
            except asyncio.CancelledError:
                raise
            except Exception:
                JOB_RUNS.inc(job=job.name, outcome="error")
                log.exception("job %s failed; it will run again next interval", job.name)
            finally:
                await self.release(job, now)
            ran.append(job.name)
        return ran

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job loop pass failed (database unreachable?); retrying")
            await asyncio.sleep(self.tick)
