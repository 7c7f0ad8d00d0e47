"""An in-memory `TurnStore`: the hotline's turn rules (replay, stale version, fallback to a
transaction) tested without a database, held to the same contract as the real stores
(tests/hotline/test_turn_store_contract.py).

Its transaction is a snapshot of the whole store, restored unless committed; a joined
unit of work is a snapshot inside it (a savepoint). It keeps calls, their timeline,
contacts, callers, jobs and surveys; an effect that needs any other repository fails
(in a transaction the caller then takes the safe IVR path, as with a real failure).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from callcenter.hotline.ports import (
    GUARDED_FIELDS,
    Caller,
    CallOpen,
    CallWrites,
    JobRead,
    Opened,
    TurnSave,
)
from callcenter.storage.turn_store_sql import BATCHABLE
from crm.calls import CallRecord
from crm.enums import CallDisposition
from crm.services.calls import CallEventIn, StartCall, step_event
from crm.surveys import JobRef
from ivr import actions as act

_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(CallRecord))


class FakeTurnStore:
    def __init__(self, *, batches: frozenset[type[act.Effect]] = BATCHABLE) -> None:
        self._batches = batches
        self.rows: dict[int, dict[str, Any]] = {}
        self.timeline: dict[int, list[CallEventIn]] = {}
        self.contacts: dict[int, CallRecord] = {}
        self.surveys: dict[int, dict[str, Any]] = {}
        self.audits: list[dict[str, Any]] = []
        self.callers: dict[str, Caller] = {}
        self.jobs: dict[int, JobRef] = {}
        self.next_id = 1
        self.survey_ids = 0
        #: run once right after the next `load` (another process moving the call on)
        self.after_next_load: Callable[[CallRecord], None] | None = None

    @property
    def batches(self) -> frozenset[type[act.Effect]]:
        return self._batches

    # -- what tests read and seed ---------------------------------------------------------

    def record(self, call_id: int) -> CallRecord:
        row = self.rows[call_id]
        return CallRecord(**{name: row[name] for name in _RECORD_FIELDS})

    def keys(self, call_id: int) -> list[str | None]:
        return [event.dedupe_key for event in self.timeline.get(call_id, [])]

    def _find(self, carrier: str, carrier_call_id: str) -> int | None:
        return next((i for i, row in self.rows.items() if row["carrier"] == carrier
                     and row["carrier_call_id"] == carrier_call_id), None)

    def _add_call(self, cmd: StartCall, **values: Any) -> int:
        call_id, self.next_id = self.next_id, self.next_id + 1
        self.rows[call_id] = {
            "id": call_id, "carrier": cmd.carrier.value, "carrier_call_id": cmd.carrier_call_id,
            "direction": cmd.direction, "from_number": cmd.from_number,
            "to_number": cmd.to_number, "customer_id": cmd.customer_id, "agent_id": None,
            "queue": None, "started_at": cmd.at, "queued_at": None, "answered_at": None,
            "ended_at": None, "disposition": CallDisposition.IN_PROGRESS, "carrier_status": None,
            "status_rank": 0, "ivr_path": None, "ivr_state": None, "ivr_version": 0,
            "language": cmd.language, "callback_attempt_id": cmd.callback_attempt_id,
            "duration_s": None, **values}
        return call_id

    def _add_events(self, call_id: int, events: Sequence[CallEventIn]) -> list[str | None]:
        stored = self.timeline.setdefault(call_id, [])
        added: list[str | None] = []
        for event in events:
            if event.dedupe_key is not None and \
                    any(e.dedupe_key == event.dedupe_key for e in stored):
                continue
            stored.append(event)
            added.append(event.dedupe_key)
        return added

    def _update(self, call_id: int, values: dict[str, Any]) -> None:
        row = self.rows[call_id]
        for name, value in values.items():
            if name not in row:
                raise KeyError(f"calls has no column {name}")
            if name == "disposition":
                value = CallDisposition(value)
            row[name] = value

    # -- batched ---------------------------------------------------------------------------

    async def load(self, carrier: str, carrier_call_id: str) -> CallRecord | None:
        call_id = self._find(carrier, carrier_call_id)
        if call_id is None:
            return None
        call = self.record(call_id)
        hook, self.after_next_load = self.after_next_load, None
        if hook is not None:
            hook(call)
        return call

    async def caller(self, e164: str) -> Caller | None:
        return self.callers.get(e164)

    async def open(self, new: CallOpen) -> CallRecord | None:
        if self._find(new.cmd.carrier.value, new.cmd.carrier_call_id) is not None:
            return None
        call_id = self._add_call(new.cmd, ivr_version=1, ivr_state=new.state, ivr_path=new.path)
        self._add_events(call_id, new.events)
        return self.record(call_id)

    def _as_read(self, call: CallRecord) -> bool:
        row = self.rows.get(call.id)
        return row is not None and all(row[name] == getattr(call, name)
                                       for name in GUARDED_FIELDS)

    async def open_for(self, new: CallOpen, e164: str, like: Caller) -> Opened:
        caller = self.callers.get(e164)
        if caller is None or not caller.like(like):
            return Opened(None, caller)
        cmd = dataclasses.replace(new.cmd, customer_id=caller.customer_id)
        return Opened(await self.open(dataclasses.replace(new, cmd=cmd)), caller)

    async def save(self, turn: TurnSave) -> CallRecord | None:
        if turn.survey is not None and turn.survey.row.get("call_id") != turn.call.id:
            raise ValueError("a turn stores only a survey taken on its own call")
        if not self._as_read(turn.call) or \
                any(self._job(r.by, r.key) != r.job for r in turn.reads):
            return None
        self._update(turn.call.id, {"ivr_state": turn.state, "ivr_path": turn.path,
                                    "ivr_version": turn.call.ivr_version + 1})
        self._add_events(turn.call.id, [step_event(step) for step in turn.steps])
        if turn.survey is not None:
            self.surveys[turn.survey.row["id"]] = dict(turn.survey.row)
            self.audits.append({**turn.survey.audit, "survey_id": turn.survey.row["id"]})
        return self.record(turn.call.id)

    async def settle(self, call: CallRecord, writes: CallWrites) -> bool:
        if not self._as_read(call):
            return False
        self._update(call.id, writes.values)
        self._add_events(call.id, writes.timeline)
        if writes.contact is not None and writes.contact.customer_id is not None:
            self.contacts.setdefault(call.id, writes.contact)
        return True

    async def next_survey_id(self) -> int:
        self.survey_ids = max([self.survey_ids, *self.surveys]) + 1
        return self.survey_ids

    def _job(self, by: str, key: int | str) -> JobRef | None:
        if by == "id":
            return self.jobs.get(int(key))
        if by == "reference":
            return next((j for j in self.jobs.values() if j.reference == key), None)
        done = [j for j in self.jobs.values()
                if j.customer_id == key and j.completed_at is not None]
        return max(done, key=lambda j: (j.completed_at, j.id), default=None)

    async def read_job(self, by: str, key: int | str) -> JobRead:
        return JobRead(by, key, self._job(by, key))

    # -- transactions ----------------------------------------------------------------------

    def transaction(self) -> FakeTransaction:
        return FakeTransaction(self)

    def unit_of_work(self) -> FakeTransaction:
        return FakeTransaction(self)

    def lost_connection(self, exc: BaseException) -> bool:
        return False

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy({k: v for k, v in vars(self).items() if k != "after_next_load"})

    def restore(self, state: dict[str, Any]) -> None:
        vars(self).update(state)


class FakeCalls:
    """`CallRepository` on the fake store."""

    def __init__(self, store: FakeTurnStore) -> None:
        self.store = store

    async def get(self, call_id: int) -> CallRecord | None:
        return self.store.record(call_id) if call_id in self.store.rows else None

    async def by_carrier_id(self, carrier: str, carrier_call_id: str) -> CallRecord | None:
        call_id = self.store._find(carrier, carrier_call_id)
        return None if call_id is None else self.store.record(call_id)

    async def add(self, cmd: StartCall) -> CallRecord | None:
        if self.store._find(cmd.carrier.value, cmd.carrier_call_id) is not None:
            return None
        return self.store.record(self.store._add_call(cmd))

    async def update(self, call_id: int, **values: Any) -> None:
        self.store._update(call_id, values)

    async def add_event(self, call_id: int, event: CallEventIn) -> bool:
        return bool(self.store._add_events(call_id, [event]))

    async def add_events(self, call_id: int, events: Sequence[CallEventIn]) -> list[str | None]:
        return self.store._add_events(call_id, events)

    async def save_ivr_state(self, call_id: int, state: str, expected_version: int,
                             **values: Any) -> bool:
        if self.store.rows[call_id]["ivr_version"] != expected_version:
            return False
        self.store._update(call_id, {**values, "ivr_state": state,
                                     "ivr_version": expected_version + 1})
        return True

    async def add_call_contact(self, call: CallRecord, at: datetime) -> None:
        if call.customer_id is not None:
            self.store.contacts.setdefault(call.id, call)

    async def events(self, call_id: int) -> list[CallEventIn]:
        return list(self.store.timeline.get(call_id, []))


class FakeTransaction:
    """A unit of work on the fake store: a snapshot, restored unless committed. Only the
    calls repository: any other is missing (its use case fails)."""

    def __init__(self, store: FakeTurnStore) -> None:
        self.store = store
        self._saved: dict[str, Any] | None = None
        self.calls = FakeCalls(store)

    async def __aenter__(self) -> Self:
        self._saved = self.store.snapshot()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._saved is not None:
            self.store.restore(self._saved)
        self._saved = None

    async def commit(self) -> None:
        self._saved = None

    async def rollback(self) -> None:
        if self._saved is not None:
            self.store.restore(self._saved)
        self._saved = self.store.snapshot()

    def joined(self) -> FakeTransaction:
        return FakeTransaction(self.store)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"the fake turn store has no {name} repository")
