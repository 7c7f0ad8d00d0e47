"""Use cases for the call log: every call, inbound or outbound, on the customer's record.

Guarantees:
- `start_call` is idempotent on (carrier, carrier call id): a retried webhook
  or a replayed AMI event never makes a second call row.
- Timeline events carry a `dedupe_key`; the same event twice is stored once.
- When a call ends, its outcome is settled (crm.calls.settle_disposition) and
  a `call` contact is written for its customer, once.
- The IVR session state is saved with optimistic locking (`ivr_version`), so
  two processes cannot both continue the same call from the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class StartCall:
    carrier: Carrier
    carrier_call_id: str
    direction: Direction
    from_number: str | None
    to_number: str | None
    at: datetime
    customer_id: int | None = None
    language: str | None = None
    callback_attempt_id: str | None = None


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
    async def save_ivr_state(self, call_id: int, state: str, expected_version: int) -> bool: ...
    async def add_call_contact(self, call: CallRecord, at: datetime) -> None: ...
    async def events(self, call_id: int) -> list[CallEventIn]: ...


async def start_call(cmd: StartCall, uow: UnitOfWork) -> tuple[CallRecord, bool]:
    """Log a new call, or return the one already logged. Returns (call, created)."""
    async with uow:
        existing = await uow.calls.by_carrier_id(cmd.carrier, cmd.carrier_call_id)
        if existing is not None:
            return existing, False
        call = await uow.calls.add(cmd)
        if call is None:  # lost a race with another process: theirs stands
            await uow.rollback()
        else:
            await uow.calls.add_event(
                call.id, CallEventIn(cmd.at, "started", detail={"direction": cmd.direction.value},
                                     dedupe_key="started")
            )
            await uow.commit()
            return call, True
    async with uow:
        found = await uow.calls.by_carrier_id(cmd.carrier, cmd.carrier_call_id)
        if found is None:
            raise UnknownCall(f"call {cmd.carrier}:{cmd.carrier_call_id} vanished after insert")
        return found, False


async def get_call(carrier: str, carrier_call_id: str, uow: UnitOfWork) -> CallRecord:
    async with uow:
        call = await uow.calls.by_carrier_id(carrier, carrier_call_id)
    if call is None:
        raise UnknownCall(f"no call {carrier}:{carrier_call_id}; start it first")
    return call


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
        if call.ended_at is None:
            if disposition is not None:
                call = _with(call, disposition=disposition)
            settled = settle_disposition(call, final_status)
            await uow.calls.update(call_id, ended_at=at, disposition=settled.value,
                                   duration_s=duration_s)
            await uow.calls.add_event(call_id, CallEventIn(
                at, "ended", detail={"disposition": settled.value, "status": final_status},
                dedupe_key="ended"))
            ended = await uow.calls.get(call_id)
            assert ended is not None
            if ended.customer_id is not None:
                await uow.calls.add_call_contact(ended, at)
            await uow.commit()
            return ended
        if duration_s is not None:
            await uow.calls.update(call_id, duration_s=duration_s)
            await uow.commit()
        return call


async def apply_carrier_status(
    carrier: str, carrier_call_id: str, status: str, at: datetime, uow: UnitOfWork,
    *, duration_s: float | None = None,
) -> CallRecord:
    """A carrier status callback: idempotent and order-proof (see crm.calls.STATUS_RANK)."""
    rank = status_rank(status)
    async with uow:
        call = await uow.calls.by_carrier_id(carrier, carrier_call_id)
        if call is None:
            raise UnknownCall(f"no call {carrier}:{carrier_call_id}")
        await uow.calls.add_event(call.id, CallEventIn(
            at, "status", detail={"status": status, "duration_s": duration_s},
            dedupe_key=f"status:{status}"))
        news = moves_forward(call.status_rank, status)
        if news:
            values: dict[str, Any] = {"carrier_status": status, "status_rank": rank}
            if status in ("in-progress", "answered") and call.direction == Direction.OUTBOUND \
                    and call.answered_at is None:
                values["answered_at"] = at
            await uow.calls.update(call.id, **values)
        await uow.commit()
    if rank == 4:
        return await end_call(call.id, at, uow, final_status=status, duration_s=duration_s)
    async with uow:
        refreshed = await uow.calls.get(call.id)
    assert refreshed is not None
    return refreshed


def _with(call: CallRecord, **changes: Any) -> CallRecord:
    from dataclasses import replace

    return replace(call, **changes)


@dataclass(frozen=True)
class IvrStep:
    at: datetime
    node: str
    keys: str
    outcome: str
    seq: str


async def advance_ivr(
    call_id: int, state: str, expected_version: int, steps: list[IvrStep], uow: UnitOfWork,
    *, queued: tuple[str, datetime] | None = None,
) -> int:
    """One IVR turn in one transaction: the session state, its steps, and the queue hand-off.

    Raises StaleIvrState (and writes nothing) when another process advanced
    the call since `expected_version` was read.
    """
    async with uow:
        call = await uow.calls.get(call_id)
        if call is None:
            raise UnknownCall(f"no call with id {call_id}")
        if not await uow.calls.save_ivr_state(call_id, state, expected_version):
            raise StaleIvrState(f"call {call_id} was advanced by another process")
        path = call.ivr_path
        for step in steps:
            if await uow.calls.add_event(call_id, CallEventIn(
                step.at, "ivr_step", step.node, {"keys": step.keys, "outcome": step.outcome},
                f"ivr:{step.seq}",
            )):
                path = extend_path(path, step.node)
        values: dict[str, Any] = {}
        if path != call.ivr_path:
            values["ivr_path"] = path
        if queued is not None and call.queued_at is None:
            values.update(queue=queued[0], queued_at=queued[1])
            await uow.calls.add_event(call_id, CallEventIn(
                queued[1], "queued", detail={"queue": queued[0]}, dedupe_key=f"queued:{queued[0]}"))
        if values:
            await uow.calls.update(call_id, **values)
        await uow.commit()
    return expected_version + 1
