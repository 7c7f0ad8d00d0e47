"""`setup(app)`: mount the Twilio webhooks and give them a hotline driver.

The routes are added when the app is built; the driver is attached once the
database is open (a cleanup context that runs after the engine's), so no
engine is made at import or build time. A bad ``TWILIO_AGENT_DIAL`` stops the
app from being built, with a message naming the accepted forms.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.appkeys import (
    AVAILABILITY,
    CLOCK,
    DB,
    SERVICES,
    SETTINGS,
    TURN_STORE,
    TWILIO_CHANNEL,
)
from callcenter.hotline.turns import HotlineDriver
from callcenter.storage.turn_store_sql import SqlTurnStore
from callcenter.telephony.twilio import conference
from callcenter.telephony.twilio.twiml import TwimlRenderer
from callcenter.telephony.twilio.webhooks import ROUTES, TwilioChannel, screen_pop_module
from callcenter.web.auth import public
from callcenter.web.edge import reads_raw_body


async def _attach_driver(app: web.Application) -> AsyncIterator[None]:
    channel = app[TWILIO_CHANNEL]
    channel.db = app[DB]
    store = app[SERVICES].get(TURN_STORE) or SqlTurnStore(app[DB])
    channel.driver = HotlineDriver(store, channel.settings, channel.clock,
                                   availability=lambda: app[SERVICES].get(AVAILABILITY))
    yield
    if channel.rest is not None:  # the conference REST threads
        channel.rest.close()
        channel.rest = None
    channel.driver = None
    channel.db = None


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[TWILIO_CHANNEL] = TwilioChannel(
        settings=settings, renderer=TwimlRenderer(settings), clock=app[CLOCK],
        screen_pop=screen_pop_module(),
    )
    for path, handler in (*ROUTES, *conference.ROUTES):
        # a NUL in a parameter (a caller ID) is removed once the signature is checked
        # (`signature.verified_form`), not refused at the edge: the caller is still served
        app.router.add_post(path, reads_raw_body(
            public("signed by Twilio (X-Twilio-Signature)")(handler)))
    app.cleanup_ctx.append(_attach_driver)
    app.on_startup.append(conference.register_control)  # after every cleanup context started
