"""Asterisk's own events -> the call log: one call row per Linkedid, on the customer's record.

The AMI client hands every event here in wire order (one dispatcher), so the
events of one call are processed in order. What each event does:

- Newchannel / Newstate(Up) / DialBegin / DialEnd / BridgeEnter / Hangup:
  a line on the call's timeline (deduplicated, so a replayed stream is harmless).
- QueueCallerJoin -> `mark_queued` + a queue segment (`storage.segments`: joining
  another queue closes the open one as transferred); QueueCallerLeave unanswered ->
  the segment times out; AgentCalled -> timeline + screen-pop offer;
  AgentConnect -> `mark_answered` (agent found by `staff.extension` /
  `staff.username`) + screen-pop "answered" + the segment answered; QueueCallerAbandon
  -> timeline + segment abandoned (the settled outcome is then `abandoned`).
- CEL LINKEDID_END -> the call is finalised (`end_call`, outcome settled,
  contact written, open segment closed). Hangup is *not* the end: CEL records arrive out of step
  and some after Hangup; LINKEDID_END is the reliable marker.

Guarantees:
- The call row is created (idempotently, on (asterisk, Linkedid)) as soon as
  the caller's number is known, so the customer is the same one the FastAGI
  hotline identifies; timeline lines seen before that are kept and written then.
- A call that ended while the AMI link was down is finalised by `resync`
  (CoreShowChannels snapshot): tracked calls missing from it are ended.
- Late events of a finalised call change nothing; a late Hangup still goes on
  its timeline (bounded memory of finished calls).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from callcenter.clock import Clock
from callcenter.logs import bind_call_id
from callcenter.metrics import REGISTRY
from callcenter.storage import segments
from callcenter.storage.engine import Database
from callcenter.storage.tables import Staff
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.telephony.asterisk.ami_client import AmiClient
from callcenter.telephony.asterisk.ami_protocol import AmiEvent
from crm.enums import Carrier, Direction
from crm.errors import InvalidPhoneNumber
from crm.services import calls
from crm.services.calls import CallEventIn
from crm.services.customers import identify_caller
from crm.services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
CALLS_FINALISED = REGISTRY.counter(
    "callcenter_ami_calls_finalised_total", "calls ended from AMI (how: linkedid_end | resync)"
)

CALL_LOG_EVENTS: tuple[str, ...] = (
    "Newchannel", "NewCallerid", "Newstate", "DialBegin", "DialEnd", "BridgeEnter", "Hangup",
    "CEL", "QueueCallerJoin", "QueueCallerAbandon", "QueueCallerLeave", "AgentCalled", "AgentConnect", "Hold", "Unhold",
)
_UNKNOWN = frozenset({"", "<unknown>", "unknown", "anonymous"})

OfferHook = Callable[[Any], Awaitable[None]]  # callcenter.screenpop offer_call(app, offer), app bound
AnsweredHook = Callable[[str, str, str], Awaitable[None]]  # (carrier, carrier_call_id, agent)
EndedHook = Callable[[str, datetime], Awaitable[None]]  # (linkedid, at)
HeldHook = Callable[[str, str, bool, datetime], Awaitable[None]]  # (carrier, call id, on hold, at)


@dataclass(frozen=True)
class OutboundCall:
    """What the dialer knows about a call it placed (Linkedid = our attempt id)."""

    attempt_id: str
    number: str  # the customer's number we dialled
    caller_id: str | None


@dataclass
class _Track:
    linkedid: str
    started_at: datetime
    last_seen: float  # monotonic time its latest event came off the socket
    caller: str | None = None
    exten: str | None = None
    call_id: int | None = None
    backlog: list[CallEventIn] = field(default_factory=list)


def event_time(event: AmiEvent, clock: Clock) -> datetime:
    """The event's own `Timestamp` (timestampevents=yes), else now."""
    raw = event.fields.get("Timestamp")
    if raw:
        try:
            return datetime.fromtimestamp(float(raw), UTC)
        except (ValueError, OverflowError, OSError):
            pass
    return clock()


def known_number(value: str | None) -> str | None:
    return None if value is None or value.strip().lower() in _UNKNOWN else value.strip()


