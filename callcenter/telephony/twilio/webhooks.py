"""Twilio voice webhooks: thin handlers between signed requests and the hotline driver.

Routes (all POST, all signed, see `signature`):
- ``/twilio/voice``: an incoming call. Logs the call, starts its IVR session,
  answers with TwiML.
- ``/twilio/gather?v=N`` and ``/twilio/record?v=N``: the caller's keys or
  recording for IVR state version N. A retried or replayed webhook (N already
  used) gets the current step's TwiML again and changes nothing.
- ``/twilio/status[?attempt=A]``: call status callbacks (ringing,
  in-progress, completed, busy, no-answer, failed, canceled). Idempotent and
  order-proof: a final status first saves what the caller gave (partial
  complaint, incomplete survey), then settles the call's outcome once; with
  an ``attempt`` (an outbound callback call) the attempt is settled too.
- ``/twilio/dial-status``: the action of the agent ``<Dial>``/``<Enqueue>``:
  answered, abandoned, or the queue gave up.
- ``/twilio/callback-flow?flow=F&attempt=A``: an outbound callback call was
  answered; runs flow F for callback attempt A.

Guarantees: the signature is checked before anything touches the database;
every log line carries the CallSid; TwiML comes from the ``twilio`` package.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from callcenter.appkeys import AVAILABILITY, SERVICES, TWILIO_CHANNEL
from callcenter.clock import Clock
from callcenter.hotline.turns import FLOWS, HotlineDriver, Turn
from callcenter.logs import bind_call_id
from callcenter.settings import Settings
from callcenter.storage import segments
from callcenter.storage.engine import Database
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.telephony.twilio import twiml
from callcenter.telephony.twilio.signature import verified_form
from callcenter.web.errors import BadRequest
from crm.calls import FINAL_STATUSES, CallRecord, status_rank
from crm.enums import CallDisposition, Carrier, DialOutcome, Direction
from crm.services import calls as call_log
from ivr import events as ev

log = logging.getLogger(__name__)
CARRIER = Carrier.TWILIO
CALLBACK_FLOW_PATH = "/twilio/callback-flow"
_STALE_RETRIES = 3
ANSWERED_DIAL = frozenset({"completed", "answered"})
ANSWERED_QUEUE = frozenset({"bridged", "bridging-in-process"})
ABANDONED_DIAL = frozenset({"canceled"})
ABANDONED_QUEUE = frozenset({"hangup", "leave"})



@dataclass
class TwilioChannel:
    """What the handlers share; the driver is attached once the database is open."""

    settings: Settings
    renderer: twiml.TwimlRenderer
    clock: Clock
    driver: HotlineDriver | None = None
    db: Database | None = None
    screen_pop: ModuleType | None = field(default=None, repr=False)
    #: the conference REST requests (`conference.ConferenceRest`), made when first needed
    rest: Any = field(default=None, repr=False)

    def hotline(self) -> HotlineDriver:
        if self.driver is None:
            raise RuntimeError("the Twilio channel is used before the app started")
        return self.driver

    def written_elsewhere(self, sid: str) -> None:
        """A handler wrote the call outside its IVR turns (`HotlineDriver.written_elsewhere`)."""
        if self.driver is not None:
            self.driver.written_elsewhere(CARRIER, sid)

    def uow(self) -> SqlUnitOfWork:
        if self.db is None:
            raise RuntimeError("the Twilio channel is used before the app started")
        return SqlUnitOfWork(self.db)



def callback_flow_url(settings: Settings, flow: str, attempt_id: str) -> str:
    """The URL to give Twilio's ``calls.create(url=...)`` for an outbound callback call."""
    query = urlencode({"flow": flow, "attempt": attempt_id})
    return twiml.public(settings, CALLBACK_FLOW_PATH) + "?" + query


def screen_pop_module() -> ModuleType | None:
    """`callcenter.screenpop` (offer_call, call_answered, call_ended) when it is installed."""
    try:
        return importlib.import_module("callcenter.screenpop")
    except ImportError:
        return None


