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

Writes are batched (issue 19: >= 20k events/s into PostgreSQL): what the events
decide is kept in memory, in event order, and `flush` writes it in one
transaction, one statement per table and kind of change (new customers, new
calls, call updates, segments, contacts, timeline), every `flush_interval_s`
(50 ms) or at once when `max_batch` changes wait. Live consumers are not held
back: the AMI client's other listeners (the wallboard) get each event at once,
and the screen-pop hooks are called as their event is handled, each only once the
call's row is committed (a call still in the batch is flushed first).

Guarantees:
- The call row is created (idempotently, on (asterisk, Linkedid)) as soon as
  the caller's number is known, so the customer is the same one the FastAGI
  hotline identifies; timeline lines seen before that are kept and written then.
- A crash (or a failed flush, which is logged) loses at most the last batch
  window: the changes decided in the last `flush_interval_s`. The calls it
  leaves open are ended by the resync after the next login; the timeline lines
  of that window are gone. `open_calls` lists a call until its end is committed.
- A call that ended while the AMI link was down is finalised by `resync`
  (CoreShowChannels snapshot): tracked calls missing from it are ended.
- Late events of a finalised call change nothing; a late Hangup still goes on
  its timeline (bounded memory of finished calls).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.clock import Clock
from callcenter.logs import bind_call_id
from callcenter.metrics import REGISTRY
from callcenter.storage import segments
from callcenter.storage.engine import Database
from callcenter.storage.inserts import CALLS as INSERT_CALLS
from callcenter.storage.inserts import CONTACTS, contact_row
from callcenter.storage.repositories.calls import (
    CALLS,
    INSERT_CONTACT_ONCE,
    INSERT_EVENT_ONCE,
    PG_CALL_IDS,
    PG_CALLS_BY_ID,
    PG_INSERT_CALL_NAMES,
    PG_INSERT_CALLS,
    PG_INSERT_CONTACT_NAMES,
    PG_INSERT_CONTACTS,
    PG_INSERT_EVENTS,
    RECORD_COLUMNS,
    contact_params,
    contact_values,
    event_params,
    insert_calls,
    insert_calls_params,
    new_call_values,
    pg_event_arrays,
    pg_update_calls,
    record_of,
    to_record,
    update_call_statement,
)
from callcenter.storage.repositories.customers import (
    PG_OWNERS,
    SqlCustomerRepository,
    add_unknown_callers_pg,
)
from callcenter.storage.tables import Staff
from callcenter.storage.types import utcnow
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.telephony.asterisk.ami_client import AmiClient
from callcenter.telephony.asterisk.ami_protocol import AmiEvent
from crm.calls import settle_disposition
from crm.enums import Carrier, Direction
from crm.errors import InvalidPhoneNumber
from crm.phones import normalize_phone
from crm.services import calls
from crm.services.calls import CallEventIn

log = logging.getLogger(__name__)
CALLS_FINALISED = REGISTRY.counter(
    "callcenter_ami_calls_finalised_total", "calls ended from AMI (how: linkedid_end | resync)"
)

_CALLS_PER_INSERT = 50  # new calls per INSERT (each row is 18 parameters)
_PG_STAFF = ("SELECT id, extension, username FROM staff "
             "WHERE extension = ANY($1::text[]) OR username = ANY($1::text[])")
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
    call_id: int | None = None  # its row's id, once committed
    wanted: bool = False  # its row is committed or in the batch
    outbound: OutboundCall | None = None
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


@dataclass
class _Batch:
    """What the call log has decided since the last flush, in event order."""

    new: list[_Track] = field(default_factory=list)  # calls whose row is to be created
    lines: list[tuple[_Track, CallEventIn]] = field(default_factory=list)  # timeline
    ops: list[tuple[_Track, str, datetime, str, str | None]] = field(default_factory=list)
    ended: list[_Track] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.new) + len(self.lines) + len(self.ops)


