"""The IVR turn as a use case: one IVR session per call, on any carrier.

Twilio webhooks and the FastAGI server both call `HotlineDriver`; neither
knows the menus. A turn is: load the call's session (JSON stored on the
call), feed the carrier event, perform the effects the session asks for
(`callcenter.hotline.effects`), feed their results back, store the turn, and
return the media actions to render. It stores through one port, `TurnStore`
(`callcenter.hotline.ports`), and imports no storage.

Entry points: `begin` (a new call), `feed` (a key, a recording, ...),
`hangup`, `carrier_status` (a carrier's status callback), `transferred`.

Guarantees:
- One turn is stored atomically: its state, its IVR steps, its effects'
  writes and the queue hand-off together or not at all. The state is
  written only if the call's `ivr_version` is still the one read: two
  processes can never both advance a call from the same state (the loser's
  whole turn, effects included, is dropped: `StaleIvrState`); a replayed
  request (same version already used) gets the same media again and changes
  nothing.
- Effects are stored before the media that depends on them (a ticket is
  stored before it is read back). A failed effect is undone, logged with the
  call id, and the session gets `EffectFailed`, which takes it to a safe
  path (an agent).
- A webhook of a known caller on a batching store is one statement: the first
  turn is run for the kind of caller this process saw last and logged in one
  statement with finding the caller (`TurnStore.open_for`; another kind of
  caller costs one more statement, as reading the caller first did); a later
  turn uses the call as this process last stored it (`recent.RecentCalls`)
  when the webhook names that version (any version, for a status callback),
  and the jobs as read before (`TurnStore.read_job`). Each such guess is
  checked by the write it leads to (the whole call record, the jobs' rows):
  a guess that turned out wrong writes nothing, is forgotten, and the body
  runs once more on fresh reads. Nothing is held open between webhooks.
- Each entry point is one body run by one skeleton (`_either`): when the store
  can batch (`TurnStore.batches`), the body first runs *batched* (the store's
  atomic guarded statements; only the batchable effects, performed through
  the same handlers on `BatchedUnitOfWork`); a body that needs anything else
  (another effect, a transfer, a stranger to add, a call logged already, a
  caller gone mid-flow) or fails on the way runs again from the start in a
  *transaction* (`TurnStore.transaction`, the effects' use cases in its
  savepoints). Same rows, same media, same replay and stale rules either way.
  A transaction whose connection died (database restart) is run once more
  on a fresh one; it is one transaction, so the retry is clean.
- A caller who hangs up keeps what they gave: the session's partial effects
  (complaint without recording, incomplete survey) are performed.
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
  callee's zone and language (`callcenter.hotline.outbound`), always in a
  transaction; the callback is completed once when the call ends (hang-up
  or goodbye; after a transfer the agent does it).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from callcenter.clock import Clock
from callcenter.hotline.batched import BatchedUnitOfWork, SettlingUnitOfWork
from callcenter.hotline.effects import CallContext, callable_number, perform
from callcenter.hotline.outbound import OutboundTarget, outbound_target
from callcenter.hotline.ports import (
    Caller,
    CallOpen,
    CallWrites,
    NotBatchable,
    TurnSave,
    TurnStore,
    TurnTransaction,
)
from callcenter.hotline.recent import RecentCalls
from callcenter.logs import bind_call_id, mask_number
from callcenter.metrics import REGISTRY
from callcenter.settings import Settings
from crm.calls import FINAL_STATUSES, CallRecord
from crm.customers import Customer
from crm.enums import CallDisposition, Carrier, Direction
from crm.errors import InvalidPhoneNumber
from crm.phones import in_region, normalize_phone
from crm.services import calls as call_log
from crm.services.unit_of_work import UnitOfWork
from ivr import actions as act
from ivr import events as ev
from ivr.flow import Flow
from ivr.hotline import HOTLINE
from ivr.outbound import OUTBOUND_FLOWS
from ivr.session import Session

log = logging.getLogger(__name__)
EFFECT_FAILURES = REGISTRY.counter("callcenter_ivr_effect_failures_total", "IVR effects that failed")
TURNS = REGISTRY.counter("callcenter_ivr_turns_total", "IVR turns by carrier")
FAST_TURNS = REGISTRY.counter("callcenter_ivr_fast_turns_total",
                              "IVR turns stored by the batched fast path, by outcome")

FLOWS: dict[str, Flow] = {"hotline": HOTLINE, **OUTBOUND_FLOWS}
_MEDIA: dict[str, type[act.Action]] = {t.__name__: t for t in act.MEDIA_ACTIONS}
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


def _caller(customer: Customer) -> Caller:
    return Caller(customer.customer_id, customer.verified, customer.language, customer.timezone)


# -- the two ways to run a turn's body ---------------------------------------------------------

class _Scope(Protocol):
    """What a turn's body stores through: batched (`_Batched`) or in a transaction."""

    batched: bool

    @property
    def guessing(self) -> bool:
        """The first turn runs for a guessed kind of caller (`TurnStore.open_for`)."""
        ...

    @property
    def recalled(self) -> CallRecord | None:
        """The call as this process last stored it, used instead of reading it."""
        ...

    async def load(self, carrier: str, carrier_call_id: str) -> CallRecord: ...
    async def identify(self, number: str | None) -> Caller | None: ...
    def can_call_back(self, number: str | None) -> bool: ...
    async def open(self, cmd: call_log.StartCall) -> tuple[CallRecord, bool]: ...
    async def save(self, call: CallRecord, state: str, steps: Sequence[call_log.IvrStep], *,
                   queued: tuple[str, datetime] | None,
                   events: Sequence[call_log.CallEventIn]) -> CallRecord: ...
    async def settle_status(self, call: CallRecord, status: str, at: datetime,
                            duration_s: float | None) -> CallRecord: ...
    async def settle_end(self, call: CallRecord, at: datetime) -> CallRecord: ...
    def uow(self) -> UnitOfWork: ...


