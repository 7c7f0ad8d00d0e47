"""Use cases for the call log: every call, inbound or outbound, on the customer's record.

Guarantees:
- `start_call` is idempotent on (carrier, carrier call id): a retried webhook
  or a replayed AMI event never makes a second call row.
- Timeline events carry a `dedupe_key`; the same event twice is stored once.
- When a call ends, its outcome is settled (crm.calls.settle_disposition) and
  a `call` contact is written for its customer, once.
- The IVR session state is saved with optimistic locking (`ivr_version`), so
  two processes cannot both continue the same call from the same state.

Two shapes of function: the use cases (`start_call`, `end_call`, ...) open
and commit their own transaction; the *turn steps* (`open_call`,
`load_call`, `save_turn`, `settle_status`, `settle_end`) run inside a
transaction the caller already opened (``async with uow:``) and never
commit, so the IVR driver can make one webhook turn one transaction. Each
use case is its turn steps plus the transaction around them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from crm.calls import CallRecord, extend_path, moves_forward, settle_disposition, status_rank
from crm.enums import CallDisposition, Carrier, Direction
from crm.services.unit_of_work import UnitOfWork


class UnknownCall(LookupError):
    http_status = 404


class StaleIvrState(RuntimeError):
    """Another process advanced this call's IVR session first; reload and retry."""

    http_status = 409


#: the longest caller ID or dialled number a call keeps, as the carrier sent it
NUMBER_TEXT_MAX = 40


def carrier_number(text: str | None) -> str | None:
    """A caller ID or dialled number as a carrier sent it, fit to keep on the call: a
    carrier may send anything there (a SIP URI, 50 digits, a NUL), and the caller is
    served all the same. NUL characters are dropped and the text is cut to
    `NUMBER_TEXT_MAX` characters (the caller is found by the whole number before)."""
    if text is None or (len(text) <= NUMBER_TEXT_MAX and "\x00" not in text):
        return text
    return text.replace("\x00", "")[:NUMBER_TEXT_MAX]


@dataclass(frozen=True)
class StartCall:
    """A call to log; its numbers are kept as `carrier_number` makes them."""

    carrier: Carrier
    carrier_call_id: str
    direction: Direction
    from_number: str | None
    to_number: str | None
    at: datetime
    customer_id: int | None = None
    language: str | None = None
    callback_attempt_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "from_number", carrier_number(self.from_number))
        object.__setattr__(self, "to_number", carrier_number(self.to_number))


@dataclass(frozen=True)
class CallEventIn:
    at: datetime
    kind: str
    node: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    dedupe_key: str | None = None


class CallRepository(Protocol):
    async def get(self, call_id: int) -> CallRecord | None: ...
    async def by_carrier_id(self, carrier: str, carrier_call_id: str) -> CallRecord | None: ...
    async def add(self, cmd: StartCall) -> CallRecord | None:
        """Insert; None when (carrier, id) already exists (a concurrent insert won)."""
    async def update(self, call_id: int, **values: Any) -> None: ...
    async def add_event(self, call_id: int, event: CallEventIn) -> bool:
        """False when an event with the same dedupe key is already stored."""
    async def add_events(self, call_id: int, events: Sequence[CallEventIn]) -> list[str | None]:
        """Store in one statement; the dedupe keys of those actually stored (new ones)."""
    async def save_ivr_state(self, call_id: int, state: str, expected_version: int,
                             **values: Any) -> bool:
        """Write state (and `values`) only if `ivr_version` is still `expected_version`."""
    async def add_call_contact(self, call: CallRecord, at: datetime) -> None: ...
    async def events(self, call_id: int) -> list[CallEventIn]: ...


async def open_call(uow: UnitOfWork, cmd: StartCall, *,
                    started_event: bool = True) -> tuple[CallRecord, bool]:
    """Turn step: log a new call or find the one logged already. Returns (call, created).

    A concurrent insert of the same (carrier, call id) loses on the unique
    key without aborting the transaction, and gets the winner's row. With
    `started_event` the "started" timeline event is written with a new call;
    without, the caller writes it (`started_event_for`) with the turn's steps.
    """
    call = await uow.calls.add(cmd)
    if call is not None:
        if started_event:
            await uow.calls.add_event(call.id, started_event_for(cmd))
        return call, True
    found = await uow.calls.by_carrier_id(cmd.carrier, cmd.carrier_call_id)
    if found is None:
        raise UnknownCall(f"call {cmd.carrier}:{cmd.carrier_call_id} vanished after insert")
    return found, False


