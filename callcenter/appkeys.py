"""Typed keys for what the app factory and the features put on the aiohttp application.

Every key on the app is here, one per thing. Fixed at start: `app[SETTINGS]`, `app[DB]`,
`app[CLOCK]`, `app[JOB_LOOP]`, `app[CPU_POOL]`, `app[LOOP_LAG]`, `app[OWNER_CONTEXTS]`,
`app[TWILIO_CHANNEL]`, `app[OPENAPI_DOCUMENT]`.

Services (started and stopped by cleanup or owner contexts, so they come and
go while the app runs) live in `app[SERVICES]`, a `Services` keyed by the
typed keys below, one per service: `app[SERVICES].get(SCREENPOP)` is a
`ScreenPop | None`. A new service adds its key here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar, overload

from aiohttp import web

from callcenter.clock import Clock
from callcenter.jobs import JobLoop
from callcenter.settings import Settings
from callcenter.storage.engine import Database

if TYPE_CHECKING:
    from callcenter.callbacks.loop import Dispatcher
    from callcenter.hotline.ports import TurnStore
    from callcenter.looplag import LoopLag
    from callcenter.offload import CpuPool
    from callcenter.owner import OwnerContext, Ownership
    from callcenter.screenpop.availability import AgentAvailability
    from callcenter.screenpop.service import ScreenPop
    from callcenter.telephony.asterisk.ami_client import AmiClient
    from callcenter.telephony.asterisk.call_log import AmiCallLog
    from callcenter.telephony.asterisk.dialer import AsteriskDialer
    from callcenter.telephony.asterisk.fastagi import FastAgiServer
    from callcenter.telephony.asterisk.queue_members import QueueMembers
    from callcenter.telephony.twilio.webhooks import TwilioChannel
    from callcenter.wallboard import WallboardFeed

T = TypeVar("T")


class Services:
    """The running services by typed key; a plain string is refused (a typo would be silent)."""

    def __init__(self) -> None:
        self._items: dict[web.AppKey[Any], Any] = {}

    @staticmethod
    def _key(key: object) -> web.AppKey[Any]:
        if not isinstance(key, web.AppKey):
            raise TypeError(f"services are looked up by their key in callcenter.appkeys, not {key!r}")
        return key

    @overload
    def get(self, key: web.AppKey[T]) -> T | None: ...
    @overload
    def get(self, key: web.AppKey[T], default: T) -> T: ...

    def get(self, key: web.AppKey[T], default: T | None = None) -> T | None:
        return self._items.get(self._key(key), default)  # type: ignore[no-any-return]

    def __getitem__(self, key: web.AppKey[T]) -> T:
        return self._items[self._key(key)]  # type: ignore[no-any-return]

    def __setitem__(self, key: web.AppKey[T], value: T) -> None:
        self._items[self._key(key)] = value

    def __contains__(self, key: object) -> bool:
        return self._key(key) in self._items

    def __iter__(self) -> Iterator[web.AppKey[Any]]:
        return iter(self._items)

    def pop(self, key: web.AppKey[T], default: T | None = None) -> T | None:
        return self._items.pop(self._key(key), default)  # type: ignore[no-any-return]


SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
CLOCK = web.AppKey("clock", Clock)
JOB_LOOP = web.AppKey("job_loop", JobLoop)
SERVICES = web.AppKey("services", Services)
#: the worker processes that build and render reports (`callcenter.offload`)
CPU_POOL: web.AppKey[CpuPool] = web.AppKey("cpu_pool")
#: how late the event loop runs (`callcenter.looplag`)
LOOP_LAG: web.AppKey[LoopLag] = web.AppKey("loop_lag")
#: what only the telephony owner runs: FastAGI, AMI, the dialer (`callcenter.owner`)
OWNER_CONTEXTS: web.AppKey[list[OwnerContext]] = web.AppKey("owner_contexts")
#: the Twilio webhooks' state: driver, database (`callcenter.telephony.twilio.webhooks`)
TWILIO_CHANNEL: web.AppKey[TwilioChannel] = web.AppKey("twilio_channel")
#: `/api/openapi.json`, made by its first request (`callcenter.web.api.openapi`)
OPENAPI_DOCUMENT: web.AppKey[dict[str, bytes]] = web.AppKey("openapi_document")

# -- the services, each set by the context that starts it ------------------------------------
#: this process's telephony-owner election (`callcenter.owner`)
OWNER: web.AppKey[Ownership] = web.AppKey("owner")
#: the IVR fast path's store on PostgreSQL (`callcenter.app.turn_store_ctx`)
TURN_STORE: web.AppKey[TurnStore] = web.AppKey("ivr_turn_store")
#: screen-pop and agent availability (`callcenter.screenpop`)
SCREENPOP: web.AppKey[ScreenPop] = web.AppKey("screenpop")
AVAILABILITY: web.AppKey[AgentAvailability] = web.AppKey("agent_availability")
#: the wallboard's feed (`callcenter.wallboard`)
WALLBOARD: web.AppKey[WallboardFeed] = web.AppKey("wallboard")
#: Asterisk, in the telephony owner (`callcenter.telephony.asterisk.setup`)
FASTAGI: web.AppKey[FastAgiServer] = web.AppKey("fastagi")
AMI: web.AppKey[AmiClient] = web.AppKey("ami")
CALL_LOG: web.AppKey[AmiCallLog] = web.AppKey("ami_call_log")
ASTERISK_DIALER: web.AppKey[AsteriskDialer] = web.AppKey("asterisk_dialer")
QUEUE_MEMBERS: web.AppKey[QueueMembers] = web.AppKey("asterisk_queue_members")
#: the callback dispatcher, in the telephony owner (`callcenter.callbacks.feature`)
DISPATCHER: web.AppKey[Dispatcher] = web.AppKey("callback_dispatcher")
