"""Callers meet agents in a conference on Twilio: ring, answer, hold, transfer to a queue.

Why a conference: a caller bridged straight to an agent (``<Dial><Client>``)
cannot be put on hold by the app. In a conference the app can hold the
caller's leg over REST (the caller hears our hold music) and Twilio reports
the hold back as an event, so the hold time is what really happened.

The life of one queue visit (the conference ``<call sid>~<queue>``):

1. The IVR hands the caller to agents: the caller's TwiML is
   ``<Dial action=/twilio/dial-status?queue=Q><Conference ...>`` (see
   `twiml`); they wait with the hold music (``/twilio/hold-music``).
2. ``participant-join`` of the caller (``/twilio/conference``): the app rings
   the agents who are ready (``ROUTE_TO_READY_AGENTS``; else the configured
   client identity) into that conference, one REST Participants create each,
   labelled ``agent:<identity>``. Nobody to ring, or no ring placed: the
   caller is told goodbye (REST call update) and the queue gave up on them.
3. ``participant-join`` of an agent: the call and its queue segment are
   answered by that agent, the agent's screen goes on call, the other legs
   are cancelled and the agent's leg now ends the conference when it leaves.
   A second agent who got in anyway is taken out again.
4. Hold / Resume on the agent page: REST Participants update of the caller's
   leg (``Hold=true`` with ``HoldUrl``, ``Hold=false``); the
   ``participant-hold`` / ``participant-unhold`` events put the agent's state
   on hold / back on call, and the span's length becomes the call's hold time.
5. Transfer to another queue: the caller's call is redirected (REST call
   update) to ``/twilio/requeue?queue=B``, which closes the queue A segment as
   transferred, opens B's and puts the caller in B's conference (back to 1).
6. Every agent leg reports its end (``/twilio/agent-leg``): when no leg of
   the current queue is left ringing and none answered, the caller is told
   goodbye and the segment times out.

Guarantees: every webhook is signed (`signature`) and idempotent (the
conference, each leg and the answer are call events with dedupe keys;
segments ignore replays); an event of a queue the caller has since left
changes nothing; a REST failure is logged with the call id and never loses
what was recorded before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException

from callcenter.appkeys import AVAILABILITY, SCREENPOP, SERVICES, TWILIO_CHANNEL
from callcenter.logs import bind_call_id
from callcenter.offload import IoThreads
from callcenter.screenpop.availability import MAX_CLIENTS
from callcenter.settings import Settings
from callcenter.storage import segments
from callcenter.storage.tables import Staff
from callcenter.telephony.twilio import twiml
from callcenter.telephony.twilio.webhooks import (
    CARRIER,
    TwilioChannel,
    _call_sid,
    _signed,
    _tell_screen_pop,
    _xml,
)
from crm.agent_states import InvalidAgentState
from crm.calls import CallRecord
from crm.enums import CallDisposition
from crm.services import calls as call_log

if TYPE_CHECKING:
    from twilio.rest import Client


log = logging.getLogger(__name__)
RING_S = 30  # seconds an agent's phone rings before the leg gives up
CONFERENCE_EVENT, LEG_EVENT, LEG_END_EVENT, JOINED_EVENT = (
    "conference", "agent_leg", "agent_leg_end", "agent_joined")
AGENT_LABEL = "agent:"
LEG_OVER = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


class CarrierRefused(RuntimeError):
    """Twilio refused or did not answer what the agent page asked (the call is unchanged)."""

    http_status = 502


class ConferenceRest:
    """The REST requests of the conference flow, on the official client (`rest.make_client`:
    ``TWILIO_API_BASE_URL``), each in a worker thread."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self._client = client
        # its own threads: every ready agent (a dial rings at most MAX_CLIENTS) rung at once,
        # not queued behind the default pool's few workers
        self._pool = IoThreads("twilio-rest", MAX_CLIENTS)

    @property
    def client(self) -> Client:
        if self._client is None:
            from callcenter.telephony.twilio.rest import make_client

            self._client = make_client(self.settings)
        return self._client

    def close(self) -> None:
        self._pool.close()

    async def _run(self, fn: Callable[..., Any], **kwargs: Any) -> Any:
        return await self._pool.run(fn, **kwargs)

    async def ring(self, conference_sid: str, from_: str, identity: str, status_callback: str) -> str:
        """Ring the agent `identity` into the conference; the new leg's CallSid."""
        participant = await self._run(
            self.client.conferences(conference_sid).participants.create,
            from_=from_, to=f"client:{identity}", label=AGENT_LABEL + identity, timeout=RING_S,
            beep="false", start_conference_on_enter=True, end_conference_on_exit=False,
            early_media=False, status_callback=status_callback, status_callback_method="POST")
        return str(participant.call_sid)

    async def hold(self, conference_sid: str, call_sid: str, on_hold: bool) -> None:
        participant = self.client.conferences(conference_sid).participants(call_sid)
        if on_hold:
            await self._run(participant.update, hold=True, hold_method="POST",
                            hold_url=twiml.public(self.settings, twiml.HOLD_MUSIC_PATH))
        else:
            await self._run(participant.update, hold=False)

    async def end_with(self, conference_sid: str, call_sid: str) -> None:
        """The conference ends when this participant (the answering agent) leaves."""
        await self._run(self.client.conferences(conference_sid).participants(call_sid).update,
                        end_conference_on_exit=True)

    async def remove(self, conference_sid: str, call_sid: str) -> None:
        await self._run(self.client.conferences(conference_sid).participants(call_sid).delete)

    async def cancel(self, call_sid: str) -> None:
        await self._run(self.client.calls(call_sid).update, status="canceled")

    async def redirect(self, call_sid: str, url: str) -> None:
        await self._run(self.client.calls(call_sid).update, url=url, method="POST")

    async def play(self, call_sid: str, document: str) -> None:
        await self._run(self.client.calls(call_sid).update, twiml=document)


