"""The Twilio `Dialer` for callbacks: calls.create out, calls.fetch / calls.list to reconcile.

Guarantees (the `crm.services.callback_ports.Dialer` contract):
- Our attempt id rides in the answer URL (`/twilio/callback-flow?attempt=`)
  and the status callback URL (`/twilio/status?attempt=`), so every webhook
  of the call names the attempt.
- `dial` raises `DialRejected` only on a 4xx answer other than 429 (Twilio
  refused the request: no call exists). A 5xx, 429 or network error may have
  placed the call: it propagates and the dispatcher reconciles later.
- `lookup` fetches the call by its CallSid when we stored it, else lists the
  calls to the number from our caller id started since the attempt (the Call
  resource does not echo our URL); `None` when Twilio has no such call.
- Every REST request gives up after `REST_TIMEOUT_S` (connect, and each read)
  and runs in the dialer's own `REST_THREADS` threads (`callcenter.offload.
  IoThreads`): a carrier that stops answering fails the dial (reconciled
  later), never holds a thread for good nor the loop's default executor.
- The REST base URL is `settings.twilio_api_base_url`: `base_url_http_client`
  rewrites every `https://*.twilio.com` request to it (a mock in tests, the
  real API by default, where it changes nothing).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from twilio.base.exceptions import TwilioRestException

from callcenter.offload import IoThreads
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.telephony.twilio.webhooks import callback_flow_url
from crm.callbacks import RetryPolicy
from crm.enums import Carrier, DialOutcome
from crm.phones import mask_phone
from crm.services.callback_ports import (
    DialLookup,
    DialRejected,
    DialRequest,
    DialStarted,
    PlacedAttempt,
)
from crm.services.callbacks import record_call_ended, record_dial_result

if TYPE_CHECKING:
    from twilio.http.http_client import TwilioHttpClient
    from twilio.http.response import Response
    from twilio.rest import Client

log = logging.getLogger(__name__)
REST_TIMEOUT_S = 15.0
REST_THREADS = 8
TWILIO_HOST = re.compile(r"^https://[a-z0-9.-]*\.twilio\.com")

# Twilio call status -> (outcome, ended); outcome None while it rings
STATUSES: dict[str, tuple[DialOutcome | None, bool]] = {
    "queued": (None, False),
    "initiated": (None, False),
    "ringing": (None, False),
    "in-progress": (DialOutcome.ANSWERED, False),
    "completed": (DialOutcome.ANSWERED, True),
    "busy": (DialOutcome.BUSY, True),
    "no-answer": (DialOutcome.NO_ANSWER, True),
    "failed": (DialOutcome.FAILED, True),
    "canceled": (DialOutcome.FAILED, True),
}


def lookup_of(status: str, sid: str | None) -> DialLookup:
    outcome, ended = STATUSES.get(status, (DialOutcome.FAILED, True))
    return DialLookup(sid, outcome, ended)


def base_url_http_client(base_url: str, **kwargs: Any) -> TwilioHttpClient:
    """An HTTP client that sends every Twilio REST request to `base_url` instead of
    https://*.twilio.com."""
    from twilio.http.http_client import TwilioHttpClient

    class BaseUrlHttpClient(TwilioHttpClient):
        def __init__(self, base_url: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.base_url = base_url.rstrip("/")

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
            return super().request(method, TWILIO_HOST.sub(self.base_url, url), *args, **kwargs)

    return BaseUrlHttpClient(base_url, **kwargs)


def make_client(settings: Settings) -> Client:
    # the REST client (and `requests` under it) loads with the first REST call, not with
    # every worker: a webhook-only worker stays ~15 MB smaller
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    # the library's own client waits for ever (timeout None): a hung carrier held a thread for good
    http = TwilioHttpClient(timeout=REST_TIMEOUT_S)
    if not TWILIO_HOST.match(settings.twilio_api_base_url):
        http = base_url_http_client(settings.twilio_api_base_url, timeout=REST_TIMEOUT_S)
    return Client(settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(),
                  http_client=http)


def status_callback_url(settings: Settings, attempt_id: str) -> str:
    return settings.public_base_url.rstrip("/") + "/twilio/status?" + urlencode(
        {"attempt": attempt_id})


class TwilioDialer:
    carrier: str = Carrier.TWILIO

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self.client = client or make_client(settings)
        self.threads = IoThreads("twilio-dial", REST_THREADS)

    async def dial(self, req: DialRequest) -> DialStarted:
        caller_id = req.caller_id or self.settings.twilio_caller_id
        try:
            call = await self.threads.run(
                self.client.calls.create, to=req.number, from_=caller_id,
                url=callback_flow_url(self.settings, req.flow, req.attempt_id),
                # Only the final status (completed, busy, no-answer, failed, canceled): the
                # answer itself is the request to `url`. (Repeated StatusCallbackEvent keys
                # are valid for Twilio but Prism reads them as one value: prism#2473.)
                status_callback=status_callback_url(self.settings, req.attempt_id),
                status_callback_method="POST",
                timeout=req.timeout_s,
            )
        except TwilioRestException as exc:
            if 400 <= exc.status < 500 and exc.status != 429:
                raise DialRejected(f"Twilio refused the call ({exc.status}): {exc.msg}") from exc
            raise
        log.info("callback %s dialled %s via Twilio: %s", req.callback_id,
                 mask_phone(req.number), call.sid)
        return DialStarted(self.carrier, call.sid)

    async def lookup(self, attempt: PlacedAttempt) -> DialLookup | None:
        if attempt.carrier_call_id:
            try:
                call = await self.threads.run(self.client.calls(attempt.carrier_call_id).fetch)
            except TwilioRestException as exc:
                if exc.status == 404:
                    return None
                raise
            return lookup_of(str(call.status), call.sid)
        since = attempt.started_at - timedelta(minutes=1)
        calls = await self.threads.run(
            self.client.calls.list, to=attempt.number,
            from_=self.settings.twilio_caller_id or None, start_time_after=since, limit=20)
        ours = [c for c in calls if _started(c) is None or _started(c) >= since]  # type: ignore[operator]
        if not ours:
            return None
        first = min(ours, key=lambda c: _started(c) or attempt.started_at)
        return lookup_of(str(first.status), first.sid)


def _started(call: Any) -> datetime | None:
    return call.start_time or call.date_created  # type: ignore[no-any-return]


async def settle_from_status(
    attempt_id: str, call_status: str, call_sid: str | None, uow_factory: Callable[[], Any],
    clock: Callable[[], datetime], policy: RetryPolicy | None = None,
) -> None:
    """A status callback of an outbound callback call -> the callback use cases (idempotent)."""
    found = lookup_of(call_status, call_sid)
    if found.outcome is None:
        return
    if found.outcome is not DialOutcome.ANSWERED or not found.ended:
        await record_dial_result(attempt_id, found.outcome, call_sid, uow_factory(), clock,
                                 policy)
    if found.outcome is DialOutcome.ANSWERED and found.ended:
        await record_call_ended(attempt_id, uow_factory(), clock)


def from_settings(settings: Settings, db: Database | None = None,
                  worker: str | None = None) -> TwilioDialer:
    """Factory for `python -m callcenter.callbacks --dialer callcenter.telephony.twilio.rest:from_settings`."""
    return TwilioDialer(settings)


def uow_factory(db: Database) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(db)
