"""The one port the hotline use case stores through: `TurnStore`, and what crosses it.

A turn store keeps calls and their IVR turns. It offers two ways to store a turn:

- *batched* (`load`, `caller`, `open`, `save`, `settle`, and the reads the
  batchable effects make): each write is one atomic statement guarded by what
  the turn read (the call's IVR version; for a settling also its status rank
  and end), so a turn that lost a race writes nothing and is told so. A store
  names the effects it can take with a turn this way (`batches`); a turn that
  needs any other effect, a transfer, or a stranger added runs in a
  transaction instead. A store with no batchable effects (``batches`` empty)
  is never asked to batch: every turn is a transaction.
- a *transaction* (`transaction`): a unit of work over the whole turn, in
  which the effects' use cases run in savepoints (`TurnTransaction.joined`).

Implementations: `callcenter.storage.turn_store_sql.SqlTurnStore` (SQLAlchemy,
SQLite and PostgreSQL), `callcenter.storage.turn_store_pg.PgTurnStore`
(PostgreSQL, statements batched across calls) and an in-memory one for tests;
one contract test suite holds all of them to the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from crm.calls import CallRecord
from crm.services.calls import CallEventIn, IvrStep, StartCall
from crm.services.unit_of_work import UnitOfWork
from crm.surveys import JobRef
from ivr import actions as act

#: the columns a call's settling may set (`crm.services.calls.settle_status`)
SETTLE_COLUMNS = ("ended_at", "disposition", "duration_s", "carrier_status", "status_rank",
                  "answered_at")


class NotBatchable(Exception):
    """The turn cannot be stored the batched way (an effect that writes elsewhere, a
    transfer, a stranger, a call logged already): it runs in a transaction instead."""


@dataclass(frozen=True)
class Caller:
    """What a call's first turn needs of the customer owning the caller's number."""

    customer_id: int
    verified: bool
    language: str
    timezone: str


@dataclass(frozen=True)
class CallOpen:
    """A new call with its first turn: the call, its state and path after the turn (version
    1), and its first events (started, the turn's steps), stored together or not at all."""

    cmd: StartCall
    state: str
    path: str | None
    events: Sequence[CallEventIn]


@dataclass(frozen=True)
class SurveyWrite:
    """A survey a turn saved (`crm.services.surveys.save_survey`): its row, id included
    (`TurnStore.next_survey_id`), and its audit entry."""

    row: dict[str, Any]
    audit: dict[str, Any]


@dataclass(frozen=True)
class TurnSave:
    """One turn to store: the call as read, its new state and path, its steps, and the
    survey it saved (if any), stored together or not at all."""

    call: CallRecord
    state: str
    path: str | None
    steps: Sequence[IvrStep]
    survey: SurveyWrite | None = None


@dataclass
class CallWrites:
    """The writes a call's settling asks for (the `CallRepository` methods
    `crm.services.calls.settle_status` calls), kept to be stored by `TurnStore.settle`."""

    values: dict[str, Any] = field(default_factory=dict)
    timeline: list[CallEventIn] = field(default_factory=list)
    contact: CallRecord | None = None

    # -- the part of `crm.services.calls.CallRepository` that settling uses ----------------

    async def update(self, call_id: int, **values: Any) -> None:
        unknown = set(values) - set(SETTLE_COLUMNS)
        if unknown:
            raise NotBatchable(f"a batched settling does not write {sorted(unknown)}")
        self.values.update(values)

    async def add_event(self, call_id: int, event: CallEventIn) -> bool:
        self.timeline.append(event)
        return True

    async def add_events(self, call_id: int, events: Sequence[CallEventIn]) -> list[str | None]:
        self.timeline.extend(events)
        return [event.dedupe_key for event in events]

    async def add_call_contact(self, call: CallRecord, at: datetime) -> None:
        self.contact = call

    # -- the rest of the port: not part of a settling --------------------------------------

    async def get(self, call_id: int) -> CallRecord | None:
        raise NotBatchable("a settling reads no call")

    async def by_carrier_id(self, carrier: str, carrier_call_id: str) -> CallRecord | None:
        raise NotBatchable("a settling reads no call")

    async def add(self, cmd: StartCall) -> CallRecord | None:
        raise NotBatchable("a settling adds no call")

    async def save_ivr_state(self, call_id: int, state: str, expected_version: int,
                             **values: Any) -> bool:
        raise NotBatchable("a settling stores no IVR state")

    async def events(self, call_id: int) -> list[CallEventIn]:
        raise NotBatchable("a settling reads no events")


class TurnTransaction(UnitOfWork, Protocol):
    """A turn's transaction: the `UnitOfWork` port over the whole turn."""

    def joined(self) -> UnitOfWork:
        """A use case's unit of work inside this transaction: a savepoint, rolled back alone
        when the use case fails, committed with the turn."""
        ...


class TurnStore(Protocol):
    """Calls and their IVR turns (see the module doc)."""

    @property
    def batches(self) -> frozenset[type[act.Effect]]:
        """The effects a batched turn may perform; empty: every turn is a transaction."""
        ...

    # -- batched: each write one atomic statement, guarded by what the turn read -----------

    async def load(self, carrier: str, carrier_call_id: str) -> CallRecord | None:
        """The call as stored now (None: no such call)."""
        ...

    async def caller(self, e164: str) -> Caller | None:
        """The customer owning `e164` (None: nobody)."""
        ...

    async def open(self, new: CallOpen) -> CallRecord | None:
        """Log a call with its first turn: the call as stored, or None when it is logged
        already (nothing written)."""
        ...

    async def save(self, turn: TurnSave) -> CallRecord | None:
        """Store `turn` if the call is still at the version it was read at: the call as now
        stored, or None when another turn advanced it first (nothing written)."""
        ...

    async def settle(self, call: CallRecord, writes: CallWrites) -> bool:
        """Store a settling's `writes` if `call` (as read) is unchanged in what settling
        depends on (IVR version, status rank, end): False when it moved on (nothing
        written)."""
        ...

    async def next_survey_id(self) -> int:
        """A fresh survey id (a batched turn stores its survey under it)."""
        ...

    async def job(self, job_id: int) -> JobRef | None: ...

    async def job_by_reference(self, reference: str) -> JobRef | None: ...

    async def last_completed_job(self, customer_id: int) -> JobRef | None: ...

    # -- transactions ----------------------------------------------------------------------

    def transaction(self) -> TurnTransaction:
        """A new turn transaction (``async with``; nothing is stored without `commit`)."""
        ...

    def unit_of_work(self) -> UnitOfWork:
        """A use case's own unit of work, outside any turn."""
        ...

    def lost_connection(self, exc: BaseException) -> bool:
        """True when `exc` says the database connection died (the turn may be run again)."""
        ...