def rest_of(channel: TwilioChannel) -> ConferenceRest:
    if channel.rest is None:
        channel.rest = ConferenceRest(channel.settings)
    return channel.rest  # type: ignore[no-any-return]


# -- what the call's events say about its conferences ------------------------------------------


@dataclass(frozen=True)
class Leg:
    identity: str
    call_sid: str
    queue: str
    conference_sid: str


@dataclass
class Conferences:
    """The call's conferences as its timeline records them (oldest first)."""

    rooms: list[tuple[str, str]]  # (conference sid, queue)
    legs: list[Leg]
    ended_legs: set[str]  # identities whose leg ended, keyed "<conference sid>/<identity>"
    joined: dict[str, str]  # conference sid -> the answering agent's CallSid

    def room_of(self, queue: str) -> str | None:
        found = [sid for sid, q in self.rooms if q == queue]
        return found[-1] if found else None


async def conferences_of(channel: TwilioChannel, call_id: int) -> Conferences:
    async with channel.uow() as uow:
        events = await uow.calls.events(call_id)
    found = Conferences([], [], set(), {})
    for event in events:
        d = event.detail or {}
        if event.kind == CONFERENCE_EVENT:
            found.rooms.append((d["conference_sid"], d["queue"]))
        elif event.kind == LEG_EVENT:
            found.legs.append(Leg(d["identity"], d.get("call_sid", ""), d["queue"],
                                  d["conference_sid"]))
        elif event.kind == LEG_END_EVENT:
            found.ended_legs.add(f"{d['conference_sid']}/{d['identity']}")
        elif event.kind == JOINED_EVENT:
            found.joined[d["conference_sid"]] = d["call_sid"]
    return found


async def _record(channel: TwilioChannel, call_id: int, event: call_log.CallEventIn) -> bool:
    """Store one timeline event; False when it was stored before (a replayed webhook)."""
    async with channel.uow() as uow:
        stored = await uow.calls.add_events(call_id, [event])
        await uow.commit()
    return bool(stored)


def _at(channel: TwilioChannel, form: Any) -> datetime:
    """The event's own time (Twilio's ``Timestamp``, RFC 2822), else now."""
    raw = form.get("Timestamp") or ""
    try:
        when = parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError):
        when = None
    if when is None or when.tzinfo is None:
        return channel.clock()
    return when.astimezone(UTC)


async def _staff_id(channel: TwilioChannel, username: str) -> int | None:
    if not username or channel.db is None:
        return None
    async with channel.db.sessions() as session:
        found = await session.scalar(select(Staff.id).where(Staff.username == username,
                                                            Staff.active.is_(True)))
    return None if found is None else int(found)