def started_event_for(cmd: StartCall) -> CallEventIn:
    return CallEventIn(cmd.at, "started", detail={"direction": cmd.direction.value},
                       dedupe_key="started")


async def start_call(cmd: StartCall, uow: UnitOfWork) -> tuple[CallRecord, bool]:
    """Log a new call, or return the one already logged. Returns (call, created)."""
    async with uow:
        call, created = await open_call(uow, cmd)
        await uow.commit()
    return call, created


async def load_call(uow: UnitOfWork, carrier: str, carrier_call_id: str) -> CallRecord:
    """Turn step: the call, or `UnknownCall`."""
    call = await uow.calls.by_carrier_id(carrier, carrier_call_id)
    if call is None:
        raise UnknownCall(f"no call {carrier}:{carrier_call_id}; start it first")
    return call


async def get_call(carrier: str, carrier_call_id: str, uow: UnitOfWork) -> CallRecord:
    async with uow:
        return await load_call(uow, carrier, carrier_call_id)


async def record_ivr_step(
    call_id: int, at: datetime, node: str, keys: str | None, outcome: str, uow: UnitOfWork,
    *, seq: int | None = None,
) -> None:
    """One IVR step on the call's timeline, and the call's IVR path extended."""
    async with uow:
        call = await uow.calls.get(call_id)
        if call is None:
            raise UnknownCall(f"no call with id {call_id}")
        added = await uow.calls.add_event(
            call_id,
            CallEventIn(at, "ivr_step", node, {"keys": keys, "outcome": outcome},
                        None if seq is None else f"ivr:{seq}"),
        )
        if added:
            await uow.calls.update(call_id, ivr_path=extend_path(call.ivr_path, node))
        await uow.commit()


async def save_ivr_state(call_id: int, state: str, expected_version: int, uow: UnitOfWork) -> int:
    """Store the session JSON; returns the new version or raises StaleIvrState."""
    async with uow:
        if not await uow.calls.save_ivr_state(call_id, state, expected_version):
            raise StaleIvrState(f"call {call_id} was advanced by another process")
        await uow.commit()
    return expected_version + 1


async def mark_queued(call_id: int, at: datetime, queue: str, uow: UnitOfWork) -> None:
    async with uow:
        call = await uow.calls.get(call_id)
        if call is None:
            raise UnknownCall(f"no call with id {call_id}")
        if call.queued_at is None:
            await uow.calls.update(call_id, queued_at=at, queue=queue)
        await uow.calls.add_event(call_id, CallEventIn(at, "queued", detail={"queue": queue},
                                                       dedupe_key=f"queued:{queue}"))
        await uow.commit()


async def mark_answered(call_id: int, at: datetime, agent_id: int | None, uow: UnitOfWork) -> None:
    async with uow:
        call = await uow.calls.get(call_id)
        if call is None:
            raise UnknownCall(f"no call with id {call_id}")
        if call.answered_at is None:
            await uow.calls.update(call_id, answered_at=at, agent_id=agent_id or call.agent_id)
        await uow.calls.add_event(call_id, CallEventIn(at, "answered", detail={"agent_id": agent_id},
                                                       dedupe_key="answered"))
        await uow.commit()


async def end_call(
    call_id: int, at: datetime, uow: UnitOfWork, *, final_status: str | None = None,
    disposition: CallDisposition | None = None, duration_s: float | None = None,
) -> CallRecord:
    """Settle the call's outcome once; later calls only fill in a missing duration."""
    async with uow:
        call = await uow.calls.get(call_id)
        if call is None:
            raise UnknownCall(f"no call with id {call_id}")
        ended = await settle_end(uow, call, at, final_status=final_status,
                                 disposition=disposition, duration_s=duration_s)
        await uow.commit()
    return ended


async def settle_end(
    uow: UnitOfWork, call: CallRecord, at: datetime, *, final_status: str | None = None,
    disposition: CallDisposition | None = None, duration_s: float | None = None,
    also: dict[str, Any] | None = None, events: Sequence[CallEventIn] = (),
) -> CallRecord:
    """Turn step of `end_call`: `call` as read in this transaction; returns it as now stored.

    `also`: more columns for the same UPDATE (the final carrier status); `events`:
    more timeline events for the same INSERT (the status callback's own)."""
    if call.ended_at is None:
        if disposition is not None:
            call = replace(call, disposition=disposition)
        settled = settle_disposition(call, final_status)
        await uow.calls.update(call.id, ended_at=at, disposition=settled.value,
                               duration_s=duration_s, **(also or {}))
        await uow.calls.add_events(call.id, [*events, CallEventIn(
            at, "ended", detail={"disposition": settled.value, "status": final_status},
            dedupe_key="ended")])
        ended = replace(call, ended_at=at, disposition=settled)
        if ended.customer_id is not None:
            await uow.calls.add_call_contact(ended, at)
        return ended
    if events:
        await uow.calls.add_events(call.id, events)
    if duration_s is not None or also:
        await uow.calls.update(call.id, **({"duration_s": duration_s} if duration_s is not None
                                           else {}), **(also or {}))
    return call


