"""Screen-pop: carrier-neutral call offers pushed to the agent page over WebSockets.

Carriers call, with the aiohttp app:

- `await offer_call(app, CallOffer(...))` when they ring an agent (Asterisk
  AMI AgentCalled, the Twilio agent dial);
- `await call_answered(app, carrier, carrier_call_id, agent)` when the agent
  picks up;
- `await call_ended(app, carrier, carrier_call_id, agent=None)` when the call
  leg ends (agent None: whoever has this call on screen).

`setup(app)` adds a cleanup context that starts the hub and
its fan-out bus: PostgreSQL LISTEN/NOTIFY (a dedicated asyncpg connection
from DATABASE_URL) or in-process on SQLite. None of these calls raises for an
unknown agent or a slow database; they log and carry on, so a carrier adapter
never loses a call because of the screen-pop. The agent page's socket
(`/agent/ws`) is `callcenter.web.agent_socket`; this package imports nothing
of `callcenter.web` (an import contract).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime

from aiohttp import web

from callcenter.appkeys import AVAILABILITY, CLOCK, DB, SCREENPOP, SERVICES, SETTINGS
from callcenter.screenpop.availability import AgentAvailability
from callcenter.screenpop.hub import Bus, Hub, LocalBus, PgBus
from callcenter.screenpop.offers import AgentStatus, CallOffer, agent_keys
from callcenter.screenpop.service import ScreenPop, service

__all__ = [
    "AgentStatus", "CallOffer", "ScreenPop", "agent_keys", "call_answered", "call_ended", "call_held",
    "offer_call", "service", "setup",
]
log = logging.getLogger(__name__)


async def offer_call(app: web.Application, offer: CallOffer) -> None:
    """Pop the caller's card on the offered agent's screen (within the 1 s lookup deadline)."""
    pop = app[SERVICES].get(SCREENPOP)
    if pop is None:
        log.warning("screen-pop not running; offer of call %s not shown", offer.carrier_call_id)
        return
    await pop.offer(offer)


async def call_answered(app: web.Application, carrier: str, carrier_call_id: str, agent: str) -> None:
    pop = app[SERVICES].get(SCREENPOP)
    if pop is not None:
        await pop.answered(carrier, carrier_call_id, agent)


async def call_ended(
    app: web.Application, carrier: str, carrier_call_id: str, agent: str | None = None
) -> None:
    pop = app[SERVICES].get(SCREENPOP)
    if pop is not None:
        await pop.ended(carrier, carrier_call_id, agent)


async def call_held(app: web.Application, carrier: str, carrier_call_id: str, on_hold: bool,
                    at: datetime | None = None, agent: str | None = None) -> None:
    """The caller of this call was put on hold / taken off hold (AMI Hold/Unhold, agent page)."""
    pop = app[SERVICES].get(SCREENPOP)
    if pop is not None:
        await pop.held(carrier, carrier_call_id, on_hold, agent, at=at)


async def screenpop_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    hub = Hub()
    pop = ScreenPop(
        app[DB], hub, LocalBus(hub), app[CLOCK], default_region=settings.default_region,
        default_tz=settings.timezone, wrap_up_s=settings.agent_wrap_up_s,
        hotline_codes=settings.hotline_codes,
    )
    bus: Bus = LocalBus(hub)
    if app[DB].dialect == "postgresql":
        bus = PgBus(hub, app[DB].url, pop.load_offer)
    pop.bus = bus
    await bus.start()
    await pop.warm_up()
    availability = AgentAvailability(app[DB])
    await availability.start()
    pop.state_listeners.append(availability.on_state)
    app[SERVICES][SCREENPOP] = pop
    app[SERVICES][AVAILABILITY] = availability
    yield
    app[SERVICES].pop(AVAILABILITY, None)
    await availability.close()
    app[SERVICES].pop(SCREENPOP, None)
    await pop.close()
    await bus.close()


def setup(app: web.Application) -> None:
    """The hub, its bus and agent availability; the agent page's socket is `web.agent_socket`."""
    app.cleanup_ctx.append(screenpop_ctx)
