"""SQL implementation of `CallRepository` (crm.services.calls), on the IVR hot path.

Every IVR webhook goes through here, so the statements are SQLAlchemy Core
(no ORM rows, no identity map) and each one is a single round trip:
- a call is read with one SELECT of its columns;
- a call is inserted with ``INSERT ... ON CONFLICT (carrier, carrier_call_id)
  DO NOTHING RETURNING``: a lost race returns None and never aborts the
  transaction (no savepoint needed);
- timeline events go in one multi-row ``INSERT ... ON CONFLICT (call_id,
  dedupe_key) DO NOTHING RETURNING``: an event already stored is skipped by
  the database's unique key, not by a read-then-write that could race;
- the IVR state is written with ``UPDATE ... WHERE ivr_version = expected``
  (the optimistic lock), together with whatever else the turn changed.
Both SQLite (3.35+) and PostgreSQL take these statements word for word. The
two ``ON CONFLICT`` inserts are typed `text()` (`callcenter.storage.inserts`, the
tables' one INSERT each, shared with the batched turn store) because
SQLAlchemy's dialect ``insert().on_conflict_do_nothing()`` (and any
multi-row ``values([...])``) cannot be cached and is compiled again on every
execution, which cost more than the round trip it saves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, TextualSelect, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from callcenter.storage.inserts import (
    CALL_EVENTS,
    CALLS_TABLE,
    CONTACT_ONCE,
    CONTACTS,
    contact_row,
    pg_array_type,
)
from callcenter.storage.inserts import CALLS as INSERT_CALLS
from callcenter.storage.tables import Call, CallEvent
from callcenter.storage.types import utcnow
from crm.calls import CallRecord
from crm.enums import CallDisposition, ContactKind, Direction
from crm.services.calls import CallEventIn, StartCall

CALLS = CALLS_TABLE
EVENTS = CallEvent.__table__
RECORD_COLUMNS = (
    CALLS.c.id, CALLS.c.carrier, CALLS.c.carrier_call_id, CALLS.c.direction, CALLS.c.from_number,
    CALLS.c.to_number, CALLS.c.customer_id, CALLS.c.agent_id, CALLS.c.queue, CALLS.c.started_at,
    CALLS.c.queued_at, CALLS.c.answered_at, CALLS.c.ended_at, CALLS.c.disposition,
    CALLS.c.carrier_status, CALLS.c.status_rank, CALLS.c.ivr_path, CALLS.c.ivr_state,
    CALLS.c.ivr_version, CALLS.c.language, CALLS.c.callback_attempt_id,
)
# Built once: a statement object memoises its cache key, so executing a prebuilt
# statement with new parameters skips building it and hashing it again.
_SELECT_CALL = select(*RECORD_COLUMNS)
_CALL_BY_ID = _SELECT_CALL.where(CALLS.c.id == bindparam("b_id"))
_CALL_BY_CARRIER_ID = _SELECT_CALL.where(
    CALLS.c.carrier == bindparam("b_carrier"),
    CALLS.c.carrier_call_id == bindparam("b_carrier_call_id"))
# built once (a prebuilt statement keeps its cache key): INSERT ... SELECT ... WHERE NOT EXISTS
_INSERT_CONTACT_ONCE = CONTACTS.select_one(CONTACT_ONCE.format(":call_id_0"))


def to_record(row: Call | Row[Any] | SimpleNamespace) -> CallRecord:
    return CallRecord(
        id=row.id, carrier=row.carrier, carrier_call_id=row.carrier_call_id,
        direction=Direction(row.direction), from_number=row.from_number, to_number=row.to_number,
        customer_id=row.customer_id, agent_id=row.agent_id, queue=row.queue,
        started_at=row.started_at, queued_at=row.queued_at, answered_at=row.answered_at,
        ended_at=row.ended_at, disposition=CallDisposition(row.disposition),
        carrier_status=row.carrier_status, status_rank=row.status_rank, ivr_path=row.ivr_path,
        ivr_state=row.ivr_state, ivr_version=row.ivr_version, language=row.language,
        callback_attempt_id=row.callback_attempt_id,
    )


def new_call_values(cmd: StartCall) -> dict[str, Any]:
    """The columns of a new call's row (`_CALL_FIELDS`), before any IVR turn."""
    now = utcnow()
    return {
        "carrier": cmd.carrier.value, "carrier_call_id": cmd.carrier_call_id,
        "direction": cmd.direction.value, "from_number": cmd.from_number,
        "to_number": cmd.to_number, "customer_id": cmd.customer_id, "started_at": cmd.at,
        "language": cmd.language, "callback_attempt_id": cmd.callback_attempt_id,
        "disposition": CallDisposition.IN_PROGRESS.value, "status_rank": 0,
        "ivr_version": 0, "hold_s": 0.0, "wrapup_s": 0.0, "created_at": now,
        "updated_at": now,
    }