async def add_timeline(call_id: int, event: CallEventIn, uow: UnitOfWork) -> bool:
    """One carrier event on the call's timeline (stored once per dedupe key)."""
    async with uow:
        added = await uow.calls.add_event(call_id, event)
        await uow.commit()
    return added


class AmiCallLog:
    """Turns the AMI event stream into call rows; attach it to an `AmiClient`."""

    def __init__(
        self, db: Database, clock: Clock, *, default_region: str = "CN",
        default_tz: str = "Asia/Shanghai", offer_call: OfferHook | None = None,
        call_answered: AnsweredHook | None = None, call_held: HeldHook | None = None,
        outbound: Callable[[str], OutboundCall | None] = lambda _lid: None,
        finished_memory: int = 10_000,
    ) -> None:
        self.db, self.clock = db, clock
        self.default_region, self.default_tz = default_region, default_tz
        self.offer_call, self.call_answered, self.call_held = offer_call, call_answered, call_held
        self.outbound = outbound
        self.ended_hooks: list[EndedHook] = []
        self._tracks: dict[str, _Track] = {}
        self._finished: OrderedDict[str, int | None] = OrderedDict()  # linkedid -> call id
        self._finished_memory = finished_memory
        self._agents: dict[str, int | None] = {}
        self._client: AmiClient | None = None

    def attach(self, client: AmiClient) -> None:
        self._client = client
        client.on_event(CALL_LOG_EVENTS, self.handle)
        client.on_resync(self.resync)

    @property
    def open_calls(self) -> list[str]:
        return list(self._tracks)

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db)

    # -- events -----------------------------------------------------------------------------

    async def handle(self, event: AmiEvent) -> None:
        linkedid = event.fields.get("Linkedid")
        if not linkedid:
            return
        with bind_call_id(linkedid):
            if linkedid in self._finished:
                await self._late(event, linkedid)
            else:
                await self._handle(event, linkedid)

    async def _late(self, event: AmiEvent, linkedid: str) -> None:
        """An event after LINKEDID_END (AMI and CEL are not in step): timeline only."""
        call_id = self._finished[linkedid]
        line = _timeline_line(event, event_time(event, self.clock), event.fields.get("Uniqueid") or "")
        if call_id is not None and line is not None and event.name == "Hangup":
            await add_timeline(call_id, line, self.uow())

    async def _handle(self, event: AmiEvent, linkedid: str) -> None:
        at = event_time(event, self.clock)
        received = self._client.delivering_received_at if self._client else time.monotonic()
        track = self._tracks.get(linkedid)
        if track is None:
            track = self._tracks[linkedid] = _Track(linkedid, at, received)
        track.last_seen = received
        f = event.fields
        uniqueid = f.get("Uniqueid") or ""
        if uniqueid == linkedid:
            track.caller = track.caller or known_number(f.get("CallerIDNum"))
            if event.name == "Newchannel":
                track.exten = known_number(f.get("Exten"))
        name = event.name
        if name == "CEL":
            await self._cel(track, event, at)
            return
        line = _timeline_line(event, at, uniqueid)
        queue_event = name.startswith(("Queue", "Agent"))
        call_id = await self._ensure_call(track, force=queue_event)
        if line is not None:
            if call_id is None:
                track.backlog.append(line)
            else:
                await add_timeline(call_id, line, self.uow())
        if call_id is None:
            return
        if name == "QueueCallerJoin":
            await calls.mark_queued(call_id, at, f.get("Queue") or "", self.uow())
            await segments.enter_queue(self.db, call_id, f.get("Queue") or "", at)
        elif name in ("QueueCallerAbandon", "QueueCallerLeave"):
            await segments.leave_queue(self.db, call_id, f.get("Queue") or "", at,
                                       abandoned=name == "QueueCallerAbandon")
        elif name == "AgentCalled":
            await self._offer(track, call_id, event, at)
        elif name == "AgentConnect":
            agent = f.get("Interface") or f.get("MemberName") or ""
            agent_id = await self._agent_id(agent, f.get("MemberName"))
            await calls.mark_answered(call_id, at, agent_id, self.uow())
            await segments.answer_in_queue(self.db, call_id, f.get("Queue") or "", at, agent_id)
            if self.call_answered is not None:
                await self.call_answered(str(Carrier.ASTERISK), linkedid, agent)
        elif name in ("Hold", "Unhold") and self.call_held is not None:
            await self.call_held(str(Carrier.ASTERISK), linkedid, name == "Hold", at)

    async def _cel(self, track: _Track, event: AmiEvent, at: datetime) -> None:
        kind = event.fields.get("EventName")
        if kind == "USER_DEFINED" and event.fields.get("UserDefType") == "HOTLINE_FALLBACK":
            call_id = await self._ensure_call(track, force=True)
            if call_id is not None:
                await add_timeline(call_id, CallEventIn(
                    at, "fastagi_fallback", detail={"note": event.fields.get("Extra") or ""},
                    dedupe_key="ami:fallback"), self.uow())
        elif kind == "LINKEDID_END":
            await self.finalise(track.linkedid, at, how="linkedid_end")

    async def _offer(self, track: _Track, call_id: int, event: AmiEvent, at: datetime) -> None:
        if self.offer_call is None:
            return
        from callcenter.screenpop.offers import CallOffer

        call = await self._call(call_id)
        f = event.fields
        await self.offer_call(CallOffer(
            carrier=str(Carrier.ASTERISK), carrier_call_id=track.linkedid,
            caller_number=track.caller or (call.from_number if call else None) or "anonymous",
            agent=f.get("Interface") or f.get("MemberName") or "",
            queue=f.get("Queue"), ivr_path=call.ivr_path if call else None, at=at,
        ))

    async def _call(self, call_id: int) -> calls.CallRecord | None:
        async with self.uow() as uow:
            return await uow.calls.get(call_id)

    # -- the call row -----------------------------------------------------------------------

    async def _ensure_call(self, track: _Track, *, force: bool) -> int | None:
        if track.call_id is not None:
            return track.call_id
        outbound = self.outbound(track.linkedid)
        if outbound is None and track.caller is None and not force:
            return None
        if outbound is not None:
            direction, customer_number = Direction.OUTBOUND, outbound.number
            from_number, to_number = outbound.caller_id, outbound.number
        else:
            direction, customer_number = Direction.INBOUND, track.caller
            from_number, to_number = track.caller, track.exten
        customer_id = await self._customer_id(customer_number)
        record, _ = await calls.start_call(calls.StartCall(
            Carrier.ASTERISK, track.linkedid, direction, from_number, to_number, track.started_at,
            customer_id, callback_attempt_id=outbound.attempt_id if outbound else None,
        ), self.uow())
        track.call_id = record.id
        backlog, track.backlog = track.backlog, []
        for line in backlog:
            await add_timeline(record.id, line, self.uow())
        return record.id

    async def _customer_id(self, number: str | None) -> int | None:
        if not number:
            return None
        try:
            customer = await identify_caller(number, self.uow(), default_region=self.default_region,
                                             default_tz=self.default_tz)
        except InvalidPhoneNumber:
            return None
        return customer.customer_id

    async def _agent_id(self, agent: str, member_name: str | None) -> int | None:
        from callcenter.screenpop.offers import agent_keys

        keys = [*agent_keys(agent), *([member_name] if member_name else [])]
        cache_key = "|".join(keys)
        if cache_key in self._agents:
            return self._agents[cache_key]
        async with self.db.sessions() as session:
            rows = (await session.execute(
                select(Staff.id, Staff.extension, Staff.username).where(
                    or_(Staff.extension.in_(keys), Staff.username.in_(keys))
                )
            )).all()
        best = sorted(rows, key=lambda r: min(
            keys.index(k) for k in (r.extension, r.username) if k in keys))
        self._agents[cache_key] = best[0].id if best else None
        return self._agents[cache_key]

    async def finalise(self, linkedid: str, at: datetime, *, how: str) -> None:
        """End the call of `linkedid` now (idempotent: end_call settles once)."""
        track = self._tracks.get(linkedid)
        if track is None:
            return
        call_id = await self._ensure_call(track, force=True)
        if call_id is not None:
            started = track.started_at
            call = await self._call(call_id)
            if call is not None:
                started = call.started_at if call.started_at.tzinfo else call.started_at.replace(
                    tzinfo=UTC)
            duration = max(0.0, (at - started).total_seconds())
            await calls.end_call(call_id, at, self.uow(), duration_s=duration)
            await segments.end_segments(self.db, call_id, at)
        del self._tracks[linkedid]
        self._finished[linkedid] = call_id
        while len(self._finished) > self._finished_memory:
            self._finished.popitem(last=False)
        CALLS_FINALISED.inc(how=how)
        for hook in self.ended_hooks:
            await hook(linkedid, at)

    # -- resync -----------------------------------------------------------------------------

    async def resync(self, channels: Sequence[AmiEvent], requested_at: float) -> None:
        """A CoreShowChannels snapshot (asked for at `requested_at`, monotonic) after a
        reconnect or a queue overflow: a call we track that is not in it and had no event
        since the snapshot was asked for has ended unseen; a live call we do not track is
        adopted."""
        live: dict[str, list[AmiEvent]] = {}
        for channel in channels:
            linkedid = channel.fields.get("Linkedid")
            if linkedid:
                live.setdefault(linkedid, []).append(channel)
        now = self.clock()
        for linkedid, track in list(self._tracks.items()):
            if linkedid not in live and track.last_seen < requested_at:
                with bind_call_id(linkedid):
                    await self.finalise(linkedid, now, how="resync")
        for linkedid, chans in live.items():
            if linkedid in self._tracks or linkedid in self._finished:
                continue
            first = next((c for c in chans if c.fields.get("Uniqueid") == linkedid), chans[0])
            track = _Track(linkedid, now - _duration(first.fields.get("Duration")),
                           time.monotonic(), known_number(first.fields.get("CallerIDNum")),
                           known_number(first.fields.get("Exten")))
            self._tracks[linkedid] = track
            with bind_call_id(linkedid):
                await self._ensure_call(track, force=True)


