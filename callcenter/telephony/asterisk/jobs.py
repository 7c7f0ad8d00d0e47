"""Asterisk's periodic jobs on the service's own job loop.

- `asterisk-spool-import` (FastAGI or AMI on): complaints the dial plan's
  fallback AGI spooled while the service was unreachable are imported;
- `asterisk-queue-sync` (AMI on): the agent queue's members follow the agents'
  states; only where the AMI client runs (the telephony owner).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from callcenter.appkeys import CLOCK, DB, JOB_LOOP, QUEUE_MEMBERS, SERVICES, SETTINGS
from callcenter.jobs import PeriodicJob
from callcenter.telephony.asterisk.spool import import_spool

SPOOL_JOB = "asterisk-spool-import"
QUEUE_SYNC_JOB = "asterisk-queue-sync"


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]

    async def import_fallback_spool(_now: datetime) -> object:
        return await import_spool(app[DB], app[SETTINGS], app[CLOCK])

    async def sync_agent_queue(_now: datetime) -> object:
        members = app[SERVICES].get(QUEUE_MEMBERS)
        return None if members is None else (await members.resync()).__dict__

    if settings.ami_enabled:
        app[JOB_LOOP].add(PeriodicJob(  # where the AMI client is: the telephony owner
            QUEUE_SYNC_JOB, timedelta(minutes=1), sync_agent_queue,
            only_if=lambda: QUEUE_MEMBERS in app[SERVICES]))
    if settings.ami_enabled or settings.fastagi_enabled:
        app[JOB_LOOP].add(PeriodicJob(SPOOL_JOB, timedelta(minutes=1), import_fallback_spool))
