"""One owner of the telephony side among every service process, by a lease in the database.

FastAGI, the AMI client (with the call log and the Asterisk dialer) and the
callback dispatcher must each run once per site, however many service
processes serve HTTP (`docker compose up --scale service=3`, or several
hosts). Features register those parts with `add_owner_context(app, ctx)`
instead of `app.cleanup_ctx`; `owner_ctx` then runs them only while this
process holds the `telephony-owner` row of `job_locks` (the job loop's lease
table).

Guarantees:

- At most one live holder: the lease is taken or renewed with one
  compare-and-set UPDATE (free, expired, or already ours), lasting
  `OWNER_LEASE_S`; the owner renews it every third of that.
- Fail-over: a standby tries every third of the lease, so when the owner dies
  (even `kill -9`) another process owns within `OWNER_LEASE_S` plus one try,
  binds the FastAGI port and logs in to AMI (which resynchronises the calls).
- Self-fencing: an owner that cannot renew (database gone) stops its parts
  before its lease runs out, so two owners never overlap while clocks agree.
  An owner that finds the lease taken by another stops at once.
- Start-up: the first claim happens before the app serves, so a lone process
  (or the first of several) owns from its first request on; a clean stop
  releases the lease so the next owner need not wait for it to expire.
- Leases run on the wall clock (UTC), never on the app's business clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy import or_, select, update

from callcenter.appkeys import DB, OWNER, OWNER_CONTEXTS, SERVICES, SETTINGS
from callcenter.jobs import ensure_lease_row
from callcenter.metrics import REGISTRY
from callcenter.storage.engine import Database
from callcenter.storage.tables import JobLock

log = logging.getLogger(__name__)

LEASE_NAME = "telephony-owner"
OwnerContext = Callable[[web.Application], AsyncIterator[None]]
IS_OWNER = REGISTRY.gauge(
    "callcenter_telephony_owner", "1 while this process owns FastAGI, AMI and the dialer")


def wall_clock() -> datetime:
    return datetime.now(UTC)


def new_holder() -> str:
    """host:pid:random, unique per process and per app (two apps in one test process differ)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class OwnerLease:
    """The `telephony-owner` row: claim (take or renew), release."""

    db: Database
    duration: timedelta
    holder: str = field(default_factory=new_holder)
    name: str = LEASE_NAME

    async def claim(self, now: datetime) -> bool:
        """Take the lease if free, expired or ours, for `duration` from `now`; True when held."""
        async with self.db.sessions() as session:
            await ensure_lease_row(session, self.name)
            result = await session.execute(
                update(JobLock)
                .where(JobLock.name == self.name,
                       or_(JobLock.holder == self.holder, JobLock.lease_until.is_(None),
                           JobLock.lease_until < now))
                .values(holder=self.holder, lease_until=now + self.duration)
            )
            await session.commit()
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def release(self) -> None:
        async with self.db.sessions() as session:
            await session.execute(
                update(JobLock).where(JobLock.name == self.name, JobLock.holder == self.holder)
                .values(lease_until=None))
            await session.commit()

    async def current_holder(self) -> str | None:
        async with self.db.sessions() as session:
            return await session.scalar(select(JobLock.holder).where(
                JobLock.name == self.name, JobLock.lease_until.is_not(None)))


@dataclass
class Ownership:
    """Runs the registered owner contexts while the lease is held."""

    app: web.Application
    lease: OwnerLease
    clock: Callable[[], datetime] = wall_clock
    held_until: datetime | None = None
    _stack: contextlib.AsyncExitStack | None = None

    @property
    def is_owner(self) -> bool:
        return self._stack is not None

    @property
    def interval_s(self) -> float:
        return self.lease.duration.total_seconds() / 3

    async def step(self) -> None:
        """One try: claim or renew; start or stop the owner's parts to match."""
        now = self.clock()
        try:
            held = await self.lease.claim(now)
        except Exception as exc:  # database unreachable: keep owning until the lease runs out
            if self.is_owner and self.held_until is not None and \
                    now + timedelta(seconds=self.interval_s) < self.held_until:
                log.warning("owner lease not renewed (%s); still owner until %s",
                            type(exc).__name__, self.held_until.isoformat())
                return
            if self.is_owner:
                log.error("owner lease could not be renewed (%s): stopping FastAGI/AMI "
                          "before it expires", type(exc).__name__)
                await self._stop()
            else:
                log.warning("owner lease: database unreachable (%s)", type(exc).__name__)
            return
        if held:
            self.held_until = now + self.lease.duration
            if not self.is_owner:
                await self._start()
        elif self.is_owner:
            log.error("owner lease taken by another process: stopping FastAGI/AMI here")
            await self._stop()

    async def _start(self) -> None:
        stack = contextlib.AsyncExitStack()
        try:
            for ctx in self.app[OWNER_CONTEXTS]:
                await stack.enter_async_context(contextlib.asynccontextmanager(ctx)(self.app))
        except Exception:
            log.exception("could not start the owner's parts; releasing the lease")
            await stack.aclose()
            with contextlib.suppress(Exception):
                await self.lease.release()
            self.held_until = None
            return
        self._stack = stack
        IS_OWNER.set(1)
        log.info("this process (%s) now owns FastAGI, AMI and the dialer", self.lease.holder)

    async def _stop(self) -> None:
        stack, self._stack = self._stack, None
        self.held_until = None
        IS_OWNER.set(0)
        if stack is not None:
            await stack.aclose()

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("owner election step failed; retrying")

    async def close(self) -> None:
        was_owner = self.is_owner
        await self._stop()
        if was_owner:
            with contextlib.suppress(Exception):
                await self.lease.release()


def add_owner_context(app: web.Application, ctx: OwnerContext) -> None:
    """Run `ctx` (a cleanup-context generator) only in the process that owns the telephony side."""
    app[OWNER_CONTEXTS].append(ctx)


async def owner_ctx(app: web.Application) -> AsyncIterator[None]:
    """Claim the lease once before serving, then keep claiming in the background."""
    if not app.get(OWNER_CONTEXTS):
        yield
        return
    duration = timedelta(seconds=app[SETTINGS].owner_lease_s)
    ownership = Ownership(app, OwnerLease(app[DB], duration))
    app[SERVICES][OWNER] = ownership
    await ownership.step()
    if not ownership.is_owner:
        try:
            log.info("standing by: %s owns FastAGI/AMI", await ownership.lease.current_holder())
        except Exception as exc:  # the database is away: the election keeps trying
            log.warning("standing by; owner unknown (%s)", type(exc).__name__)
    task = asyncio.create_task(ownership.run_forever(), name="owner-election")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await ownership.close()
        app[SERVICES].pop(OWNER, None)