def _is_current(latest: Any, queue: str) -> bool:
    """The caller is (still) in `queue`: its segment is the latest and still open."""
    return latest is not None and latest.queue == queue and latest.outcome == segments.OPEN


# -- the conference's events --------------------------------------------------------------------


async def conference_event(request: web.Request) -> web.Response:
    """``/twilio/conference?call=&queue=``: the conference's status callback."""
    channel, form = await _signed(request)
    call_sid = request.query.get("call") or form.get("FriendlyName", "").partition("~")[0]
    queue = request.query.get("queue", "")
    with bind_call_id(call_sid):
        call = await call_log.get_call(CARRIER.value, call_sid, channel.uow())  # 404: unknown
        kind = form.get("StatusCallbackEvent", "")
        participant = form.get("CallSid", "")
        conference_sid = form.get("ConferenceSid", "")
        at = _at(channel, form)
        if kind == "participant-join" and participant == call_sid:
            ring = tuple(i for i in request.query.getall("ring", []) if i)
            await _caller_joined(request.app, channel, call, conference_sid, queue, ring, at)
        elif kind == "participant-join" and participant:
            label = form.get("ParticipantLabel", "")
            await _agent_joined(request.app, channel, call, conference_sid, queue, participant,
                                label.removeprefix(AGENT_LABEL) if label.startswith(AGENT_LABEL)
                                else "", at)
        elif kind in ("participant-hold", "participant-unhold") and participant == call_sid:
            await _tell_screen_pop(request.app, channel, "call_held", CARRIER.value, call_sid,
                                   kind == "participant-hold", at)
        else:
            log.info("conference event", extra={"event": kind, "queue": queue})
        return _xml(twiml.empty())


async def _caller_joined(app: web.Application, channel: TwilioChannel, call: CallRecord,
                         conference_sid: str, queue: str, ring: tuple[str, ...],
                         at: datetime) -> None:
    """The caller waits in the conference: ring the agents into it (`ring`: those who were
    ready when the caller was handed over; they show the call as ringing by now)."""
    first = await _record(channel, call.id, call_log.CallEventIn(
        at, CONFERENCE_EVENT, detail={"conference_sid": conference_sid, "queue": queue},
        dedupe_key=f"conference:{conference_sid}"))
    if not first or call.ended_at is not None:
        return
    settings = channel.settings
    identities = ring if settings.route_to_ready_agents else (channel.renderer.transfer_to.address,)
    rest = rest_of(channel)
    callback = twiml.with_query(twiml.public(settings, twiml.AGENT_LEG_PATH),
                                call=call.carrier_call_id, queue=queue)
    caller_id = call.from_number if (call.from_number or "").startswith("+") else \
        (settings.twilio_caller_id or call.to_number or "")
    # every agent at once (one REST request each, side by side): the first to pick up has the caller
    placed = await asyncio.gather(*(
        rest.ring(conference_sid, caller_id, identity, twiml.with_query(callback, agent=identity))
        for identity in identities), return_exceptions=True)
    rung = 0
    for identity, leg_sid in zip(identities, placed, strict=True):
        if isinstance(leg_sid, BaseException):  # this agent is not rung; the others may be
            log.error("could not ring agent %s into the conference: %r", identity, leg_sid)
            continue
        rung += 1
        await _record(channel, call.id, call_log.CallEventIn(
            at, LEG_EVENT, detail={"identity": identity, "call_sid": leg_sid, "queue": queue,
                                   "conference_sid": conference_sid},
            dedupe_key=f"leg:{conference_sid}/{identity}"))
    if not rung:
        log.warning("nobody could be rung for the caller in queue %s", queue)
        await _nobody_took(app, channel, call, queue, at)


