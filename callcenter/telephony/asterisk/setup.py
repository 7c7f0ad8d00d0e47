"""Mount the Asterisk side on the app: FastAGI server, AMI client + call log + dialer, spool job.

`setup(app)` adds two owner contexts (each opens, yields, closes; run only in the
process holding the telephony lease, `callcenter.owner`):
- FastAGI (`FASTAGI_ENABLED`): the hotline / callback / queue-result routes on
  FASTAGI_HOST:FASTAGI_PORT; `app[SERVICES]["fastagi"]`.
- AMI (`AMI_ENABLED`): the client (reconnecting in the background, so the
  app starts even while Asterisk is down), the call log fed by its events,
  screen-pop offers, and the callbacks dialer; `app[SERVICES]["ami"]`,
  `["ami_call_log"]`, `["asterisk_dialer"]`.
and the periodic job `asterisk-spool-import` (fallback complaints).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from aiohttp import web

from callcenter.appkeys import CLOCK, DB, JOB_LOOP, SERVICES, SETTINGS
from callcenter.dialer.config import retry_policy
from callcenter.jobs import PeriodicJob
from callcenter.owner import add_owner_context
from callcenter.storage.pg_turns import SERVICE as TURN_STORE
from callcenter.telephony.asterisk.agi_hotline import HotlineAgi
from callcenter.telephony.asterisk.ami_client import AmiClient, AmiConfig
from callcenter.telephony.asterisk.call_log import AmiCallLog
from callcenter.telephony.asterisk.dialer import AsteriskDialer
from callcenter.telephony.asterisk.fastagi import FastAgiServer
from callcenter.telephony.asterisk.spool import import_spool
from callcenter.telephony.hotline import HotlineDriver

log = logging.getLogger(__name__)
FASTAGI, AMI, CALL_LOG, DIALER = "fastagi", "ami", "ami_call_log", "asterisk_dialer"
SPOOL_JOB = "asterisk-spool-import"


async def fastagi_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.fastagi_enabled:
        yield
        return
    # RECORD FILE does not create directories (Asterisk on another host: create it there)
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    handlers = HotlineAgi(
        HotlineDriver(app[DB], settings, app[CLOCK], fast=app[SERVICES].get(TURN_STORE)),
        sounds_prefix=str(settings.prompts_dir.resolve()),
        recordings_dir=settings.recordings_dir.resolve(),
        end_on_queue_hangup=not settings.ami_enabled,
    )
    server = FastAgiServer(handlers.routes(), host=settings.fastagi_host,
                           port=settings.fastagi_port)
    await server.start()
    app[SERVICES][FASTAGI] = server
    try:
        yield
    finally:
        app[SERVICES].pop(FASTAGI, None)
        await server.close()


async def ami_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.ami_enabled:
        yield
        return
    from callcenter import screenpop

    client = AmiClient(AmiConfig(
        host=settings.ami_host, port=settings.ami_port, username=settings.ami_user,
        secret=settings.ami_secret.get_secret_value(),
    ))
    call_log = AmiCallLog(
        app[DB], app[CLOCK], default_region=settings.default_region,
        default_tz=settings.timezone,
        offer_call=functools.partial(screenpop.offer_call, app),
        call_answered=functools.partial(screenpop.call_answered, app),
    )

    async def screen_ended(linkedid: str, _at: datetime) -> None:
        await screenpop.call_ended(app, "asterisk", linkedid)

    call_log.ended_hooks.append(screen_ended)
    call_log.attach(client)
    dialer = AsteriskDialer(client, app[DB], app[CLOCK], trunk=settings.outbound_trunk,
                            policy=retry_policy(settings))
    dialer.attach(call_log)
    app[SERVICES].update({AMI: client, CALL_LOG: call_log, DIALER: dialer})
    await client.start()
    try:
        yield
    finally:
        for key in (AMI, CALL_LOG, DIALER):
            app[SERVICES].pop(key, None)
        await client.close()


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    if settings.fastagi_enabled:
        add_owner_context(app, fastagi_ctx)
    if settings.ami_enabled:
        add_owner_context(app, ami_ctx)

    async def import_fallback_spool(_now: datetime) -> object:
        return await import_spool(app[DB], app[SETTINGS], app[CLOCK])

    if settings.ami_enabled or settings.fastagi_enabled:
        app[JOB_LOOP].add(PeriodicJob(SPOOL_JOB, timedelta(minutes=1), import_fallback_spool))
