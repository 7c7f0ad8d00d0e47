"""Mount the Asterisk side on the app: FastAGI server, AMI client + call log + dialer, spool job.

`setup(app)` adds two owner contexts (each opens, yields, closes; run only in the
process holding the telephony lease, `callcenter.owner`):
- FastAGI (`FASTAGI_ENABLED`): the hotline / callback / queue-result routes on
  FASTAGI_HOST:FASTAGI_PORT; `app[SERVICES][FASTAGI]`.
- AMI (`AMI_ENABLED`): the client (reconnecting in the background, so the
  app starts even while Asterisk is down), the call log fed by its events,
  screen-pop offers, and the callbacks dialer; `app[SERVICES][AMI]`,
  `[CALL_LOG]`, `[ASTERISK_DIALER]`, `[QUEUE_MEMBERS]` (keys in `callcenter.appkeys`).
Its periodic jobs are in `callcenter.telephony.asterisk.jobs`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime

from aiohttp import web

from callcenter.appkeys import (
    AMI,
    ASTERISK_DIALER,
    AVAILABILITY,
    CALL_LOG,
    CLOCK,
    DB,
    FASTAGI,
    QUEUE_MEMBERS,
    SCREENPOP,
    SERVICES,
    SETTINGS,
    TURN_STORE,
    WALLBOARD,
)
from callcenter.callbacks.config import retry_policy
from callcenter.hotline.turns import HotlineDriver
from callcenter.networks import parse_networks
from callcenter.owner import add_owner_context
from callcenter.storage.turn_store_sql import SqlTurnStore
from callcenter.telephony.asterisk.agi_hotline import HotlineAgi
from callcenter.telephony.asterisk.ami_client import AmiClient, AmiConfig
from callcenter.telephony.asterisk.call_log import AmiCallLog
from callcenter.telephony.asterisk.dialer import AsteriskDialer
from callcenter.telephony.asterisk.fastagi import FastAgiServer
from callcenter.telephony.asterisk.queue_members import QueueMembers

log = logging.getLogger(__name__)


async def fastagi_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.fastagi_enabled:
        yield
        return
    # RECORD FILE does not create directories (Asterisk on another host: create it there)
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    handlers = HotlineAgi(
        HotlineDriver(app[SERVICES].get(TURN_STORE) or SqlTurnStore(app[DB]), settings,
                      app[CLOCK], availability=lambda: app[SERVICES].get(AVAILABILITY)),
        sounds_prefix=str(settings.prompts_dir.resolve()),
        recordings_dir=settings.recordings_dir.resolve(),
        end_on_queue_hangup=not settings.ami_enabled,
    )
    server = FastAgiServer(handlers.routes(), host=settings.fastagi_host,
                           port=settings.fastagi_port,
                           allowed_peers=parse_networks(settings.fastagi_allowed_peers))
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
    from callcenter import screenpop, wallboard

    client = AmiClient(AmiConfig(
        host=settings.ami_host, port=settings.ami_port, username=settings.ami_user,
        secret=settings.ami_secret.get_secret_value(),
    ))
    call_log = AmiCallLog(
        app[DB], app[CLOCK], default_region=settings.default_region,
        default_tz=settings.timezone,
        offer_call=functools.partial(screenpop.offer_call, app),
        call_answered=functools.partial(screenpop.call_answered, app),
        call_held=functools.partial(screenpop.call_held, app),
    )

    async def screen_ended(linkedid: str, _at: datetime) -> None:
        await screenpop.call_ended(app, "asterisk", linkedid)

    call_log.ended_hooks.append(screen_ended)
    call_log.attach(client)
    dialer = AsteriskDialer(client, app[DB], app[CLOCK], trunk=settings.outbound_trunk,
                            policy=retry_policy(settings))
    dialer.attach(call_log)
    members = QueueMembers(client, app[DB], settings.agent_queue, settings.agent_interface)
    pop = app[SERVICES].get(SCREENPOP)
    follow_locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def follow_remote_state(staff_id: int) -> None:
        """A state committed by another replica (seen on the fan-out bus): apply what is
        stored now, one agent at a time, so the queue ends at the latest state."""
        async with follow_locks[staff_id]:
            status, _ = await pop.state_of(staff_id)
            await members.on_state(staff_id, status, await pop.reason_of(staff_id))

    if pop is not None:  # agent states drive the queue, whichever replica changed them
        pop.state_listeners.append(members.on_state)
        pop.bus.remote_listeners.append(follow_remote_state)

    async def queue_resync(_channels: object, _requested_at: float) -> None:
        await members.resync()  # after every AMI login: read the queue back, fix differences

    client.on_resync(queue_resync)
    wall = app[SERVICES].get(WALLBOARD)
    if wall is not None:  # queue events move the wallboard at once
        client.on_event(wallboard.WALLBOARD_EVENTS, wall.on_ami_event)
    app[SERVICES][AMI], app[SERVICES][CALL_LOG] = client, call_log
    app[SERVICES][ASTERISK_DIALER], app[SERVICES][QUEUE_MEMBERS] = dialer, members
    await client.start()
    try:
        yield
    finally:
        if pop is not None and members.on_state in pop.state_listeners:
            pop.state_listeners.remove(members.on_state)
        if pop is not None and follow_remote_state in pop.bus.remote_listeners:
            pop.bus.remote_listeners.remove(follow_remote_state)
        for key in (AMI, CALL_LOG, ASTERISK_DIALER, QUEUE_MEMBERS):
            app[SERVICES].pop(key, None)  # type: ignore[misc]
        await client.close()
        await call_log.close()  # commit what the last events decided


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    if settings.fastagi_enabled:
        add_owner_context(app, fastagi_ctx)
    if settings.ami_enabled:
        add_owner_context(app, ami_ctx)