async def _tell_screen_pop(app: web.Application, channel: TwilioChannel, name: str,
                           *args: Any) -> None:
    """Keep the agents' screens in step; the call goes on whatever happens there."""
    hook = getattr(channel.screen_pop, name, None) if channel.screen_pop is not None else None
    if hook is None:
        return
    try:
        await hook(app, *args)
    except Exception:  # the safe path: the caller is never held up by the screen-pop
        log.exception("screen pop %s failed; the call goes on without it", name)


# -- helpers ----------------------------------------------------------------------------------


def _xml(body: str) -> web.Response:
    return web.Response(text=body, content_type=twiml.CONTENT_TYPE)


def _call_sid(form: MultiDictProxy[str]) -> str:
    sid = form.get("CallSid", "")
    if not sid:
        raise BadRequest("CallSid is missing", [{"field": "CallSid", "message": "required"}])
    return sid


def _version(request: web.Request) -> int | None:
    raw = request.query.get(twiml.VERSION_PARAM)
    # ASCII digits only: "²".isdigit() is true and int() refuses it
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        return None
    return int(raw)


def _float(form: MultiDictProxy[str], name: str) -> float | None:
    raw = form.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number", [{"field": name, "message": "not a number"}]) \
            from None


async def _signed(request: web.Request) -> tuple[TwilioChannel, MultiDictProxy[str]]:
    channel = request.app[TWILIO_CHANNEL]
    return channel, await verified_form(request, channel.settings)


async def _feed(channel: TwilioChannel, sid: str, event: ev.Event, version: int | None) -> Turn:
    """Feed one caller event; a concurrent duplicate loses the race and gets the replay."""
    driver = channel.hotline()
    for _ in range(_STALE_RETRIES if version is not None else 1):
        try:
            return await driver.feed(CARRIER, sid, event, expected_version=version)
        except call_log.StaleIvrState:
            log.info("IVR state moved on under this webhook; answering with the current step")
    return await driver.feed(CARRIER, sid, event, expected_version=version)


async def _answer_turn(request: web.Request, channel: TwilioChannel, sid: str,
                       form: MultiDictProxy[str], turn: Turn) -> web.Response:
    clients: tuple[str, ...] = ()
    if turn.transfer is not None:
        if channel.settings.route_to_ready_agents:  # ring the agents who are ready, not a group
            availability = request.app[SERVICES].get(AVAILABILITY)
            clients = availability.ready_clients if availability is not None else ()
        if not turn.replayed:
            if channel.db is not None:  # the call's first queue segment
                entered = turn.call.queued_at if turn.call is not None else None
                await segments.enter_queue(channel.db, turn.call_id, turn.transfer.queue,
                                           entered or channel.clock())
            await _offer_to_agents(request.app, channel, sid, form, turn)
    return _xml(channel.renderer.turn(turn, clients, sid))


async def _offer_to_agents(app: web.Application, channel: TwilioChannel, sid: str,
                           form: MultiDictProxy[str], turn: Turn) -> None:
    """Pop the caller's card on the agents' screens; the transfer goes on whatever happens."""
    if channel.screen_pop is None or turn.transfer is None:
        return
    outbound = form.get("Direction", "inbound").startswith("outbound")
    offer = channel.screen_pop.CallOffer(
        carrier=CARRIER.value, carrier_call_id=sid,
        caller_number=form.get("To" if outbound else "From", ""),
        agent=channel.settings.twilio_agent_dial, queue=turn.transfer.queue,
        ivr_path=turn.transfer.path or None, at=channel.clock(),
    )
    await _tell_screen_pop(app, channel, "offer_call", offer)


# -- handlers ---------------------------------------------------------------------------------


async def voice(request: web.Request) -> web.Response:
    channel, form = await _signed(request)
    sid = _call_sid(form)
    with bind_call_id(sid):
        turn = await channel.hotline().begin(
            CARRIER, sid, from_number=form.get("From"), to_number=form.get("To"))
        return await _answer_turn(request, channel, sid, form, turn)


