"""The one port the hotline use case stores through: `TurnStore`, and what crosses it.

A turn store keeps calls and their IVR turns. It offers two ways to store a turn:

- *batched* (`load`, `caller`, `open`, `open_for`, `save`, `settle`, and the
  job reads the batchable effects make, `read_job`): each write is one atomic
  statement guarded by what the turn read: the call as read, in every column
  of `CallRecord` (`GUARDED_FIELDS`; the state moves with its version), and
  the jobs it read, as read (`JobRead`). A turn that lost a race, or that
  used a call or a job remembered from an earlier turn that has since moved
  on, writes nothing and is told so: a record a turn used in place of a read
  is as good as a read, because the write checks it. A store
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
from dataclasses import dataclass, field, fields
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
#: what a batched write checks of the call it was given (`TurnStore.save`, `settle`): every
#: field of the record as it was read, but the state (it changes only with its version)
GUARDED_FIELDS = tuple(f.name for f in fields(CallRecord) if f.name not in ("id", "ivr_state"))
#: how a turn asks for a job (`TurnStore.read_job`): by id, by reference, or the customer's
#: last completed one
JOB_BY = ("id", "reference", "customer")


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


    def like(self, other: Caller) -> bool:
        """Served alike by a first turn: known (verified) or not, language and time zone."""
        return (self.verified, self.language, self.timezone) == \
            (other.verified, other.language, other.timezone)


@dataclass(frozen=True)
class Opened:
    """What `TurnStore.open_for` did: the call it logged (None: nothing written), and the
    customer owning the number (None: nobody)."""

    call: CallRecord | None
    caller: Caller | None


@dataclass(frozen=True)
class JobRead:
    """A job a batched turn read (`TurnStore.read_job`): how it was asked for (`by`, one of
    `JOB_BY`, and `key`), what was found (None: nothing), and the store's mark of it as read
    (`seen`; None where the store compares `job` itself). The turn's save carries its reads
    (`TurnSave.reads`) and is written only if each still reads the same."""

    by: str
    key: int | str
    job: JobRef | None
    seen: str | None = None


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
    """One turn to store: the call as read, its new state and path, its steps, the survey
    it saved (if any), stored together or not at all; and the jobs it read (`reads`)."""

    call: CallRecord
    state: str
    path: str | None
    steps: Sequence[IvrStep]
    survey: SurveyWrite | None = None
    reads: Sequence[JobRead] = ()


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

    async def open_for(self, new: CallOpen, e164: str, like: Caller) -> Opened:
        """Log a call whose first turn was run for a caller `like` (`Caller.like`; its
        customer id is not used) in one step with finding the caller: written, under the
        id of the customer owning `e164`, only if that customer is `like`; else nothing
        is written and the customer found (or None) is told. A call logged already is not
        logged again."""
        ...

    async def save(self, turn: TurnSave) -> CallRecord | None:
        """Store `turn` if the call is still as `turn.call` (`GUARDED_FIELDS`; its version
        above all) and every job in `turn.reads` still reads the same: the call as now
        stored, or None when it moved on (nothing written)."""
        ...

    async def settle(self, call: CallRecord, writes: CallWrites) -> bool:
        """Store a settling's `writes` if the call is still as `call` (`GUARDED_FIELDS`):
        False when it moved on (nothing written)."""
        ...

    async def next_survey_id(self) -> int:
        """A fresh survey id (a batched turn stores its survey under it)."""
        ...

    async def read_job(self, by: str, key: int | str) -> JobRead:
        """A job by id, by reference or as the customer's last completed one (`JOB_BY`),
        with the mark `save` checks it by. It may be one read by an earlier turn: the
        save that relies on it is written only if it still reads the same."""
        ...

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