async def apply_carrier_status(
    carrier: str, carrier_call_id: str, status: str, at: datetime, uow: UnitOfWork,
    *, duration_s: float | None = None,
) -> CallRecord:
    """A carrier status callback: idempotent and order-proof (see crm.calls.STATUS_RANK).

    A final status also ends the call (`end_call`), in the same transaction."""
    status_rank(status)  # UnknownCarrierStatus before any read
    async with uow:
        call = await load_call(uow, carrier, carrier_call_id)
        call = await settle_status(uow, call, status, at, duration_s=duration_s)
        await uow.commit()
    return call


async def settle_status(
    uow: UnitOfWork, call: CallRecord, status: str, at: datetime, *,
    duration_s: float | None = None,
) -> CallRecord:
    """Turn step of `apply_carrier_status`: returns the call as now stored."""
    rank = status_rank(status)
    seen = CallEventIn(at, "status", detail={"status": status, "duration_s": duration_s},
                       dedupe_key=f"status:{status}")
    values: dict[str, Any] = {}
    if moves_forward(call.status_rank, status):
        values = {"carrier_status": status, "status_rank": rank}
        if status in ("in-progress", "answered") and call.direction == Direction.OUTBOUND \
                and call.answered_at is None:
            values["answered_at"] = at
        call = replace(call, carrier_status=status, status_rank=rank,
                       answered_at=values.get("answered_at", call.answered_at))
    if rank == 4:  # one UPDATE for the status and the end, one INSERT for their events
        return await settle_end(uow, call, at, final_status=status, duration_s=duration_s,
                                also=values, events=(seen,))
    await uow.calls.add_event(call.id, seen)
    if values:
        await uow.calls.update(call.id, **values)
    return call


@dataclass(frozen=True)
class IvrStep:
    at: datetime
    node: str
    keys: str
    outcome: str
    seq: str


def step_event(step: IvrStep) -> CallEventIn:
    """An IVR step as the call's timeline stores it (its dedupe key carries the version)."""
    return CallEventIn(step.at, "ivr_step", step.node,
                       {"keys": step.keys, "outcome": step.outcome}, f"ivr:{step.seq}")


def path_after(path: str | None, steps: Sequence[IvrStep]) -> str | None:
    """The call's IVR path once `steps` are taken."""
    for step in steps:
        path = extend_path(path, step.node)
    return path


async def save_turn(
    uow: UnitOfWork, call: CallRecord, state: str, steps: Sequence[IvrStep], *,
    queued: tuple[str, datetime] | None = None, events: Sequence[CallEventIn] = (),
) -> CallRecord:
    """Turn step: store one IVR turn of `call` (as read in this transaction).

    One UPDATE guarded by ``ivr_version == call.ivr_version`` (raises
    StaleIvrState when another process got there first: roll back) writes the
    state, the version bump, the IVR path and the queue hand-off; one INSERT
    writes the turn's steps and `events`. The steps' dedupe keys carry the
    version (``ivr:<version>.<n>``), and only the transaction that moved the
    version on can write them, so the path is extended with every step here,
    before the insert. Returns the call as now stored.
    """
    path = path_after(call.ivr_path, steps)
    values: dict[str, Any] = {}
    if path != call.ivr_path:
        values["ivr_path"] = path
    timeline = list(events)
    if queued is not None and call.queued_at is None:
        values.update(queue=queued[0], queued_at=queued[1])
        timeline.append(CallEventIn(queued[1], "queued", detail={"queue": queued[0]},
                                    dedupe_key=f"queued:{queued[0]}"))
    if not await uow.calls.save_ivr_state(call.id, state, call.ivr_version, **values):
        raise StaleIvrState(f"call {call.id} was advanced by another process")
    timeline.extend(step_event(step) for step in steps)
    await uow.calls.add_events(call.id, timeline)
    return replace(call, ivr_state=state, ivr_version=call.ivr_version + 1, ivr_path=path,
                   queue=values.get("queue", call.queue),
                   queued_at=values.get("queued_at", call.queued_at))