async def gather(request: web.Request) -> web.Response:
    channel, form = await _signed(request)
    sid = _call_sid(form)
    with bind_call_id(sid):
        speech = form.get("SpeechResult")
        event: ev.Event = ev.Speech(speech) if speech else ev.Digits(form.get("Digits", ""))
        turn = await _feed(channel, sid, event, _version(request))
        return await _answer_turn(request, channel, sid, form, turn)


async def record(request: web.Request) -> web.Response:
    """``<Record action>`` (with RecordingUrl) or the ``<Redirect>`` after a silent one (without)."""
    channel, form = await _signed(request)
    sid = _call_sid(form)
    with bind_call_id(sid):
        url = form.get("RecordingUrl", "")
        duration = _float(form, "RecordingDuration") if url else None
        event = ev.RecordingDone(url, int(duration or 0))
        turn = await _feed(channel, sid, event, _version(request))
        return await _answer_turn(request, channel, sid, form, turn)


async def status(request: web.Request) -> web.Response:
    channel, form = await _signed(request)
    sid = _call_sid(form)
    with bind_call_id(sid):
        call_status = form.get("CallStatus", "")
        status_rank(call_status)  # UnknownCarrierStatus -> 422 before any write
        duration = _float(form, "CallDuration")
        attempt = request.query.get("attempt") or None
        call: CallRecord | None = None
        try:
            call = await _carrier_status(channel, sid, call_status, duration)
        except call_log.UnknownCall:
            if attempt is None:
                raise
            log.info("callback attempt ended before its call was answered", extra={
                "attempt": attempt, "status": call_status})
        if attempt is not None:  # an outbound callback call: the attempt's outcome
            from callcenter.callbacks.config import retry_policy
            from callcenter.telephony.twilio.rest import settle_from_status

            await settle_from_status(attempt, call_status, sid, channel.uow, channel.clock,
                                     policy=retry_policy(channel.settings))
        if call_status in FINAL_STATUSES and call is not None and call.queued_at is not None \
                and channel.db is not None:  # the queue segment the caller was in closes
            await segments.end_segments(channel.db, call.id, call.ended_at or channel.clock())
        if call_status in FINAL_STATUSES and _may_be_on_a_screen(call):
            await _tell_screen_pop(request.app, channel, "call_ended", CARRIER.value, sid)
        return _xml(twiml.empty())


def _may_be_on_a_screen(call: CallRecord | None) -> bool:
    """Agents' screens only ever show a call handed to them (queued or taken by an agent):
    a call that ended in the IVR needs no screen-pop look-up."""
    return call is None or call.queued_at is not None or call.agent_id is not None


async def _carrier_status(channel: TwilioChannel, sid: str, call_status: str,
                          duration: float | None) -> CallRecord:
    """One transaction: a final status first feeds the session its hang-up (partial
    data kept), then the status settles the call."""
    driver = channel.hotline()
    for _ in range(_STALE_RETRIES):
        try:
            return await driver.carrier_status(CARRIER, sid, call_status, duration_s=duration)
        except call_log.StaleIvrState:
            log.info("a webhook advanced the call during its hang-up; retrying")
    return await driver.carrier_status(CARRIER, sid, call_status, duration_s=duration)