def contact_values(call: CallRecord) -> dict[str, Any] | None:
    """The contact a call leaves on its customer's record (None: no customer)."""
    if call.customer_id is None:
        return None
    summary = f"{call.direction.value} call, {call.disposition.value}"
    if call.ivr_path:
        summary += f", IVR {call.ivr_path}"
    return {
        "customer_id": call.customer_id, "kind": ContactKind.CALL.value,
        "at": call.started_at, "call_id": call.id, "staff_id": call.agent_id,
        "disposition": call.disposition.value, "summary": summary,
    }


@lru_cache(maxsize=64)
def _update_call(columns: tuple[str, ...], versioned: bool) -> Any:
    """``UPDATE calls SET <columns>`` by id (and, `versioned`, by ``ivr_version``)."""
    stmt = update(CALLS).where(CALLS.c.id == bindparam("b_id"))
    if versioned:
        stmt = stmt.where(CALLS.c.ivr_version == bindparam("b_expected"))
    return stmt.values({column: bindparam(f"v_{column}") for column in columns})


@lru_cache(maxsize=16)
def _insert_events(rows: int) -> TextualSelect:
    """``INSERT`` of `rows` events (`inserts.CALL_EVENTS`), skipping those whose
    (call_id, dedupe_key) exists; returns the dedupe keys of those stored."""
    return CALL_EVENTS.values(rows, returning="RETURNING dedupe_key").columns(EVENTS.c.dedupe_key)


INSERT_CALL = INSERT_CALLS.values(
    1, returning=f"RETURNING {', '.join(column.name for column in RECORD_COLUMNS)}",
).columns(*RECORD_COLUMNS)


def insert_call_params(values: dict[str, Any]) -> dict[str, Any]:
    """`INSERT_CALL`'s parameters for a call's row values (`new_call_values`, maybe with
    its first turn's state and path)."""
    return INSERT_CALLS.params([{"ivr_state": None, "ivr_path": None, **values}])


def event_rows(call_id: int, events: Sequence[CallEventIn]) -> list[dict[str, Any]]:
    """`events` as rows of `inserts.CALL_EVENTS`."""
    return [{"call_id": call_id, "at": e.at, "kind": e.kind, "node": e.node,
             "detail": e.detail, "dedupe_key": e.dedupe_key} for e in events]


#: for batches (executemany): one event / one contact, parameters from `event_params` /
#: `contact_params`; a stored (call_id, dedupe_key) / a call's second contact adds nothing
INSERT_EVENT_ONCE = CALL_EVENTS.values(1)
INSERT_CONTACT_ONCE = _INSERT_CONTACT_ONCE


def event_params(call_id: int, event: CallEventIn) -> dict[str, Any]:
    return CALL_EVENTS.params(event_rows(call_id, [event]))


def contact_params(values: dict[str, Any]) -> dict[str, Any]:
    return CONTACTS.params([contact_row(values)])


def insert_calls(rows: int) -> Any:
    """`rows` new calls (`insert_calls_params`), each inserted unless (carrier, carrier
    call id) is logged already; returns (carrier_call_id, id) of those inserted."""
    return INSERT_CALLS.values(rows, returning="RETURNING carrier_call_id, id")