class AmiCallLog:
    """Turns the AMI event stream into call rows; attach it to an `AmiClient`.

    Writes are batched: what the events decide is kept in memory and written by
    `flush` in one transaction (one statement per table and kind of change) every
    `flush_interval_s`, or at once when `max_batch` changes are waiting. The
    hooks (screen-pop offer, answer, hold, end) are called as the events arrive,
    never delayed by the batch, but only once the call's row is committed (a
    call whose row is still in the batch is flushed first). A crash loses at
    most the changes of the last `flush_interval_s` (and a failed flush its own
    batch, logged); the calls it leaves open are ended by the next resync.
    """

    def __init__(
        self, db: Database, clock: Clock, *, default_region: str = "CN",
        default_tz: str = "Asia/Shanghai", offer_call: OfferHook | None = None,
        call_answered: AnsweredHook | None = None, call_held: HeldHook | None = None,
        outbound: Callable[[str], OutboundCall | None] = lambda _lid: None,
        finished_memory: int = 10_000, flush_interval_s: float = 0.05, max_batch: int = 5_000,
    ) -> None:
        self.db, self.clock = db, clock
        self.default_region, self.default_tz = default_region, default_tz
        self.offer_call, self.call_answered, self.call_held = offer_call, call_answered, call_held
        self.outbound = outbound
        self.ended_hooks: list[EndedHook] = []
        self.flush_interval_s, self.max_batch = flush_interval_s, max_batch
        self._tracks: dict[str, _Track] = {}
        self._finished: OrderedDict[str, _Track] = OrderedDict()  # linkedid -> its ended track
        self._finished_memory = finished_memory
        self._agents: dict[str, int | None] = {}
        self._client: AmiClient | None = None
        self._batch = _Batch()
        self._settling: set[str] = set()  # ended, the end not committed yet
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    def attach(self, client: AmiClient) -> None:
        self._client = client
        client.on_event(CALL_LOG_EVENTS, self.handle)
        client.on_resync(self.resync)

    @property
    def open_calls(self) -> list[str]:
        """Calls not ended yet, or whose end is not committed yet."""
        return [*self._tracks, *(lid for lid in self._settling if lid not in self._tracks)]

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db)

    # -- events -----------------------------------------------------------------------------

    async def handle(self, event: AmiEvent) -> None:
        linkedid = event.fields.get("Linkedid")
        if not linkedid:
            return
        with bind_call_id(linkedid):
            if linkedid in self._finished:
                self._late(event, linkedid)
            else:
                await self._handle(event, linkedid)
        await self._after_change()

    def _late(self, event: AmiEvent, linkedid: str) -> None:
        """An event after LINKEDID_END (AMI and CEL are not in step): timeline only."""
        track = self._finished[linkedid]
        line = _timeline_line(event, event_time(event, self.clock), event.fields.get("Uniqueid") or "")
        if track.wanted and line is not None and event.name == "Hangup":
            self._batch.lines.append((track, line))

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
        wanted = self._want_row(track, force=queue_event)
        if line is not None:
            if wanted:
                self._batch.lines.append((track, line))
            else:
                track.backlog.append(line)
        if not wanted:
            return
        ops = self._batch.ops
        if name == "QueueCallerJoin":
            ops.append((track, "queued", at, f.get("Queue") or "", None))
        elif name in ("QueueCallerAbandon", "QueueCallerLeave"):
            ops.append((track, "abandoned" if name == "QueueCallerAbandon" else "left", at,
                        f.get("Queue") or "", None))
        elif name == "AgentCalled":
            await self._offer(track, event, at)
        elif name == "AgentConnect":
            agent = f.get("Interface") or f.get("MemberName") or ""
            ops.append((track, "answered", at, f.get("Queue") or "",
                        "|".join([agent, f.get("MemberName") or ""])))
            if self.call_answered is not None:
                await self._committed(track)
                await self.call_answered(str(Carrier.ASTERISK), linkedid, agent)
        elif name in ("Hold", "Unhold") and self.call_held is not None:
            await self._committed(track)
            await self.call_held(str(Carrier.ASTERISK), linkedid, name == "Hold", at)

    async def _cel(self, track: _Track, event: AmiEvent, at: datetime) -> None:
        kind = event.fields.get("EventName")
        if kind == "USER_DEFINED" and event.fields.get("UserDefType") == "HOTLINE_FALLBACK":
            if self._want_row(track, force=True):
                self._batch.lines.append((track, CallEventIn(
                    at, "fastagi_fallback", detail={"note": event.fields.get("Extra") or ""},
                    dedupe_key="ami:fallback")))
        elif kind == "LINKEDID_END":
            await self.finalise(track.linkedid, at, how="linkedid_end")

    async def _offer(self, track: _Track, event: AmiEvent, at: datetime) -> None:
        if self.offer_call is None:
            return
        from callcenter.screenpop.offers import CallOffer

        await self._committed(track)  # the pop reads the call row
        number = track.caller
        if number is None and track.call_id is not None:
            async with self.uow() as uow:
                call = await uow.calls.get(track.call_id)
            number = call.from_number if call else None
        f = event.fields
        await self.offer_call(CallOffer(
            carrier=str(Carrier.ASTERISK), carrier_call_id=track.linkedid,
            caller_number=number or "anonymous",
            agent=f.get("Interface") or f.get("MemberName") or "",
            queue=f.get("Queue"), ivr_path=None, at=at,
        ))

    # -- the call row -----------------------------------------------------------------------

    def _want_row(self, track: _Track, *, force: bool) -> bool:
        """Whether the call has (or will have, at the next flush) its row."""
        if track.wanted:
            return True
        outbound = self.outbound(track.linkedid)
        if outbound is None and track.caller is None and not force:
            return False
        track.wanted, track.outbound = True, outbound
        self._batch.new.append(track)
        backlog, track.backlog = track.backlog, []
        self._batch.lines.extend((track, line) for line in backlog)
        return True

    async def _committed(self, track: _Track) -> None:
        """Flush now if the call's row is not committed yet (a hook is about to read it)."""
        if track.call_id is None and track.wanted:
            await self.flush()

    async def finalise(self, linkedid: str, at: datetime, *, how: str) -> None:
        """End the call of `linkedid` now (idempotent: the end is settled once)."""
        track = self._tracks.get(linkedid)
        if track is None:
            return
        self._want_row(track, force=True)
        self._batch.ops.append((track, "end", at, "", None))
        del self._tracks[linkedid]
        self._settling.add(linkedid)
        self._finished[linkedid] = track
        while len(self._finished) > self._finished_memory:
            self._finished.popitem(last=False)
        CALLS_FINALISED.inc(how=how)
        if self.ended_hooks:
            await self._committed(track)
        for hook in self.ended_hooks:
            await hook(linkedid, at)

    # -- writing ----------------------------------------------------------------------------

    async def _after_change(self) -> None:
        batch = self._batch
        size = len(batch.new) + len(batch.lines) + len(batch.ops)
        if not size:
            return
        if size >= self.max_batch:
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(
                self.flush_interval_s, self._flush_soon)

    def _flush_soon(self) -> None:
        self._timer = None
        task = asyncio.ensure_future(self.flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self) -> None:
        """Write and commit everything decided so far (in one transaction)."""
        async with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            batch, self._batch = self._batch, _Batch()
            if not batch:
                return
            try:
                await _write_batch(self, batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("call log: a batch of %d changes could not be written and is lost; "
                              "the next resync ends the calls it leaves open", len(batch))
                for track in batch.new:
                    if track.call_id is None:
                        track.wanted = False
            finally:
                for track, kind, *_ in batch.ops:
                    if kind == "end":
                        self._settling.discard(track.linkedid)

    async def close(self) -> None:
        """Write what is buffered (call after the AMI client is closed)."""
        await self.flush()
        for task in list(self._flushing):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _agent_id(self, session: AsyncSession, pg: Any, agent: str,
                        member_name: str | None) -> int | None:
        from callcenter.screenpop.offers import agent_keys

        keys = [*agent_keys(agent), *([member_name] if member_name else [])]
        cache_key = "|".join(keys)
        if cache_key in self._agents:
            return self._agents[cache_key]
        if pg is not None:
            rows: list[Any] = [SimpleNamespace(**dict(r)) for r in await pg.fetch(_PG_STAFF, keys)]
        else:
            rows = list((await session.execute(
                select(Staff.id, Staff.extension, Staff.username).where(
                    or_(Staff.extension.in_(keys), Staff.username.in_(keys))
                )
            )).all())
        best = sorted(rows, key=lambda r: min(
            keys.index(k) for k in (r.extension, r.username) if k in keys))
        self._agents[cache_key] = best[0].id if best else None
        return self._agents[cache_key]

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
            self._want_row(track, force=True)
        await self._after_change()


async def _write_batch(log_: AmiCallLog, batch: _Batch) -> None:
    """One transaction: new customers and calls, the calls' changes, their segments and
    contacts, their timelines. Sets each new call's `call_id` once committed.

    On PostgreSQL the calls, their events, changes, segments and contacts go as one
    statement each on the driver connection (arrays, `repositories.calls.PG_*`), inside
    the session's transaction; elsewhere as the session's statements."""
    async with log_.db.sessions() as session:
        pg = await _driver_connection(session) if log_.db.dialect == "postgresql" else None
        new_ids, started = await _insert_calls(log_, session, pg, batch.new)

        def call_id(track: _Track) -> int | None:
            return track.call_id if track.call_id is not None else new_ids.get(track.linkedid)

        lines = started + [(call_id(track), line) for track, line in batch.lines]
        ops = [(call_id(track), kind, at, queue, agent) for track, kind, at, queue, agent in batch.ops]
        ops = [op for op in ops if op[0] is not None]
        if ops:
            lines.extend(await _apply_ops(log_, session, pg, ops))
        events = [(cid, line) for cid, line in lines if cid is not None]
        if events and pg is not None:
            await pg.execute(PG_INSERT_EVENTS, *pg_event_arrays(events))
        elif events:
            await session.execute(INSERT_EVENT_ONCE, [event_params(cid, line) for cid, line in events])
        await session.commit()
    for track in batch.new:
        if track.linkedid in new_ids:
            track.call_id = new_ids[track.linkedid]


async def _driver_connection(session: AsyncSession) -> Any:
    """The session's asyncpg connection, its transaction begun (with a first statement)."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    if not driver.is_in_transaction():  # type: ignore[union-attr]
        await connection.exec_driver_sql("SELECT 1")
    return driver


async def _insert_calls(log_: AmiCallLog, session: AsyncSession, pg: Any, tracks: list[_Track]
                        ) -> tuple[dict[str, int], list[tuple[int | None, CallEventIn]]]:
    """Rows for the new calls (one INSERT, existing ones found by one SELECT): linkedid -> id,
    and the `started` lines of those inserted."""
    tracks = [t for t in tracks if t.call_id is None]
    if not tracks:
        return {}, []
    numbers: dict[str, str | None] = {}
    for track in tracks:
        number = track.outbound.number if track.outbound else track.caller
        try:
            numbers[track.linkedid] = normalize_phone(number, log_.default_region) if number else None
        except InvalidPhoneNumber:
            numbers[track.linkedid] = None
    customers = SqlCustomerRepository(session)
    wanted = {e164 for e164 in numbers.values() if e164}
    if pg is not None:
        owners = dict(await pg.fetch(PG_OWNERS, list(wanted))) if wanted else {}
        owners.update(await add_unknown_callers_pg(
            pg, {e164 for e164 in wanted if e164 not in owners}, log_.default_tz))
    else:
        owners = await customers.owners_of(wanted)
        owners.update(await customers.add_unknown_callers(
            {e164 for e164 in wanted if e164 not in owners}, log_.default_tz))
    rows, started = [], []
    for track in tracks:
        out = track.outbound
        e164 = numbers[track.linkedid]
        cmd = calls.StartCall(
            Carrier.ASTERISK, track.linkedid, Direction.OUTBOUND if out else Direction.INBOUND,
            out.caller_id if out else track.caller, out.number if out else track.exten,
            track.started_at, owners.get(e164) if e164 else None,
            callback_attempt_id=out.attempt_id if out else None)
        rows.append(new_call_values(cmd))
        started.append((track.linkedid, calls.started_event_for(cmd)))
    created: dict[str, int] = {}
    if pg is not None:
        created.update(await pg.fetch(PG_INSERT_CALLS, *INSERT_CALLS.arrays(
            PG_INSERT_CALL_NAMES, [{"ivr_state": None, "ivr_path": None, **row} for row in rows])))
    else:
        for start in range(0, len(rows), _CALLS_PER_INSERT):
            chunk = rows[start:start + _CALLS_PER_INSERT]
            created.update((await session.execute(
                insert_calls(len(chunk)), insert_calls_params(chunk))).tuples().all())
    ids = dict(created)
    missing = [t.linkedid for t in tracks if t.linkedid not in ids]
    if missing and pg is not None:
        ids.update(await pg.fetch(PG_CALL_IDS, Carrier.ASTERISK.value, missing))
    elif missing:
        ids.update((await session.execute(select(CALLS.c.carrier_call_id, CALLS.c.id).where(
            CALLS.c.carrier == Carrier.ASTERISK.value, CALLS.c.carrier_call_id.in_(missing)))).all())
    return ids, [(ids[lid], e) for lid, e in started if lid in created]


async def _apply_ops(log_: AmiCallLog, session: AsyncSession, pg: Any,
                     ops: list[tuple[int, str, datetime, str, str | None]]
                     ) -> list[tuple[int | None, CallEventIn]]:
    """Queue, answer and end changes of the batch's calls, in order: one SELECT of the calls
    and one of their segments, then one UPDATE per set of changed columns, the segments,
    the contacts. Returns the timeline lines they add."""
    ids = list(dict.fromkeys(op[0] for op in ops))
    if pg is not None:
        records = {r.id: r for r in map(record_of, await pg.fetch(PG_CALLS_BY_ID, ids))}
        segs, as_loaded = await segments.load_pg(pg, [i for i in ids if i in records])
    else:
        records = {r.id: to_record(r) for r in (await session.execute(
            select(*RECORD_COLUMNS).where(CALLS.c.id.in_(ids)))).all()}
        segs, as_loaded = await segments.load(session, [i for i in ids if i in records])
    changes: dict[int, dict[str, Any]] = {}
    lines: list[tuple[int | None, CallEventIn]] = []
    contacts: list[dict[str, Any]] = []
    for cid, kind, at, queue, agent in ops:
        call = records.get(cid)
        if call is None:
            continue
        change = changes.setdefault(cid, {})
        if kind == "queued":
            if call.queued_at is None:
                call = replace(call, queued_at=at, queue=queue)
                change.update(queued_at=at, queue=queue)
            lines.append((cid, CallEventIn(at, "queued", detail={"queue": queue},
                                           dedupe_key=f"queued:{queue}")))
            segments.entered(segs[cid], cid, queue, at)
        elif kind in ("left", "abandoned"):
            segments.left(segs[cid], queue, at, abandoned=kind == "abandoned")
        elif kind == "answered":
            interface, _, member = (agent or "").partition("|")
            agent_id = await log_._agent_id(session, pg, interface, member or None)
            if call.answered_at is None:
                call = replace(call, answered_at=at, agent_id=agent_id or call.agent_id)
                change.update(answered_at=at, agent_id=call.agent_id)
            lines.append((cid, CallEventIn(at, "answered", detail={"agent_id": agent_id},
                                           dedupe_key="answered")))
            segments.answered(segs[cid], queue, at, agent_id)
        elif kind == "end":
            started = call.started_at if call.started_at.tzinfo else call.started_at.replace(tzinfo=UTC)
            duration = max(0.0, (at - started).total_seconds())
            if call.ended_at is None:
                settled = settle_disposition(call)
                call = replace(call, ended_at=at, disposition=settled)
                change.update(ended_at=at, disposition=settled.value, duration_s=duration)
                lines.append((cid, CallEventIn(at, "ended", detail={
                    "disposition": settled.value, "status": None}, dedupe_key="ended")))
                values = contact_values(call)
                if values is not None:
                    contacts.append(values)
            else:
                change.update(duration_s=duration)
            segments.ended(segs[cid], at)
        records[cid] = call
    by_columns: dict[tuple[str, ...], list[tuple[int, dict[str, Any]]]] = {}
    for cid, change in changes.items():
        if change:
            by_columns.setdefault(tuple(sorted(change)), []).append((cid, change))
    now = utcnow()
    for columns, changed in by_columns.items():
        if pg is not None:
            await pg.execute(pg_update_calls(columns), [cid for cid, _ in changed], now,
                             *([change[c] for _, change in changed] for c in columns))
        else:
            await session.execute(update_call_statement(columns), [
                {"b_id": cid, **{f"v_{k}": v for k, v in change.items()}} for cid, change in changed])
    if pg is not None:
        await segments.save_pg(pg, segs, as_loaded)
        if contacts:
            await pg.execute(PG_INSERT_CONTACTS, *CONTACTS.arrays(
                PG_INSERT_CONTACT_NAMES, [contact_row(values) for values in contacts]))
    else:
        await segments.save(session, segs, as_loaded)
        if contacts:
            await session.execute(INSERT_CONTACT_ONCE, [contact_params(v) for v in contacts])
    return lines


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
