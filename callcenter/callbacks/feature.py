"""Mount callbacks on the app: staff page and API, the dispatcher.

- Routes: `callcenter.callbacks.routes` (`/callbacks`, `/api/callbacks`, `/api/campaigns`).
- The periodic sources (post-repair callbacks, the verification sample) are
  jobs of their own: `callcenter.callbacks.jobs`.
- The dispatcher runs as an owner context (in the process holding the telephony
  lease, `callcenter.owner`) when the job loop is enabled and a carrier can dial: `OUTBOUND_CARRIER` picks it (auto: the Asterisk dialer,
  `app[SERVICES][ASTERISK_DIALER]`, when AMI is on, else Twilio when
  `TWILIO_CALLER_ID` is set). It reconciles with every carrier it knows.
  Several app processes may run it on PostgreSQL; on SQLite run one.
- Retries, ring time, call window, attempts and the verification sample come
  from the `# callbacks` settings (`callcenter.callbacks.config`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.appkeys import ASTERISK_DIALER, CLOCK, DB, DISPATCHER, SERVICES, SETTINGS
from callcenter.callbacks import config as callback_config
from callcenter.callbacks import routes as callbacks_routes
from callcenter.callbacks.loop import Dispatcher
from callcenter.jobs import default_holder
from callcenter.owner import add_owner_context
from crm.services.callback_ports import Dialer


def _dialers(app: web.Application) -> dict[str, Dialer]:
    dialers: dict[str, Dialer] = {}
    asterisk = app[SERVICES].get(ASTERISK_DIALER)
    if asterisk is not None:
        dialers[asterisk.carrier] = asterisk
    if app[SETTINGS].twilio_caller_id:
        from callcenter.telephony.twilio.rest import TwilioDialer

        twilio = TwilioDialer(app[SETTINGS])
        dialers[twilio.carrier] = twilio
    return dialers


async def dispatcher_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    dialers = _dialers(app) if settings.job_loop_enabled else {}
    task: asyncio.Task[None] | None = None
    first = callback_config.choose_carrier(settings, dialers) if settings.job_loop_enabled \
        else None
    if first is not None:
        config = callback_config.dispatch_config(settings, f"{default_holder()}:dialer")
        dispatcher = Dispatcher(app[DB], first, config, clock=app[CLOCK], reconcilers=dialers,
                                tick=settings.job_interval_s)
        app[SERVICES][DISPATCHER] = dispatcher
        task = asyncio.create_task(dispatcher.run_forever(), name="callback-dispatcher")
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        app[SERVICES].pop(DISPATCHER, None)


def setup(app: web.Application) -> None:
    callbacks_routes.setup(app)
    if app[SETTINGS].job_loop_enabled:
        add_owner_context(app, dispatcher_ctx)