class _Transaction:
    """A turn's body in the store's transaction: the `crm.services.calls` turn steps on it,
    the effects' use cases in its savepoints."""

    batched = False
    guessing = False
    recalled: CallRecord | None = None

    def __init__(self, tx: TurnTransaction, settings: Settings) -> None:
        self.tx, self.settings = tx, settings

    async def load(self, carrier: str, carrier_call_id: str) -> CallRecord:
        return await call_log.load_call(self.tx, carrier, carrier_call_id)

    async def identify(self, number: str | None) -> Caller | None:
        """The customer owning `number` (a new unverified one for a stranger)."""
        from crm.services.customers import find_or_add_caller

        if not number:
            return None
        try:
            return _caller(await find_or_add_caller(
                self.tx, number, default_region=self.settings.default_region,
                default_tz=self.settings.timezone))
        except InvalidPhoneNumber:
            log.info("withheld or invalid caller id; the call goes on without a customer")
            return None

    def can_call_back(self, number: str | None) -> bool:
        return callable_number(number, self.settings) is not None

    async def open(self, cmd: call_log.StartCall) -> tuple[CallRecord, bool]:
        return await call_log.open_call(self.tx, cmd, started_event=False)

    async def save(self, call: CallRecord, state: str, steps: Sequence[call_log.IvrStep], *,
                   queued: tuple[str, datetime] | None,
                   events: Sequence[call_log.CallEventIn]) -> CallRecord:
        return await call_log.save_turn(self.tx, call, state, steps, queued=queued, events=events)

    async def settle_status(self, call: CallRecord, status: str, at: datetime,
                            duration_s: float | None) -> CallRecord:
        return await call_log.settle_status(self.tx, call, status, at, duration_s=duration_s)

    async def settle_end(self, call: CallRecord, at: datetime) -> CallRecord:
        return await call_log.settle_end(self.tx, call, at)

    def uow(self) -> UnitOfWork:
        return self.tx.joined()


class _Again(Exception):
    """A batched body ran on a guess that turned out wrong (a remembered call that moved on,
    a caller of another kind than guessed): run it once more without guessing."""

    def __init__(self, why: str, caller: Caller | None = None) -> None:
        super().__init__(why)
        #: the caller found (None: read them)
        self.caller = caller


