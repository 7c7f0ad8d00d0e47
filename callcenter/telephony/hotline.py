"""The carrier-neutral hotline driver: one IVR session per call, on any carrier.

Twilio webhooks and the FastAGI server both call this; neither knows the
menus. A turn is: load the call's session (JSON stored on the call), feed
the carrier event, perform the effects the session asks for (complaint,
survey, callback request, job lookup) through the use cases, feed their
results back, and return the media actions to render.

Guarantees:
- One turn is one transaction: the call is read, the session runs, its
  effects are performed, and the session state, the turn's IVR steps and the
  queue hand-off are stored, then committed once. The state is written only
  if the call's `ivr_version` is still the one read: two processes can never
  both advance a call from the same state (the loser's whole turn, effects
  included, rolls back: `StaleIvrState`); a replayed request (same version
  already used) gets the same media again and changes nothing.
- Effects are committed before the media that depends on them (a ticket is
  stored before it is read back): they run through their use cases inside
  the turn's transaction (`JoinedUnitOfWork`: a savepoint each), and the
  turn commits before its media is returned. A failed effect is rolled back
  to its savepoint, logged with the call id, and the session gets
  `EffectFailed`, which takes it to a safe path (an agent).
- A turn whose connection died (database restart) is retried once on a
  fresh connection; it is one transaction, so the retry is clean.
- A caller who hangs up keeps what they gave: the session's partial effects
  (complaint without recording, incomplete survey) are performed.
- On PostgreSQL a turn whose only writes are its own (a menu key, a job
  lookup, a confirmed survey, a known caller's first turn, a status callback
  once the IVR is over) takes the fast path (`PgTurnStore`): the call is read
  and the turn stored by batched raw statements under the same version
  guard; the session runs the same action loop (`_run`) on what was read,
  with the same performers on a unit of work that collects the writes, and a
  turn that asks for anything else (complaint, callback, transfer) or fails
  on the way is run again from the start in a transaction as above. Same
  rows, same media, same replay and stale rules either way.
- Every caller is served: a caller whose number nobody can read (withheld,
  unparseable) gets no customer at first; what they file (a complaint, a
  callback on a number they keyed in) is stored against an "unidentified
  caller" record made in that turn, which the call then belongs to
  (`crm.services.customers.record_unidentified_caller`). A caller whose
  number cannot be called back (that, or a foreign number) keys one in; it
  must be a number of `DEFAULT_REGION` (`crm.phones.normalize_regional_phone`).
  Complaint status is read only for the call's own customer
  (`crm.services.complaint_status`).
- An outbound call (`callback_attempt_id` given) runs the callback's flow
  (`ivr.outbound`) about the callback's job / ticket / survey, in the
  callee's zone and language; its answers land through
  `callcenter.telephony.outbound`, and the callback is completed once when
  the call ends (hang-up or goodbye; after a transfer the agent does it).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from callcenter.clock import Clock
from callcenter.logs import bind_call_id, mask_number
from callcenter.metrics import REGISTRY
from callcenter.settings import Settings
from callcenter.storage.engine import Database, is_disconnect
from callcenter.storage.joined_uow import JoinedUnitOfWork, TurnUnitOfWork
from callcenter.storage.pg_turns import (
    CallOpen,
    CallWrites,
    PgTurnStore,
    SurveyWrite,
    TurnSave,
)
from callcenter.storage.repositories.calls import new_call_values
from callcenter.storage.repositories.surveys import to_record as survey_record
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.telephony.outbound import OUTBOUND_PERFORMERS, OutboundTarget, outbound_target
from crm.calls import FINAL_STATUSES, CallRecord
from crm.customers import Customer
from crm.enums import (
    CallDisposition,
    Carrier,
    ComplaintCategory,
    ComplaintChannel,
    Direction,
    SurveySource,
)
from crm.errors import InvalidPhoneNumber
from crm.phones import in_region, normalize_phone, normalize_regional_phone
from crm.services import calls as call_log
from crm.services import surveys
from crm.surveys import JobRef, SurveyRecord, parse_grade
from ivr import actions as act
from ivr import events as ev
from ivr.flow import Flow
from ivr.hotline import HOTLINE
from ivr.outbound import OUTBOUND_FLOWS
from ivr.session import Session

log = logging.getLogger(__name__)
EFFECT_FAILURES = REGISTRY.counter("callcenter_ivr_effect_failures_total", "IVR effects that failed")
TURNS = REGISTRY.counter("callcenter_ivr_turns_total", "IVR turns by carrier")

FLOWS: dict[str, Flow] = {"hotline": HOTLINE, **OUTBOUND_FLOWS}
_MEDIA: dict[str, type[act.Action]] = {t.__name__: t for t in act.MEDIA_ACTIONS}
_SURVEY_ITEMS = {"repair_quality": "quality"}  # IVR slot name -> survey column
#: the transaction of the turn running in this task: use cases called from it join it
_TURN_UOW: ContextVar[SqlUnitOfWork | None] = ContextVar("hotline_turn_uow", default=None)
T = TypeVar("T")


@dataclass(frozen=True)
class Turn:
    call_id: int
    media: list[act.Action]
    ended: bool
    transfer: act.Transfer | None
    version: int
    language: str
    replayed: bool = False
    #: the call as stored after this turn (None for a replay)
    call: CallRecord | None = dataclasses.field(default=None, repr=False, compare=False)


@dataclass
class _CallCtx:
    call: CallRecord
    session: Session
    flow_name: str
    phone: str | None


def _media_fields(kind: type[act.Action]) -> tuple[str, ...]:
    names = _MEDIA_FIELDS.get(kind)
    if names is None:
        names = _MEDIA_FIELDS[kind] = tuple(
            f.name for f in dataclasses.fields(kind)) if dataclasses.is_dataclass(kind) else ()
    return names


_MEDIA_FIELDS: dict[type[act.Action], tuple[str, ...]] = {}


def dump_media(media: list[act.Action]) -> list[dict[str, Any]]:
    """The media as JSON-ready dicts (`load_media` reverses it). Field by field: media are
    frozen, and dataclasses.asdict would deep-copy every value on every turn."""
    out = []
    for item in media:
        data: dict[str, Any] = {"type": type(item).__name__}
        for name in _media_fields(type(item)):
            value = getattr(item, name)
            data[name] = list(value) if isinstance(value, tuple) else \
                dict(value) if isinstance(value, dict) else value
        out.append(data)
    return out


def load_media(data: list[dict[str, Any]]) -> list[act.Action]:
    out: list[act.Action] = []
    for item in data:
        fields = dict(item)
        kind = _MEDIA[fields.pop("type")]
        if "prompt_ids" in fields:
            fields["prompt_ids"] = tuple(fields["prompt_ids"])
        out.append(kind(**fields))
    return out


#: effects the fast path performs itself (their reads and writes go through `_FastUnitOfWork`);
#: any other (or a transfer) sends the turn to a transaction
_FAST_EFFECTS: tuple[type[act.Effect], ...] = (act.LookupJob, act.SaveSurvey)
FAST_TURNS = REGISTRY.counter("callcenter_ivr_fast_turns_total",
                              "IVR turns stored by the batched fast path, by outcome")
#: the fast path's unit of work while a fast turn performs its effects (see `uow`)
_FAST_UOW: ContextVar[_FastUnitOfWork | None] = ContextVar("hotline_fast_uow", default=None)


class _NotFast(Exception):
    """The turn needs the transactional path (an effect that writes, a transfer)."""


class _FastSurveys:
    """The survey repository for the fast path: job reads from the store; the survey a
    use case adds (and its audit entry) is kept, to be stored with the turn."""

    def __init__(self, store: PgTurnStore) -> None:
        self.store = store
        self.written: SurveyWrite | None = None
        self._row: dict[str, Any] | None = None

    async def job(self, job_id: int) -> JobRef | None:
        return await self.store.job(job_id)

    async def job_by_reference(self, reference: str) -> JobRef | None:
        return await self.store.job_by_reference(reference)

    async def last_completed_job(self, customer_id: int) -> JobRef | None:
        return await self.store.last_completed_job(customer_id)

    async def add(self, values: dict[str, Any]) -> SurveyRecord:
        if self._row is not None:
            raise _NotFast("a second survey in one turn")
        self._row = {**values, "id": await self.store.next_survey_id()}
        row = {name: self._row.get(name) for name in SurveyRecord.__dataclass_fields__}
        return survey_record(SimpleNamespace(**row))

    async def audit(self, survey_id: int, at: datetime, actor_id: int | None, action: str,
                    before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        if self._row is None or self._row["id"] != survey_id:
            raise _NotFast("an audit entry for a survey this turn did not add")
        self.written = SurveyWrite(self._row, {"at": at, "actor_id": actor_id,
                                               "action": action, "before": before, "after": after})


class _FastUnitOfWork:
    """The `UnitOfWork` port inside a fast turn: surveys only (`_FastSurveys`); its writes
    are stored with the turn's state, in one statement, so `commit` here stores nothing
    yet. Anything else a use case asks for sends the turn to a transaction."""

    def __init__(self, store: PgTurnStore) -> None:
        self.surveys = _FastSurveys(store)

    async def __aenter__(self) -> _FastUnitOfWork:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def commit(self) -> None:
        return None

    async def rollback(self) -> None:
        raise _NotFast("a use case rolled back")

    def __getattr__(self, name: str) -> Any:
        raise _NotFast(f"the fast path has no {name} repository")


class _FastWrites:
    """The `UnitOfWork` port for `call_log.settle_status` on the fast path: its call writes
    are recorded (`CallWrites`) and stored in one statement."""

    def __init__(self, writes: CallWrites) -> None:
        self.calls = writes


class HotlineDriver:
    def __init__(self, db: Database, settings: Settings, clock: Clock,
                 fast: PgTurnStore | None = None,
                 availability: Callable[[], Any] | None = None) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        self.fast = fast
        #: the screen-pop's AgentAvailability (looked up late: it starts after the driver)
        self.availability = availability

    def uow(self) -> SqlUnitOfWork:
        """A unit of work for a use case: inside a turn, a savepoint of the turn's transaction
        (or, in a fast turn, the fast path's, stored with the turn)."""
        fast = _FAST_UOW.get()
        if fast is not None:
            return fast  # type: ignore[return-value]
        outer = _TURN_UOW.get()
        return SqlUnitOfWork(self.db) if outer is None else JoinedUnitOfWork(outer)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[SqlUnitOfWork]:
        """The turn's transaction on a Core connection (`TurnUnitOfWork`); effects performed
        inside join it (see `uow`)."""
        async with TurnUnitOfWork(self.db) as uow:
            token = _TURN_UOW.set(uow)
            try:
                yield uow
            finally:
                _TURN_UOW.reset(token)

    async def _once_more_if_disconnected(self, turn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await turn()
        except Exception as exc:
            if not is_disconnect(exc):
                raise
            log.warning("the database connection died during a turn; retrying once")
            return await turn()

    # -- entry points -----------------------------------------------------------------------

    async def begin(
        self, carrier: Carrier, carrier_call_id: str, *, from_number: str | None,
        to_number: str | None, flow: str | None = None, callback_attempt_id: str | None = None,
        direction: Direction | None = None, caller_number: str | None = None,
    ) -> Turn:
        """Log the call and start its IVR session. Idempotent on the carrier's call id.

        `caller_number` is the customer's number (defaults to `from_number`;
        for an outbound call it is `to_number`). With `callback_attempt_id`
        the call is outbound and about that attempt's callback; `flow`
        defaults to the callback's flow (else "hotline").
        """
        with bind_call_id(carrier_call_id):
            target = await self._outbound_target(callback_attempt_id)
            if direction is None:
                direction = Direction.OUTBOUND if callback_attempt_id else Direction.INBOUND
            flow = flow or (target.flow if target else "hotline")
            if flow not in FLOWS:
                raise ValueError(f"unknown IVR flow {flow!r}; one of {', '.join(FLOWS)}")
            customer_number = caller_number or (
                from_number if direction == Direction.INBOUND else to_number)
            known = await self._callback_customer(target)
            if self.fast is not None and callback_attempt_id is None:
                fast = await self._fast_begin(
                    call_log.StartCall(Carrier(carrier), carrier_call_id, direction, from_number,
                                       to_number, self.clock()), flow, customer_number)
                if fast is not None:
                    return fast

            async def turn() -> Turn:
                async with self._transaction() as uow:
                    customer = known or await self._identify(uow, customer_number)
                    now = self.clock()
                    cmd = call_log.StartCall(
                        Carrier(carrier), carrier_call_id, direction, from_number, to_number, now,
                        customer.customer_id if customer else None,
                        customer.language if customer else self.settings.language,
                        callback_attempt_id,
                    )
                    call, created = await call_log.open_call(uow, cmd, started_event=False)
                    if not created and call.ivr_state:
                        return self._replay(call)
                    tz = target.timezone if target else (
                        customer.timezone if customer else self.settings.timezone)
                    context = self._context(
                        carrier, now, tz, bool(customer and customer.verified),
                        customer.language if customer else self.settings.language,
                        dict(target.seeds) if target else None,
                        self._callable(customer_number) is not None)
                    ctx = _CallCtx(call, Session(FLOWS[flow]), flow, customer_number)
                    started = [call_log.started_event_for(cmd)] if created else []
                    result = await self._turn(uow, ctx, ev.Start(context), events=started)
                    await uow.commit()
                log.info("call started", extra={"carrier": str(carrier),
                                                "caller": mask_number(customer_number)})
                return result

            return await self._once_more_if_disconnected(turn)

    async def feed(
        self, carrier: Carrier, carrier_call_id: str, event: ev.Event, *,
        expected_version: int | None = None,
    ) -> Turn:
        """Feed one caller event. A request for a version already used replays its media."""
        with bind_call_id(carrier_call_id):
            if self.fast is not None:
                fast = await self._fast_feed(carrier, carrier_call_id, event, expected_version)
                if fast is not None:
                    return fast

            async def turn() -> Turn:
                async with self._transaction() as uow:
                    ctx = await self._load(uow, carrier, carrier_call_id)
                    if expected_version is not None and expected_version != ctx.call.ivr_version:
                        return self._replay(ctx.call)
                    if ctx.session.ended:
                        return self._replay(ctx.call)
                    result = await self._turn(uow, ctx, event)
                    await uow.commit()
                    return result

            return await self._once_more_if_disconnected(turn)

    async def hangup(self, carrier: Carrier, carrier_call_id: str, *, end_call: bool = True) -> None:
        """The caller is gone: save what they gave, then (optionally) end the call."""
        with bind_call_id(carrier_call_id):
            async def turn() -> None:
                async with self._transaction() as uow:
                    try:
                        call = await self._caller_gone(uow, carrier, carrier_call_id)
                    except call_log.UnknownCall:
                        log.warning("hangup for a call we never saw")
                        return
                    if end_call:
                        await call_log.settle_end(uow, call, self.clock())
                    await uow.commit()

            await self._once_more_if_disconnected(turn)

    async def carrier_status(
        self, carrier: Carrier, carrier_call_id: str, status: str, *,
        duration_s: float | None = None,
    ) -> CallRecord:
        """A carrier status callback in one transaction: on a final status the session
        first gets its hang-up (partial data kept), then the call's outcome is settled
        (`call_log.settle_status`: idempotent and order-proof). `UnknownCall` when the
        call was never started."""
        with bind_call_id(carrier_call_id):
            if self.fast is not None:
                fast = await self._fast_status(carrier, carrier_call_id, status, duration_s)
                if fast is not None:
                    return fast

            async def turn() -> CallRecord:
                async with self._transaction() as uow:
                    now = self.clock()
                    if status in FINAL_STATUSES:
                        call = await self._caller_gone(uow, carrier, carrier_call_id)
                    else:
                        call = await call_log.load_call(uow, carrier, carrier_call_id)
                    call = await call_log.settle_status(uow, call, status, now,
                                                        duration_s=duration_s)
                    await uow.commit()
                    return call

            return await self._once_more_if_disconnected(turn)

    async def transferred(self, carrier: Carrier, carrier_call_id: str, queue: str) -> None:
        call = await call_log.get_call(carrier, carrier_call_id, self.uow())
        await call_log.mark_queued(call.id, self.clock(), queue, self.uow())

    # -- the fast path (PostgreSQL) ---------------------------------------------------------

    async def _fast_feed(self, carrier: Carrier, carrier_call_id: str, event: ev.Event,
                         expected_version: int | None) -> Turn | None:
        """The turn through `PgTurnStore`; None when it needs the transactional path."""
        assert self.fast is not None
        try:
            call = await self.fast.load(str(carrier), carrier_call_id)
            if call is None or not call.ivr_state:
                return None  # the transactional path says why (UnknownCall)
            if expected_version is not None and expected_version != call.ivr_version:
                FAST_TURNS.inc(outcome="replayed")
                return self._replay(call)
            ctx = self._ctx(call)
            if ctx.session.ended:
                return self._replay(call)
            turn = await self._fast_turn(ctx, event)
        except _NotFast:
            FAST_TURNS.inc(outcome="transaction")
            return None
        except call_log.StaleIvrState:
            raise  # another webhook moved the call on: the caller answers with its step
        except Exception as exc:  # never worse than the transaction: fall back to it
            # the transactional path re-reads: a save that did land is replayed from there
            log.warning("fast IVR path failed (%s: %s); running the turn in a transaction",
                        type(exc).__name__, exc)
            FAST_TURNS.inc(outcome="error")
            return None
        FAST_TURNS.inc(outcome="stored")
        return turn

    async def _fast_begin(self, cmd: call_log.StartCall, flow: str,
                          number: str | None) -> Turn | None:
        """A known caller's new call through `PgTurnStore`: identified, logged and its first
        turn stored in one statement; None: start it in a transaction (a stranger to add,
        a call logged already, an effect)."""
        assert self.fast is not None
        try:
            if not number:
                return None
            try:
                e164 = normalize_phone(number, self.settings.default_region)
            except InvalidPhoneNumber:
                return None
            caller = await self.fast.caller(e164)
            if caller is None:
                return None
            cmd = dataclasses.replace(cmd, customer_id=caller.customer_id,
                                      language=caller.language)
            draft = CallRecord(
                id=0, carrier=cmd.carrier.value, carrier_call_id=cmd.carrier_call_id,
                direction=cmd.direction, from_number=cmd.from_number, to_number=cmd.to_number,
                customer_id=cmd.customer_id, agent_id=None, queue=None, started_at=cmd.at,
                queued_at=None, answered_at=None, ended_at=None,
                disposition=CallDisposition.IN_PROGRESS, carrier_status=None, status_rank=0,
                ivr_path=None, ivr_state=None, ivr_version=0, language=cmd.language,
                callback_attempt_id=None)
            context = self._context(cmd.carrier, cmd.at, caller.timezone, caller.verified,
                                    caller.language,
                                    None, in_region(e164, self.settings.default_region))
            ctx = _CallCtx(draft, Session(FLOWS[flow]), flow, number)
            steps, media, survey = await self._fast_run(ctx, ev.Start(context))
            if survey is not None:
                raise _NotFast("a survey in the first turn")
            events = [call_log.started_event_for(cmd),
                      *(call_log.step_event(step) for step in steps)]
            stored = await self.fast.open(CallOpen({
                **new_call_values(cmd), "ivr_version": 1, "ivr_state": self._state(ctx, media),
                "ivr_path": call_log.path_after(None, steps),
            }, events))
            if stored is None:
                return None  # logged already: the transaction replays its first turn
        except _NotFast:
            FAST_TURNS.inc(outcome="transaction")
            return None
        except Exception as exc:  # never worse than the transaction: fall back to it
            log.warning("fast IVR path failed (%s: %s); starting the call in a transaction",
                        type(exc).__name__, exc)
            FAST_TURNS.inc(outcome="error")
            return None
        FAST_TURNS.inc(outcome="opened")
        log.info("call started", extra={"carrier": str(cmd.carrier), "caller": mask_number(number)})
        return Turn(stored.id, media, ctx.session.ended, None, stored.ivr_version,
                    ctx.session.language, call=stored)

    async def _fast_run(self, ctx: _CallCtx, event: ev.Event,
                        ) -> tuple[list[call_log.IvrStep], list[act.Action], SurveyWrite | None]:
        """Run the session on `event` with the fast path's effects: the steps, the media and
        the survey to store; `_NotFast` when the turn needs a transaction."""
        assert self.fast is not None
        uow = _FastUnitOfWork(self.fast)
        token = _FAST_UOW.set(uow)
        try:
            steps, media = await self._run(ctx, event, self._fast_perform)
        finally:
            _FAST_UOW.reset(token)
        if any(isinstance(item, act.Transfer) for item in media):
            raise _NotFast("a transfer to agents")  # the queue hand-off is the transaction's
        TURNS.inc(carrier=ctx.call.carrier)
        return steps, media, uow.surveys.written

    async def _fast_perform(self, ctx: _CallCtx, effect: act.Effect) -> ev.Event | None:
        """The same performer as in a transaction, on `_FastUnitOfWork`; any other effect, or
        a failure, sends the turn to the transaction (which takes the safe path if need be)."""
        if not isinstance(effect, _FAST_EFFECTS):
            raise _NotFast(type(effect).__name__)
        try:
            return await _PERFORMERS[type(effect)](self, ctx, effect)  # type: ignore[no-any-return]
        except _NotFast:
            raise
        except Exception as exc:
            raise _NotFast(type(exc).__name__) from exc

    async def _fast_turn(self, ctx: _CallCtx, event: ev.Event) -> Turn:
        assert self.fast is not None
        call = ctx.call
        steps, media, survey = await self._fast_run(ctx, event)
        state = self._state(ctx, media)
        path = call_log.path_after(call.ivr_path, steps)
        saved = await self.fast.save(TurnSave(call, state, path, steps, survey))
        if saved is None:
            raise call_log.StaleIvrState(f"call {call.id} was advanced by another process")
        return Turn(call.id, media, ctx.session.ended, None, saved.ivr_version,
                    ctx.session.language, call=saved)

    async def _fast_status(self, carrier: Carrier, carrier_call_id: str, status: str,
                           duration_s: float | None) -> CallRecord | None:
        """A status callback through `PgTurnStore` when it needs no IVR turn (the session
        is over, or the status is not final); None: settle it in a transaction."""
        assert self.fast is not None
        try:
            call = await self.fast.load(str(carrier), carrier_call_id)
            if call is None:
                return None  # the transactional path raises UnknownCall
            if status in FINAL_STATUSES and call.ivr_state and \
                    not json.loads(call.ivr_state).get("ended"):
                return None  # the caller hung up mid-flow: the session keeps what they gave
            writes = CallWrites({}, [])
            settled = await call_log.settle_status(
                _FastWrites(writes), call, status, self.clock(),  # type: ignore[arg-type]
                duration_s=duration_s)
            if not await self.fast.settle(call, writes):
                FAST_TURNS.inc(outcome="transaction")
                return None
        except Exception as exc:  # never worse than the transaction: fall back to it
            log.warning("fast status path failed (%s: %s); settling in a transaction",
                        type(exc).__name__, exc)
            FAST_TURNS.inc(outcome="error")
            return None
        FAST_TURNS.inc(outcome="settled")
        return settled

    def _state(self, ctx: _CallCtx, media: list[act.Action]) -> str:
        return json.dumps({
            "flow": ctx.flow_name, "session": ctx.session.to_json(), "media": dump_media(media),
            "ended": ctx.session.ended, "language": ctx.session.language,
        }, ensure_ascii=False)

    # -- internals --------------------------------------------------------------------------

    def _context(self, carrier: Carrier, now: datetime, tz: str, known: bool, language: str,
                 outbound: dict[str, Any] | None, callable_number: bool = False,
                 ) -> ev.CallerContext:
        return ev.CallerContext(
            caller_known=known, customer_tz=tz, language=language,
            agents_open=self._agents_open(now, carrier),
            local_now_iso=now.astimezone(ZoneInfo(tz)).isoformat(), outbound=outbound,
            callback_number_known=outbound is not None or callable_number,
        )

    def _callable(self, number: str | None) -> str | None:
        """`number` as E.164 when the centre can call it back (a valid number of its
        region); None for a withheld, foreign or unparseable one."""
        if not number:
            return None
        try:
            return normalize_regional_phone(number, self.settings.default_region)
        except InvalidPhoneNumber:
            return None

    def _agents_open(self, now: datetime, carrier: Carrier) -> bool:
        """Within opening hours, and (ROUTE_TO_READY_AGENTS) an agent can take the call: the
        IVR offers a callback instead of sending the caller to nobody."""
        start, end = self.settings.open_hours
        local = now.astimezone(self.settings.zone).time()
        if not start <= local < end:
            return False
        available = self.availability() if self.availability is not None else None
        if not self.settings.route_to_ready_agents or available is None:
            return True
        return bool(available.can_take(str(carrier)))

    async def _outbound_target(self, attempt_id: str | None) -> OutboundTarget | None:
        if not attempt_id:
            return None
        target = await outbound_target(attempt_id, self.uow())
        if target is None:
            log.warning("outbound call for unknown callback attempt %s; no callback context",
                        attempt_id)
        return target

    async def _callback_customer(self, target: OutboundTarget | None) -> Customer | None:
        """The callback's customer on an outbound call (None: identify by number)."""
        from crm.customers import NoSuchCustomer
        from crm.services.customers import get_customer

        if target is None or target.customer_id is None:
            return None
        try:
            return await get_customer(target.customer_id, self.uow())
        except NoSuchCustomer:
            log.warning("callback %s names a missing customer", target.callback_id)
            return None

    async def _identify(self, uow: SqlUnitOfWork, number: str | None) -> Customer | None:
        """The customer owning `number` (a new unverified one for a stranger), in the turn."""
        from crm.services.customers import find_or_add_caller

        if not number:
            return None
        try:
            return await find_or_add_caller(
                uow, number, default_region=self.settings.default_region,
                default_tz=self.settings.timezone,
            )
        except InvalidPhoneNumber:
            log.info("withheld or invalid caller id; the call goes on without a customer")
            return None

    async def _load(self, uow: SqlUnitOfWork, carrier: Carrier, carrier_call_id: str) -> _CallCtx:
        call = await call_log.load_call(uow, carrier, carrier_call_id)
        if not call.ivr_state:
            raise call_log.UnknownCall(f"call {carrier}:{carrier_call_id} has no IVR session")
        return self._ctx(call)

    def _ctx(self, call: CallRecord) -> _CallCtx:
        stored = json.loads(call.ivr_state or "{}")
        flow_name = stored.get("flow", "hotline")
        session = Session.from_json(FLOWS[flow_name], stored["session"])
        phone = call.from_number if call.direction == Direction.INBOUND else call.to_number
        return _CallCtx(call, session, flow_name, phone)

    async def _caller_gone(self, uow: SqlUnitOfWork, carrier: Carrier,
                           carrier_call_id: str) -> CallRecord:
        """Feed a live session its hang-up; the call as now stored."""
        call = await call_log.load_call(uow, carrier, carrier_call_id)
        if not call.ivr_state:
            return call
        ctx = self._ctx(call)
        if ctx.session.ended:
            return call
        turn = await self._turn(uow, ctx, ev.Hangup())
        return turn.call or call

    def _replay(self, call: CallRecord) -> Turn:
        stored = json.loads(call.ivr_state or "{}")
        media = load_media(stored.get("media", []))
        transfer = next((m for m in media if isinstance(m, act.Transfer)), None)
        return Turn(call.id, media, bool(stored.get("ended")), transfer, call.ivr_version,
                    stored.get("language", self.settings.language), replayed=True)

    async def _run(self, ctx: _CallCtx, event: ev.Event,
                   perform: Callable[[_CallCtx, act.Effect], Awaitable[ev.Event | None]],
                   ) -> tuple[list[call_log.IvrStep], list[act.Action]]:
        """Feed `event` to the session: its steps (numbered by the call's version), the media
        to render, each effect performed by `perform` and its result fed back."""
        version = ctx.call.ivr_version
        steps: list[call_log.IvrStep] = []
        media: list[act.Action] = []
        pending: list[act.Action] = list(ctx.session.handle(event))
        while pending:
            action = pending.pop(0)
            if isinstance(action, act.Step):
                steps.append(call_log.IvrStep(self.clock(), action.node, action.keys,
                                              action.outcome, f"{version}.{len(steps)}"))
            elif isinstance(action, act.Effect):
                result = await perform(ctx, action)
                if result is not None and ctx.session.waiting_for is not None:
                    pending.extend(ctx.session.handle(result))
            else:
                media.append(action)
        return steps, media

    async def _turn(self, uow: SqlUnitOfWork, ctx: _CallCtx, event: ev.Event, *,
                    events: list[call_log.CallEventIn] | None = None) -> Turn:
        TURNS.inc(carrier=ctx.call.carrier)
        steps, media = await self._run(ctx, event, self._perform)
        transfer = next((m for m in media if isinstance(m, act.Transfer)), None)
        state = self._state(ctx, media)
        queued = (transfer.queue, self.clock()) if transfer is not None else None
        saved = await call_log.save_turn(uow, ctx.call, state, steps, queued=queued,
                                         events=events or ())
        return Turn(ctx.call.id, media, ctx.session.ended, transfer, saved.ivr_version,
                    ctx.session.language, call=saved)

    async def _perform(self, ctx: _CallCtx, effect: act.Effect) -> ev.Event | None:
        name = type(effect).__name__
        try:
            performer = _PERFORMERS[type(effect)]
            return await performer(self, ctx, effect)
        except Exception as exc:  # a safe IVR path, never a dead call
            EFFECT_FAILURES.inc(effect=name)
            log.exception("IVR effect %s failed; the caller takes the safe path", name)
            return ev.EffectFailed(name, type(exc).__name__)

    async def _remember_language(self, ctx: _CallCtx, effect: act.RememberLanguage) -> None:
        """The caller chose the other language: the call goes on in it (the session switched)
        and their record keeps it for the next call. An unknown caller has no record yet."""
        from crm.services.customers import update_customer

        if ctx.call.customer_id is None:
            return None
        await update_customer(ctx.call.customer_id, {"language": effect.language}, self.uow())
        return None

    async def _create_complaint(self, ctx: _CallCtx, effect: act.CreateComplaint) -> ev.Event:
        from crm.services.complaints import Actor, OpenComplaint, open_complaint

        await self._caller_record(ctx)
        opened = await open_complaint(OpenComplaint(
            customer_id=ctx.call.customer_id,  # type: ignore[arg-type]  # set just above
            channel=ComplaintChannel.PHONE_IVR,
            category=ComplaintCategory(effect.category), recording_url=effect.recording_url,
            call_id=ctx.call.id, actor=Actor.system("ivr"),
            description="" if not effect.partial else "(caller hung up before recording)",
        ), self.uow(), clock=self.clock)
        return ev.ComplaintCreated(opened.ticket)

    async def _lookup_job(self, ctx: _CallCtx, effect: act.LookupJob) -> ev.Event:
        job = await surveys.find_job_for_caller(ctx.call.customer_id, effect.reference, self.uow(),
                                                at=self.clock())
        if job is None:
            return ev.JobLookup(False)
        return ev.JobLookup(True, job.id, job.reference)

    async def _save_survey(self, ctx: _CallCtx, effect: act.SaveSurvey) -> ev.Event:
        outbound = ctx.call.direction == Direction.OUTBOUND  # keyed on a callback flow
        try:  # the number the call came from / was placed to: first-hand only from the customer's
            number = normalize_phone(ctx.phone, self.settings.default_region) if ctx.phone else None
        except InvalidPhoneNumber:
            number = None
        saved = await surveys.save_survey(surveys.SaveSurvey(
            job_id=effect.job_id, source=SurveySource.CALLBACK if outbound else SurveySource.IVR,
            grades={_SURVEY_ITEMS.get(k, k): parse_grade(v) for k, v in effect.grades.items()},
            at=self.clock(), customer_id=ctx.call.customer_id, call_id=ctx.call.id,
            number=number,
        ), self.uow())
        return ev.SurveySaved(saved.id)

    async def _caller_record(self, ctx: _CallCtx) -> int:
        """The call's customer; for a caller nobody could identify (withheld or unreadable
        number), a new "unidentified caller" record that the call now belongs to."""
        from crm.services.customers import record_unidentified_caller

        if ctx.call.customer_id is not None:
            return ctx.call.customer_id
        record = await record_unidentified_caller(
            self.uow(), call_id=ctx.call.id, timezone=ctx.session.context.customer_tz,
            language=ctx.session.language)
        ctx.call = dataclasses.replace(ctx.call, customer_id=record.customer_id)
        log.info("caller without a readable number: unidentified caller record %s",
                 record.customer_id)
        return record.customer_id

    async def _check_callback_number(self, ctx: _CallCtx,
                                     effect: act.CheckCallbackNumber) -> ev.Event:
        e164 = self._callable(effect.digits)
        return ev.NumberChecked(e164 is not None, e164)

    async def _lookup_complaint_status(self, ctx: _CallCtx,
                                       effect: act.LookupComplaintStatus) -> ev.Event:
        from crm.services.complaint_status import complaint_status_for_caller

        views = await complaint_status_for_caller(
            self.uow(), customer_id=ctx.call.customer_id, ticket=effect.ticket)
        zone = ZoneInfo(ctx.session.context.customer_tz)
        lines = []
        for view in views:
            due = view.due_at.astimezone(zone) if view.due_at is not None else None
            lines.append(ev.StatusLine(
                view.ticket, str(view.state), view.department_name, view.department_code,
                due.month if due else None, due.day if due else None))
        return ev.ComplaintStatus(tuple(lines))

    async def _schedule_callback(self, ctx: _CallCtx, effect: act.ScheduleCallback) -> ev.Event:
        from crm.services.callbacks import request_callback

        tz = ctx.session.context.customer_tz
        if effect.phone is not None:  # keyed by a caller we cannot call back on their ID
            phone = normalize_regional_phone(effect.phone, self.settings.default_region)
            await self._caller_record(ctx)
        else:
            known = self._callable(ctx.phone)
            if known is None:
                return ev.EffectFailed("ScheduleCallback", "no number to call back")
            phone = known
        record = await request_callback(
            ctx.call.customer_id, phone, effect.window, ctx.call.id, self.uow(),  # type: ignore[arg-type]
            self.clock, tz,
        )
        return ev.CallbackScheduled(record.id, record.due_at.astimezone(ZoneInfo(tz)).isoformat())


_PERFORMERS: dict[type[act.Effect], Any] = {
    act.RememberLanguage: HotlineDriver._remember_language,
    act.CreateComplaint: HotlineDriver._create_complaint,
    act.LookupJob: HotlineDriver._lookup_job,
    act.SaveSurvey: HotlineDriver._save_survey,
    act.ScheduleCallback: HotlineDriver._schedule_callback,
    act.CheckCallbackNumber: HotlineDriver._check_callback_number,
    act.LookupComplaintStatus: HotlineDriver._lookup_complaint_status,
    **OUTBOUND_PERFORMERS,
}