def _duration(text: str | None) -> timedelta:
    """'01:02:03' -> 1 h 2 min 3 s; anything else -> 0."""
    try:
        h, m, s = (int(part) for part in (text or "").split(":"))
    except ValueError:
        return timedelta(0)
    return timedelta(hours=h, minutes=m, seconds=s)


def _timeline_line(event: AmiEvent, at: datetime, uniqueid: str) -> CallEventIn | None:
    f, name = event.fields, event.name
    if name == "Newchannel":
        return CallEventIn(at, "channel_created", detail={"channel": f.get("Channel")},
                           dedupe_key=f"ami:new:{uniqueid}")
    if name == "Newstate" and (f.get("ChannelStateDesc") or "").lower() == "up":
        return CallEventIn(at, "channel_up", detail={"channel": f.get("Channel")},
                           dedupe_key=f"ami:up:{uniqueid}")
    if name == "DialBegin":
        dest = f.get("DestUniqueid") or ""
        return CallEventIn(at, "dial_begin", detail={"dest": f.get("DestChannel")},
                           dedupe_key=f"ami:dialbegin:{dest}")
    if name == "DialEnd":
        dest = f.get("DestUniqueid") or ""
        return CallEventIn(at, "dial_end", detail={"status": f.get("DialStatus")},
                           dedupe_key=f"ami:dialend:{dest}")
    if name == "BridgeEnter":
        return CallEventIn(at, "bridged", detail={"channel": f.get("Channel")},
                           dedupe_key=f"ami:bridge:{f.get('BridgeUniqueid')}:{uniqueid}")
    if name == "Hangup":
        return CallEventIn(at, "channel_hangup",
                           detail={"channel": f.get("Channel"), "cause": f.get("Cause-txt")},
                           dedupe_key=f"ami:hangup:{uniqueid}")
    if name == "AgentCalled":
        return CallEventIn(at, "agent_called",
                           detail={"agent": f.get("Interface"), "queue": f.get("Queue")},
                           dedupe_key=f"ami:agentcalled:{f.get('DestUniqueid') or f.get('Interface')}")
    if name in ("Hold", "Unhold"):
        return CallEventIn(at, name.lower(), detail={"channel": f.get("Channel")},
                           dedupe_key=f"ami:{name.lower()}:{uniqueid}:{f.get('Timestamp') or at.isoformat()}")
    if name == "QueueCallerAbandon":
        return CallEventIn(at, "queue_abandon",
                           detail={"queue": f.get("Queue"), "hold_s": f.get("HoldTime")},
                           dedupe_key=f"ami:abandon:{f.get('Queue')}")
    return None