def insert_calls_params(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return INSERT_CALLS.params([{"ivr_state": None, "ivr_path": None, **row} for row in rows])


def update_call_statement(columns: tuple[str, ...]) -> Any:
    """``UPDATE calls SET <columns>`` by id; parameters ``b_id`` and ``v_<column>``."""
    return _update_call(columns, False)


# -- PostgreSQL batches on the driver (asyncpg) connection: one statement per kind of change,
#    whatever the number of rows, its parameters one array per column (`inserts.Insert`) --

#: new calls; returns (carrier_call_id, id) of those inserted (a call logged already is skipped)
PG_INSERT_CALLS, PG_INSERT_CALL_NAMES = INSERT_CALLS.from_arrays(
    1, "n", returning="RETURNING carrier_call_id, id")
#: timeline events; one whose (call_id, dedupe_key) is stored (or earlier in the arrays) is skipped
PG_INSERT_EVENTS, PG_INSERT_EVENT_NAMES = CALL_EVENTS.from_arrays(1, "e")
#: the calls' contacts (`contact_row`), each added unless its call has one
PG_INSERT_CONTACTS, PG_INSERT_CONTACT_NAMES = CONTACTS.from_arrays(
    1, "x", where=CONTACT_ONCE.format("x.call_id"))
#: the calls of these ids (`RECORD_COLUMNS`, for `record_of`)
PG_CALLS_BY_ID = (f"SELECT {', '.join(column.name for column in RECORD_COLUMNS)} FROM calls "
                  "WHERE id = ANY($1::bigint[])")
#: (carrier_call_id, id) of the calls of one carrier with these carrier call ids
PG_CALL_IDS = "SELECT carrier_call_id, id FROM calls WHERE carrier = $1 AND carrier_call_id = ANY($2::text[])"


def record_of(row: Any) -> CallRecord:
    """A `PG_CALLS_BY_ID` row (a mapping) as a `CallRecord`."""
    return to_record(SimpleNamespace(**dict(row)))


def pg_event_arrays(events: Sequence[tuple[int, CallEventIn]]) -> list[list[Any]]:
    """`PG_INSERT_EVENTS`'s arrays for (call id, event) pairs."""
    rows = [{"call_id": call_id, "at": e.at, "kind": e.kind, "node": e.node, "detail": e.detail,
             "dedupe_key": e.dedupe_key} for call_id, e in events]
    return CALL_EVENTS.arrays(PG_INSERT_EVENT_NAMES, rows)


@lru_cache(maxsize=64)
def pg_update_calls(columns: tuple[str, ...]) -> str:
    """``UPDATE calls SET <columns>, updated_at = $2`` from arrays: $1 the ids, then one array
    per column (as `update_call_statement`, for many calls in one statement)."""
    names = ("id", *columns)
    arrays = ", ".join(f"${3 + i}::{pg_array_type(CALLS.c[name])}[]"
                       for i, name in enumerate(columns))
    sets = ", ".join(f"{name} = u.{name}" for name in columns)
    return (f"UPDATE calls SET {sets}, updated_at = $2 "
            f"FROM unnest($1::bigint[], {arrays}) AS u({', '.join(names)}) WHERE calls.id = u.id")


class SqlCallRepository:
    def __init__(self, session: AsyncSession | AsyncConnection) -> None:
        #: an ORM session or, on the IVR turn's hot path, a bare Core connection
        self.session = session

    async def get(self, call_id: int) -> CallRecord | None:
        row = (await self.session.execute(_CALL_BY_ID, {"b_id": call_id})).first()
        return to_record(row) if row else None

    async def by_carrier_id(self, carrier: str, carrier_call_id: str) -> CallRecord | None:
        row = (await self.session.execute(_CALL_BY_CARRIER_ID, {
            "b_carrier": carrier, "b_carrier_call_id": carrier_call_id})).first()
        return to_record(row) if row else None

    async def add(self, cmd: StartCall) -> CallRecord | None:
        row = (await self.session.execute(
            INSERT_CALL, insert_call_params(new_call_values(cmd)))).first()
        return to_record(row) if row else None

    async def update(self, call_id: int, **values: Any) -> None:
        await self.session.execute(_update_call(tuple(sorted(values)), False), {
            "b_id": call_id, **{f"v_{column}": value for column, value in values.items()}})

    async def add_event(self, call_id: int, event: CallEventIn) -> bool:
        return bool(await self.add_events(call_id, [event]))

    async def add_events(self, call_id: int, events: Sequence[CallEventIn]) -> list[str | None]:
        """Insert in one statement; the dedupe keys of the events actually stored.

        An event without a dedupe key is always stored (its key comes back as None)."""
        if not events:
            return []
        result = await self.session.execute(_insert_events(len(events)),
                                            CALL_EVENTS.params(event_rows(call_id, events)))
        return list(result.scalars())

    async def save_ivr_state(self, call_id: int, state: str, expected_version: int,
                             **values: Any) -> bool:
        """The optimistic lock: write only if nobody advanced the call since `expected_version`."""
        values.update(ivr_state=state, ivr_version=expected_version + 1)
        result = await self.session.execute(_update_call(tuple(sorted(values)), True), {
            "b_id": call_id, "b_expected": expected_version,
            **{f"v_{column}": value for column, value in values.items()}})
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def add_call_contact(self, call: CallRecord, at: datetime) -> None:
        """The call's contact on its customer's record, once: one INSERT that adds
        nothing when the call already has a contact."""
        values = contact_values(call)
        if values is not None:
            await self.session.execute(_INSERT_CONTACT_ONCE,
                                       CONTACTS.params([contact_row(values)]))

    async def events(self, call_id: int) -> list[CallEventIn]:
        rows = await self.session.execute(
            select(EVENTS.c.at, EVENTS.c.kind, EVENTS.c.node, EVENTS.c.detail, EVENTS.c.dedupe_key)
            .where(EVENTS.c.call_id == call_id).order_by(EVENTS.c.at, EVENTS.c.id)
        )
        return [CallEventIn(r.at, r.kind, r.node, r.detail, r.dedupe_key) for r in rows]