class _Batched:
    """A turn's body on the store's batched statements: reads and one guarded write; what
    it cannot do that way raises `NotBatchable` (the body then runs in a transaction).

    `recalled`: the call as this process last stored it, used instead of reading it;
    `like`: the kind of caller a new call's first turn is run for, checked by the statement
    that logs it (`TurnStore.open_for`); `caller`: the caller, found already. A guess that
    the write finds wrong raises `_Again`."""

    batched = True

    def __init__(self, store: TurnStore, settings: Settings, *,
                 recalled: CallRecord | None = None, like: Caller | None = None,
                 caller: Caller | None = None) -> None:
        self.store, self.settings = store, settings
        self.recalled, self.like, self.caller = recalled, like, caller
        self.effects = BatchedUnitOfWork(store)
        self._opening: call_log.StartCall | None = None
        self._e164: str | None = None

    @property
    def guessing(self) -> bool:
        return self._e164 is not None

    async def load(self, carrier: str, carrier_call_id: str) -> CallRecord:
        if self.recalled is not None:
            return self.recalled
        call = await self.store.load(carrier, carrier_call_id)
        if call is None:  # the transaction says why (UnknownCall)
            raise NotBatchable(f"no call {carrier}:{carrier_call_id} yet")
        return call

    def _normalized(self, number: str | None) -> str:
        if not number:
            raise NotBatchable("no caller number")
        try:
            return normalize_phone(number, self.settings.default_region)
        except InvalidPhoneNumber as exc:
            raise NotBatchable("an unreadable caller number") from exc

    async def identify(self, number: str | None) -> Caller | None:
        e164 = self._normalized(number)
        if self.caller is not None:
            return self.caller
        if self.like is not None:  # checked when the call is logged
            self._e164 = e164
            return self.like
        caller = await self.store.caller(e164)
        if caller is None:
            raise NotBatchable("a stranger: the transaction adds them")
        return caller

    def can_call_back(self, number: str | None) -> bool:
        return in_region(self._normalized(number), self.settings.default_region)

    async def open(self, cmd: call_log.StartCall) -> tuple[CallRecord, bool]:
        """The call to be: it is stored with its first turn (`save`)."""
        if cmd.callback_attempt_id is not None:
            raise NotBatchable("an outbound call")
        self._opening = cmd
        return CallRecord(
            id=0, carrier=cmd.carrier.value, carrier_call_id=cmd.carrier_call_id,
            direction=cmd.direction, from_number=cmd.from_number, to_number=cmd.to_number,
            customer_id=cmd.customer_id, agent_id=None, queue=None, started_at=cmd.at,
            queued_at=None, answered_at=None, ended_at=None,
            disposition=CallDisposition.IN_PROGRESS, carrier_status=None, status_rank=0,
            ivr_path=None, ivr_state=None, ivr_version=0, language=cmd.language,
            callback_attempt_id=None), True

    async def _open(self, new: CallOpen) -> CallRecord:
        if self._e164 is None or self.like is None:
            opened = await self.store.open(new)
            if opened is None:
                raise NotBatchable("logged already: the transaction replays its first turn")
            return opened
        found = await self.store.open_for(new, self._e164, self.like)
        if found.caller is None:
            raise NotBatchable("a stranger: the transaction adds them")
        if found.call is not None:
            return found.call
        if found.caller.like(self.like):
            raise NotBatchable("logged already: the transaction replays its first turn")
        raise _Again("the caller is of another kind than guessed", found.caller)

    async def save(self, call: CallRecord, state: str, steps: Sequence[call_log.IvrStep], *,
                   queued: tuple[str, datetime] | None,
                   events: Sequence[call_log.CallEventIn]) -> CallRecord:
        if queued is not None:
            raise NotBatchable("a transfer to agents")  # the queue hand-off is the transaction's
        path = call_log.path_after(call.ivr_path, steps)
        survey, reads = self.effects.surveys.written, self.effects.surveys.reads
        if self._opening is not None:
            if survey is not None or reads:
                raise NotBatchable("a first turn that reads or saves a survey")
            return await self._open(CallOpen(
                self._opening, state, path,
                [*events, *(call_log.step_event(step) for step in steps)]))
        saved = await self.store.save(TurnSave(call, state, path, steps, survey, reads))
        if saved is None:
            if self.recalled is not None:
                raise _Again("the call remembered had moved on")
            raise call_log.StaleIvrState(f"call {call.id} was advanced by another process")
        return saved

    async def settle_status(self, call: CallRecord, status: str, at: datetime,
                            duration_s: float | None) -> CallRecord:
        writes = CallWrites()
        settled = await call_log.settle_status(SettlingUnitOfWork(self.store, writes), call,
                                               status, at, duration_s=duration_s)
        if not await self.store.settle(call, writes):
            if self.recalled is not None:
                raise _Again("the call remembered had moved on")
            raise NotBatchable("the call moved on since it was read")
        return settled

    async def settle_end(self, call: CallRecord, at: datetime) -> CallRecord:
        raise NotBatchable("a hang-up is settled in a transaction")

    def uow(self) -> UnitOfWork:
        return self.effects