async def dial_status(request: web.Request) -> web.Response:
    """The agent leg is over: answered, abandoned by the caller, or the queue gave up.

    ``?queue=Q`` names the queue of that hand-off: the action of a queue the caller
    has since been moved out of (an agent's transfer) changes nothing. Through a
    conference, ``answered`` only says the caller got into it: whether an agent took
    them is the conference's record (their join answered the call and the segment)."""
    channel, form = await _signed(request)
    sid = _call_sid(form)
    with bind_call_id(sid):
        dial = form.get("DialCallStatus", "")
        queue_result = form.get("QueueResult", "")
        now = channel.clock()
        channel.written_elsewhere(sid)  # answered or ended here, not by a turn
        call = await call_log.get_call(CARRIER.value, sid, channel.uow())
        queue = request.query.get("queue") or call.queue or ""
        latest = await segments.latest(channel.db, call.id) if channel.db is not None else None
        if latest is not None and latest.queue != queue:
            log.info("action of queue %s after the caller moved to %s: ignored", queue, latest.queue)
            return _xml(twiml.empty())
        in_conference = channel.renderer.conferences and "queue" in request.query
        if in_conference and dial in ANSWERED_DIAL:
            taken = latest.answered_at is not None if latest is not None else \
                call.answered_at is not None
            dial = "completed" if taken else "canceled"  # left the conference before an agent came
            if taken:
                await _tell_screen_pop(request.app, channel, "call_ended", CARRIER.value, sid)
                return _xml(twiml.hang_up())
        if dial in ANSWERED_DIAL or queue_result in ANSWERED_QUEUE:
            talk = _float(form, "DialCallDuration") or 0.0
            answered = now - timedelta(seconds=talk)
            if call.queued_at is not None and queue_result:
                answered = call.queued_at + timedelta(seconds=_float(form, "QueueTime") or 0.0)
            await call_log.mark_answered(call.id, answered, None, channel.uow())
            if channel.db is not None:
                await segments.answer_in_queue(channel.db, call.id, queue, answered, None)
            agent = channel.settings.twilio_agent_dial
            await _tell_screen_pop(request.app, channel, "call_answered", CARRIER.value, sid, agent)
            await _tell_screen_pop(request.app, channel, "call_ended", CARRIER.value, sid)
            return _xml(twiml.hang_up())
        language = call.language or channel.settings.language
        if dial in ABANDONED_DIAL or queue_result in ABANDONED_QUEUE:
            if channel.db is not None:
                await segments.leave_queue(channel.db, call.id, queue, now, abandoned=True)
            await call_log.end_call(call.id, now, channel.uow())  # queued, unanswered: abandoned
            await _tell_screen_pop(request.app, channel, "call_ended", CARRIER.value, sid)
            return _xml(twiml.empty())
        gave_up = CallDisposition.OVERFLOW if queue_result == "queue-full" else CallDisposition.TIMEOUT
        log.info("agents did not take the call", extra={"dial": dial, "queue": queue_result})
        if channel.db is not None:
            await segments.leave_queue(channel.db, call.id, queue, now, abandoned=False)
        await call_log.end_call(call.id, now, channel.uow(), disposition=gave_up)
        await _tell_screen_pop(request.app, channel, "call_ended", CARRIER.value, sid)
        return _xml(channel.renderer.goodbye(language))


async def callback_flow(request: web.Request) -> web.Response:
    """An outbound callback call was answered: run the flow named in the URL."""
    channel, form = await _signed(request)
    sid = _call_sid(form)
    # no flow named: the driver plays the callback's own flow (never the inbound menu)
    flow = request.query.get("flow") or None
    if flow is not None and flow not in FLOWS:
        raise BadRequest(f"unknown IVR flow {flow!r}; one of {', '.join(FLOWS)}",
                         [{"field": "flow", "message": "unknown flow"}])
    attempt = request.query.get("attempt") or None
    with bind_call_id(sid):
        if attempt is not None:  # Twilio asks for the flow when the callee answers
            from crm.services.callbacks import UnknownCallback, record_dial_result

            try:
                await record_dial_result(attempt, DialOutcome.ANSWERED, sid, channel.uow(),
                                         channel.clock)
            except UnknownCallback:  # the callee is on the line: run the flow all the same
                log.warning("answered call for an unknown callback attempt", extra={"attempt": attempt})
        turn = await channel.hotline().begin(
            CARRIER, sid, from_number=form.get("From"), to_number=form.get("To"), flow=flow,
            callback_attempt_id=attempt, direction=Direction.OUTBOUND,
        )
        # Twilio fetches the flow only once the callee has answered
        await call_log.mark_answered(turn.call_id, channel.clock(), None, channel.uow())
        channel.written_elsewhere(sid)
        return await _answer_turn(request, channel, sid, form, turn)


ROUTES: tuple[tuple[str, Callable[[web.Request], Awaitable[web.Response]]], ...] = (
    ("/twilio/voice", voice),
    (twiml.GATHER_PATH, gather),
    (twiml.RECORD_PATH, record),
    ("/twilio/status", status),
    (twiml.DIAL_STATUS_PATH, dial_status),
    (CALLBACK_FLOW_PATH, callback_flow),
)