async def _agent_joined(app: web.Application, channel: TwilioChannel, call: CallRecord,
                        conference_sid: str, queue: str, participant: str, identity: str,
                        at: datetime) -> None:
    """An agent picked up: they have the caller; nobody else rings on."""
    rest = rest_of(channel)
    rooms = await conferences_of(channel, call.id)
    leg = next((g for g in rooms.legs if g.conference_sid == conference_sid and
                (g.identity == identity or g.call_sid == participant)), None)
    identity = identity or (leg.identity if leg is not None else "")
    first = await _record(channel, call.id, call_log.CallEventIn(
        at, JOINED_EVENT, detail={"conference_sid": conference_sid, "call_sid": participant,
                                  "identity": identity, "queue": queue},
        dedupe_key=f"joined:{conference_sid}"))
    if not first:
        rooms = await conferences_of(channel, call.id)  # as stored now: who got in first
        if rooms.joined.get(conference_sid) not in (None, participant):  # a second agent got in
            try:
                await rest.remove(conference_sid, participant)
            except Exception:
                log.exception("could not take a second agent out of the conference")
        return
    agent_id = await _staff_id(channel, identity)
    await call_log.mark_answered(call.id, at, agent_id, channel.uow())
    channel.written_elsewhere(call.carrier_call_id)
    if channel.db is not None:
        await segments.answer_in_queue(channel.db, call.id, queue, at, agent_id)
    await _tell_screen_pop(app, channel, "call_answered", CARRIER.value, call.carrier_call_id,
                           f"client:{identity}")
    try:
        await rest.end_with(conference_sid, participant)
    except Exception:
        log.exception("could not make the agent's leg end the conference")
    for other in rooms.legs:
        if other.conference_sid != conference_sid or other.identity == identity:
            continue
        if f"{conference_sid}/{other.identity}" not in rooms.ended_legs:
            try:
                await rest.cancel(other.call_sid)
            except TwilioRestException as exc:  # it ended meanwhile
                log.info("agent leg %s not cancelled: %s", other.identity, exc.msg)
            except Exception:
                log.exception("could not cancel agent leg %s", other.identity)
        await _tell_screen_pop(app, channel, "call_ended", CARRIER.value, call.carrier_call_id,
                               f"client:{other.identity}")


async def _nobody_took(app: web.Application, channel: TwilioChannel, call: CallRecord,
                       queue: str, at: datetime) -> None:
    """No agent can take the caller in `queue`: the queue gives up, the caller hears goodbye."""
    if channel.db is not None:
        await segments.leave_queue(channel.db, call.id, queue, at, abandoned=False)
    await call_log.end_call(call.id, at, channel.uow(), disposition=CallDisposition.TIMEOUT)
    await _tell_screen_pop(app, channel, "call_ended", CARRIER.value, call.carrier_call_id)
    try:
        await rest_of(channel).play(call.carrier_call_id, channel.renderer.goodbye(
            call.language or channel.settings.language))
    except Exception:
        log.exception("could not tell the waiting caller goodbye")


async def agent_leg(request: web.Request) -> web.Response:
    """``/twilio/agent-leg?call=&queue=&agent=``: status callback of a leg we rang."""
    channel, form = await _signed(request)
    call_sid = request.query.get("call", "")
    queue, identity = request.query.get("queue", ""), request.query.get("agent", "")
    with bind_call_id(call_sid):
        status = form.get("CallStatus", "")
        if status not in LEG_OVER:
            return _xml(twiml.empty())
        call = await call_log.get_call(CARRIER.value, call_sid, channel.uow())
        at = channel.clock()
        rooms = await conferences_of(channel, call.id)
        conference_sid = rooms.room_of(queue) or ""
        await _record(channel, call.id, call_log.CallEventIn(
            at, LEG_END_EVENT, detail={"identity": identity, "status": status,
                                       "conference_sid": conference_sid, "queue": queue},
            dedupe_key=f"leg-end:{conference_sid}/{identity}"))
        if status != "completed":  # rang out: that agent's pop goes
            await _tell_screen_pop(request.app, channel, "call_ended", CARRIER.value, call_sid,
                                   f"client:{identity}")
        latest = await segments.latest(channel.db, call.id) if channel.db is not None else None
        if call.ended_at is not None or not _is_current(latest, queue) or \
                latest.answered_at is not None or conference_sid in rooms.joined:
            return _xml(twiml.empty())
        ended = rooms.ended_legs | {f"{conference_sid}/{identity}"}
        ringing = [g for g in rooms.legs if g.conference_sid == conference_sid and
                   f"{conference_sid}/{g.identity}" not in ended]
        if not ringing:
            log.info("no agent took the caller in queue %s", queue)
            await _nobody_took(request.app, channel, call, queue, at)
        return _xml(twiml.empty())