class HotlineDriver:
    """The hotline's IVR turns (see the module doc) on one `TurnStore`."""

    def __init__(self, store: TurnStore, settings: Settings, clock: Clock,
                 availability: Callable[[], Any] | None = None) -> None:
        self.store, self.settings, self.clock = store, settings, clock
        #: the screen-pop's AgentAvailability (looked up late: it starts after the driver)
        self.availability = availability
        #: the calls this process stored last (a turn may use one instead of reading it)
        self.recent = RecentCalls()
        #: the kind of caller a new call's first turn is run for: the last one found
        self.usual_caller = Caller(0, True, settings.language, settings.timezone)

    def _remember(self, call: CallRecord | None) -> None:
        if call is not None:
            self.recent.remember(call)

    async def _either(self, outcome: str, body: Callable[[_Scope], Awaitable[T]], *,
                      batched: bool = True, recalled: CallRecord | None = None,
                      like: Caller | None = None) -> T:
        """Run `body` batched when the store can (and `batched`), else (or when it cannot
        be batched, or fails) in a transaction, once more if its connection died.

        Batched, it may start from `recalled` (the call as this process last stored it)
        or, for a new call, run its first turn for a caller `like`; a guess the write
        finds wrong (`_Again`) runs the body once more batched, on fresh reads."""
        if batched and self.store.batches:
            scope = _Batched(self.store, self.settings, recalled=recalled, like=like)
            try:
                try:
                    result = await body(scope)
                except _Again as again:
                    log.info("IVR turn run again without its guess: %s", again)
                    if recalled is not None:
                        self.recent.forget(recalled.carrier, recalled.carrier_call_id)
                    result = await body(_Batched(self.store, self.settings,
                                                 caller=again.caller))
            except (NotBatchable, call_log.UnknownCall, _Again):
                FAST_TURNS.inc(outcome="transaction")
            except call_log.StaleIvrState:
                raise  # another webhook moved the call on: the caller answers with its step
            except Exception as exc:  # never worse than the transaction: fall back to it
                # the transaction re-reads: a write that did land is replayed from there
                log.warning("batched IVR turn failed (%s: %s); running it in a transaction",
                            type(exc).__name__, exc)
                FAST_TURNS.inc(outcome="error")
            else:
                replayed = isinstance(result, Turn) and result.replayed
                FAST_TURNS.inc(outcome="replayed" if replayed else outcome)
                return result

        async def transaction() -> T:
            async with self.store.transaction() as tx:
                result = await body(_Transaction(tx, self.settings))
                await tx.commit()
                return result

        try:
            return await transaction()
        except Exception as exc:
            if not self.store.lost_connection(exc):
                raise
            log.warning("the database connection died during a turn; retrying once")
            return await transaction()

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
            flow_name = flow or (target.flow if target else "hotline")
            if flow_name not in FLOWS:
                raise ValueError(f"unknown IVR flow {flow_name!r}; one of {', '.join(FLOWS)}")
            number = caller_number or (
                from_number if direction == Direction.INBOUND else to_number)
            known = await self._callback_customer(target)
            started_in = direction

            async def body(scope: _Scope) -> Turn:
                caller = known or await scope.identify(number)
                if caller is not None and scope.batched and not scope.guessing:
                    # a customer found by number (a stranger added by a transaction is not
                    # the kind of caller to expect next); the kind only, not the id
                    self.usual_caller = dataclasses.replace(caller, customer_id=0)
                now = self.clock()
                language = caller.language if caller else self.settings.language
                cmd = call_log.StartCall(
                    Carrier(carrier), carrier_call_id, started_in, from_number, to_number, now,
                    caller.customer_id if caller else None, language, callback_attempt_id)
                call, created = await scope.open(cmd)
                if not created and call.ivr_state:
                    return self._replay(call)
                tz = target.timezone if target else (
                    caller.timezone if caller else self.settings.timezone)
                context = self._caller_context(
                    carrier, now, tz, bool(caller and caller.verified), language,
                    dict(target.seeds) if target else None, scope.can_call_back(number))
                ctx = self._call_context(scope, call, Session(FLOWS[flow_name]), flow_name, number)
                started = [call_log.started_event_for(cmd)] if created else []
                return await self._turn(scope, ctx, ev.Start(context), events=started)

            inbound = callback_attempt_id is None
            turn = await self._either("opened", body, batched=inbound,
                                      like=self.usual_caller if inbound and not known else None)
            self._remember(turn.call)
            if not turn.replayed:
                log.info("call started", extra={"carrier": str(carrier),
                                                "caller": mask_number(number)})
            return turn

    async def feed(
        self, carrier: Carrier, carrier_call_id: str, event: ev.Event, *,
        expected_version: int | None = None,
    ) -> Turn:
        """Feed one caller event. A request for a version already used replays its media."""
        with bind_call_id(carrier_call_id):
            async def body(scope: _Scope) -> Turn:
                call = await scope.load(carrier, carrier_call_id)
                if not call.ivr_state:
                    raise call_log.UnknownCall(
                        f"call {carrier}:{carrier_call_id} has no IVR session")
                if expected_version is not None and expected_version != call.ivr_version:
                    return self._replay(call)
                ctx = self._stored_context(scope, call)
                if ctx.session.ended:
                    return self._replay(call)
                return await self._turn(scope, ctx, event)

            kept = self.recent.get(str(carrier), carrier_call_id)
            recalled = kept if kept is not None and expected_version is not None and \
                kept.ivr_version == expected_version else None
            turn = await self._either("stored", body, recalled=recalled)
            self._remember(turn.call)
            return turn

    async def hangup(self, carrier: Carrier, carrier_call_id: str, *, end_call: bool = True) -> None:
        """The caller is gone: save what they gave, then (optionally) end the call."""
        with bind_call_id(carrier_call_id):
            async def body(scope: _Scope) -> None:
                try:
                    call = await scope.load(carrier, carrier_call_id)
                except call_log.UnknownCall:
                    log.warning("hangup for a call we never saw")
                    return
                call = await self._caller_gone(scope, call)
                if end_call:
                    await scope.settle_end(call, self.clock())

            self.recent.forget(str(carrier), carrier_call_id)
            await self._either("ended", body, batched=False)

    async def carrier_status(
        self, carrier: Carrier, carrier_call_id: str, status: str, *,
        duration_s: float | None = None,
    ) -> CallRecord:
        """A carrier status callback: on a final status the session first gets its hang-up
        (partial data kept), then the call's outcome is settled (`call_log.settle_status`:
        idempotent and order-proof). `UnknownCall` when the call was never started."""
        with bind_call_id(carrier_call_id):
            async def body(scope: _Scope) -> CallRecord:
                now = self.clock()
                call = await scope.load(carrier, carrier_call_id)
                if status in FINAL_STATUSES:
                    call = await self._caller_gone(scope, call)
                return await scope.settle_status(call, status, now, duration_s)

            settled = await self._either(
                "settled", body, recalled=self.recent.get(str(carrier), carrier_call_id))
            self._remember(settled)
            return settled

    def written_elsewhere(self, carrier: Carrier | str, carrier_call_id: str) -> None:
        """The call was written outside its turns (answered by an agent, ended by a dial
        action): the record remembered of it is dropped, so its next turn reads it (keeping
        it would be safe, the write would refuse it, but would cost a refused write)."""
        self.recent.forget(str(carrier), carrier_call_id)

    # -- the turn ---------------------------------------------------------------------------

    async def _turn(self, scope: _Scope, ctx: CallContext, event: ev.Event, *,
                    events: Sequence[call_log.CallEventIn] = ()) -> Turn:
        steps, media = await self._run(scope, ctx, event)
        transfer = next((m for m in media if isinstance(m, act.Transfer)), None)
        state = self._state(ctx, media)
        queued = (transfer.queue, self.clock()) if transfer is not None else None
        saved = await scope.save(ctx.call, state, steps, queued=queued, events=events)
        TURNS.inc(carrier=ctx.call.carrier)
        return Turn(saved.id, media, ctx.session.ended, transfer, saved.ivr_version,
                    ctx.session.language, call=saved)

    async def _run(self, scope: _Scope, ctx: CallContext, event: ev.Event,
                   ) -> tuple[list[call_log.IvrStep], list[act.Action]]:
        """Feed `event` to the session: its steps (numbered by the call's version), the media
        to render, each effect performed and its result fed back."""
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
                result = await self._perform(scope, ctx, action)
                if result is not None and ctx.session.waiting_for is not None:
                    pending.extend(ctx.session.handle(result))
            else:
                media.append(action)
        return steps, media

    async def _perform(self, scope: _Scope, ctx: CallContext,
                       effect: act.Effect) -> ev.Event | None:
        """The effect's handler. In a transaction a failure takes the safe IVR path (never a
        dead call); batched, an effect the store cannot batch, or a failure, sends the
        turn to a transaction (which takes the safe path if need be)."""
        name = type(effect).__name__
        if scope.guessing:  # the call's customer is not known yet: find them first
            raise _Again(f"{name} in a first turn run for a guessed caller")
        if scope.batched:
            if type(effect) not in self.store.batches:
                raise NotBatchable(name)
            try:
                return await perform(ctx, effect)
            except NotBatchable:
                raise
            except Exception as exc:
                raise NotBatchable(f"{name}: {type(exc).__name__}") from exc
        try:
            return await perform(ctx, effect)
        except Exception as exc:
            EFFECT_FAILURES.inc(effect=name)
            log.exception("IVR effect %s failed; the caller takes the safe path", name)
            return ev.EffectFailed(name, type(exc).__name__)

    async def _caller_gone(self, scope: _Scope, call: CallRecord) -> CallRecord:
        """Feed a live session its hang-up; the call as now stored."""
        if not call.ivr_state or json.loads(call.ivr_state).get("ended"):
            return call
        if scope.recalled is not None:  # that record may be behind: is the caller mid-flow?
            raise _Again("a remembered session not ended at a status callback")
        if scope.batched:  # the session keeps what they gave, in a transaction
            raise NotBatchable("the caller hung up mid-flow")
        turn = await self._turn(scope, self._stored_context(scope, call), ev.Hangup())
        return turn.call or call

    def _state(self, ctx: CallContext, media: list[act.Action]) -> str:
        return json.dumps({
            "flow": ctx.flow_name, "session": ctx.session.to_json(), "media": dump_media(media),
            "ended": ctx.session.ended, "language": ctx.session.language,
        }, ensure_ascii=False)

    def _replay(self, call: CallRecord) -> Turn:
        stored = json.loads(call.ivr_state or "{}")
        media = load_media(stored.get("media", []))
        transfer = next((m for m in media if isinstance(m, act.Transfer)), None)
        return Turn(call.id, media, bool(stored.get("ended")), transfer, call.ivr_version,
                    stored.get("language", self.settings.language), replayed=True)

    # -- contexts ---------------------------------------------------------------------------

    def _call_context(self, scope: _Scope, call: CallRecord, session: Session, flow_name: str,
                      phone: str | None) -> CallContext:
        return CallContext(call, session, flow_name, phone, self.settings, self.clock, scope.uow)

    def _stored_context(self, scope: _Scope, call: CallRecord) -> CallContext:
        stored = json.loads(call.ivr_state or "{}")
        flow_name = stored.get("flow", "hotline")
        session = Session.from_json(FLOWS[flow_name], stored["session"])
        phone = call.from_number if call.direction == Direction.INBOUND else call.to_number
        return self._call_context(scope, call, session, flow_name, phone)

    def _caller_context(self, carrier: Carrier, now: datetime, tz: str, known: bool,
                        language: str, outbound: dict[str, Any] | None,
                        callable_number: bool = False) -> ev.CallerContext:
        return ev.CallerContext(
            caller_known=known, customer_tz=tz, language=language,
            agents_open=self._agents_open(now, carrier),
            local_now_iso=now.astimezone(ZoneInfo(tz)).isoformat(), outbound=outbound,
            callback_number_known=outbound is not None or callable_number,
        )

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
        target = await outbound_target(attempt_id, self.store.unit_of_work())
        if target is None:
            log.warning("outbound call for unknown callback attempt %s; no callback context",
                        attempt_id)
        return target

    async def _callback_customer(self, target: OutboundTarget | None) -> Caller | None:
        """The callback's customer on an outbound call (None: identify by number)."""
        from crm.customers import NoSuchCustomer
        from crm.services.customers import get_customer

        if target is None or target.customer_id is None:
            return None
        try:
            return _caller(await get_customer(target.customer_id, self.store.unit_of_work()))
        except NoSuchCustomer:
            log.warning("callback %s names a missing customer", target.callback_id)
            return None