async def hold_music(request: web.Request) -> web.Response:
    """``waitUrl`` / ``HoldUrl``: what the caller hears until an agent is with them."""
    channel, _form = await _signed(request)
    return _xml(channel.renderer.hold_music(channel.settings.language))


async def requeue(request: web.Request) -> web.Response:
    """``/twilio/requeue?queue=B``: the caller's call, redirected by an agent's transfer."""
    channel, form = await _signed(request)
    sid = _call_sid(form)
    queue = request.query.get("queue", "")
    if not queue:
        from callcenter.web.errors import BadRequest

        raise BadRequest("queue is missing", [{"field": "queue", "message": "required"}])
    with bind_call_id(sid):
        call = await call_log.get_call(CARRIER.value, sid, channel.uow())
        now = channel.clock()
        if channel.db is not None:
            latest = await segments.latest(channel.db, call.id)
            if not (_is_current(latest, queue) and latest.answered_at is None):  # not a replay
                await segments.enter_queue(channel.db, call.id, queue, now)
        availability = request.app[SERVICES].get(AVAILABILITY)  # before the pop rings them
        ready: tuple[str, ...] = availability.ready_clients if \
            channel.settings.route_to_ready_agents and availability is not None else ()
        if channel.screen_pop is not None:  # the caller's card on the ready agents' screens
            await _tell_screen_pop(request.app, channel, "offer_call", channel.screen_pop.CallOffer(
                carrier=CARRIER.value, carrier_call_id=sid, caller_number=call.from_number or "",
                agent=channel.settings.twilio_agent_dial, queue=queue, ivr_path=call.ivr_path,
                at=now))
        return _xml(channel.renderer.queue_move(sid, queue, call.language or
                                                channel.settings.language, ready))


# -- what the agent page asks of the carrier ----------------------------------------------------


class TwilioCallControl:
    """Hold and transfer for the agent page (`ScreenPop.carrier_controls["twilio"]`)."""

    def __init__(self, channel: TwilioChannel) -> None:
        self.channel = channel

    async def _room(self, carrier_call_id: str) -> tuple[CallRecord, str]:
        call = await call_log.get_call(CARRIER.value, carrier_call_id, self.channel.uow())
        rooms = await conferences_of(self.channel, call.id)
        latest = await segments.latest(self.channel.db, call.id) if self.channel.db else None
        room = rooms.room_of(latest.queue) if latest is not None else \
            (rooms.rooms[-1][0] if rooms.rooms else None)
        if room is None or call.ended_at is not None:
            raise InvalidAgentState("this call is not in a conference: hold it on the phone")
        return call, room

    async def hold(self, carrier_call_id: str, on_hold: bool) -> None:
        """Ask Twilio to hold (or resume) the caller; the recorded hold is Twilio's event."""
        _, room = await self._room(carrier_call_id)
        try:
            await rest_of(self.channel).hold(room, carrier_call_id, on_hold)
        except Exception as exc:
            log.exception("Twilio did not take the hold of call %s", carrier_call_id)
            raise CarrierRefused(f"Twilio did not take the hold: {exc}") from exc

    async def transfer(self, carrier_call_id: str, queue: str) -> None:
        """Move the caller to `queue`: Twilio fetches ``/twilio/requeue`` for their call."""
        await self._room(carrier_call_id)
        url = twiml.with_query(twiml.public(self.channel.settings, twiml.REQUEUE_PATH), queue=queue)
        try:
            await rest_of(self.channel).redirect(carrier_call_id, url)
        except Exception as exc:
            log.exception("Twilio did not take the transfer of call %s", carrier_call_id)
            raise CarrierRefused(f"Twilio did not take the transfer: {exc}") from exc


async def register_control(app: web.Application) -> None:
    """Give the screen-pop (started by now) the Twilio hold and transfer."""
    pop = app[SERVICES].get(SCREENPOP)
    if pop is not None:
        pop.carrier_controls[CARRIER.value] = TwilioCallControl(app[TWILIO_CHANNEL])


ROUTES: tuple[tuple[str, Callable[[web.Request], Awaitable[web.Response]]], ...] = (
    (twiml.CONFERENCE_PATH, conference_event),
    (twiml.AGENT_LEG_PATH, agent_leg),
    (twiml.HOLD_MUSIC_PATH, hold_music),
    (twiml.REQUEUE_PATH, requeue),
)
