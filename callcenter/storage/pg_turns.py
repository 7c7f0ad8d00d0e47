"""The IVR turn's hot path on PostgreSQL: raw asyncpg statements, batched across calls.

Most webhooks of a call are a plain menu key: read the call, run the session,
store the new state and the IVR steps. On PostgreSQL the driver
(`callcenter.telephony.hotline`) does those through this store instead of a
SQLAlchemy transaction, because on a 2-core machine the hotline's cost is
the number of messages that cross between processes, and SQLAlchemy's
statement machinery, not the IVR:

- every call read waiting in this process goes in one ``SELECT ... WHERE
  (carrier, carrier_call_id) IN (unnest(...))``;
- every turn save waiting goes in one statement: an ``UPDATE ... FROM
  unnest(...) WHERE ivr_version = expected`` (the optimistic lock, per call)
  and, chained to it, the ``INSERT`` of the steps of exactly the calls whose
  update took (``JOIN`` on its ``RETURNING``), ``ON CONFLICT (call_id,
  dedupe_key) DO NOTHING``. One statement is one transaction: a turn's state
  and its steps are stored together or not at all;
- a batch is whatever queued while the previous one was in flight, so one
  quiet call pays one round trip and a busy process shares one among many.

Guarantees:
- a turn whose version moved on (a replayed or concurrent webhook) is not
  written; `save` says so (None) and the caller treats it as stale, as the
  transactional path does;
- two turns of the same call are never in one batch (the second waits for
  the next), so "updated" is unambiguous per call;
- a batch that fails as a whole (a bad row) is retried item by item, so one
  bad turn fails alone; a dropped connection, a statement past its time limit
  (10 s: a lock never released) or any other error fails its batch with that
  error (the driver then runs the turn in a transaction) and the next batch
  opens a new connection: a caller is never left waiting and the batcher
  never stops;
- nothing is cached: every read comes from the database, so any process can
  continue any call.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Generic, TypeVar

import asyncpg
from sqlalchemy.engine import make_url

from callcenter.storage.repositories.calls import RECORD_COLUMNS, contact_values, to_record
from callcenter.storage.types import utcnow
from crm.calls import CallRecord
from crm.services.calls import CallEventIn
from crm.surveys import JobRef

log = logging.getLogger(__name__)
I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741
Flush = Callable[[asyncpg.Connection, list[I]], Awaitable[list[O]]]

_COLUMNS = ", ".join(f"c.{column.name}" for column in RECORD_COLUMNS)
_LOAD = (
    f"SELECT {_COLUMNS} FROM calls c "
    "JOIN unnest($1::text[], $2::text[]) AS k(carrier, sid) "
    "ON c.carrier = k.carrier AND c.carrier_call_id = k.sid"
)
_SAVE = """
WITH t AS (
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[])
        AS t(id, expected, state, path)
), u AS (
    UPDATE calls c SET ivr_state = t.state, ivr_version = t.expected + 1,
                       ivr_path = t.path, updated_at = $5
    FROM t WHERE c.id = t.id AND c.ivr_version = t.expected
    RETURNING c.id
), e AS (
    INSERT INTO call_events (call_id, at, kind, node, detail, dedupe_key)
    SELECT s.call_id, s.at, 'ivr_step', s.node, s.detail::json, s.dedupe_key
    FROM unnest($6::bigint[], $7::timestamptz[], $8::text[], $9::text[], $10::text[])
        AS s(call_id, at, node, detail, dedupe_key)
    JOIN u ON u.id = s.call_id
    ON CONFLICT (call_id, dedupe_key) DO NOTHING
)
SELECT id FROM u
"""
#: the columns a call's settling may set (`crm.services.calls.settle_status`), and their types
_SETTLE_TYPES = {
    "ended_at": "timestamptz", "disposition": "text", "duration_s": "float8",
    "carrier_status": "text", "status_rank": "int", "answered_at": "timestamptz",
}
_SETTLE = """
WITH u AS (
    UPDATE calls SET updated_at = $5{sets}
    WHERE id = $1 AND ivr_version = $2 AND status_rank = $3 AND ended_at IS NOT DISTINCT FROM $4
    RETURNING id
), e AS (
    INSERT INTO call_events (call_id, at, kind, node, detail, dedupe_key)
    SELECT u.id, s.at, s.kind, s.node, s.detail::json, s.dedupe_key
    FROM u, unnest($6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::text[])
        AS s(at, kind, node, detail, dedupe_key)
    ON CONFLICT (call_id, dedupe_key) DO NOTHING
), c AS (
    INSERT INTO contacts (customer_id, kind, at, call_id, staff_id, disposition, summary,
                          created_at)
    SELECT $11::bigint, $12::text, $13::timestamptz, u.id, $14::bigint, $15::text, $16::text, $5
    FROM u
    WHERE $11::bigint IS NOT NULL AND NOT EXISTS (SELECT 1 FROM contacts WHERE call_id = $1)
)
SELECT id FROM u
"""
_CALLER = (
    "SELECT p.e164, c.id, c.verified, c.language, c.timezone FROM customer_phones p "
    "JOIN customers c ON c.id = p.customer_id WHERE p.e164 = ANY($1::text[])"
)
_OPEN_FIELDS = (
    "carrier", "carrier_call_id", "direction", "from_number", "to_number", "customer_id",
    "started_at", "language", "callback_attempt_id", "disposition", "status_rank",
    "ivr_version", "hold_s", "wrapup_s", "created_at", "updated_at", "ivr_state", "ivr_path",
)
_OPEN = f"""
WITH c AS (
    INSERT INTO calls ({", ".join(_OPEN_FIELDS)})
    VALUES ({", ".join(f"${i + 1}" for i in range(len(_OPEN_FIELDS)))})
    ON CONFLICT (carrier, carrier_call_id) DO NOTHING
    RETURNING {", ".join(column.name for column in RECORD_COLUMNS)}
), e AS (
    INSERT INTO call_events (call_id, at, kind, node, detail, dedupe_key)
    SELECT c.id, s.at, s.kind, s.node, s.detail::json, s.dedupe_key
    FROM c, unnest($19::timestamptz[], $20::text[], $21::text[], $22::text[], $23::text[])
        AS s(at, kind, node, detail, dedupe_key)
)
SELECT * FROM c
"""
_SURVEY_FIELDS = (
    "id", "job_id", "customer_id", "department_id", "staff_id", "call_id", "surveyed_at",
    "source", "timeliness", "quality", "attitude", "complete", "verification", "verified_by",
    "verified_at", "entered_by", "note",
)
_SURVEY_TYPES = (
    "bigint", "bigint", "bigint", "bigint", "bigint", "bigint", "timestamptz", "text", "text",
    "text", "text", "boolean", "text", "bigint", "timestamptz", "bigint", "text",
)
_SAVE_WITH_SURVEY = """
WITH u AS (
    UPDATE calls SET ivr_state = $3, ivr_version = $2 + 1, ivr_path = $4, updated_at = $5
    WHERE id = $1 AND ivr_version = $2
    RETURNING id
), e AS (
    INSERT INTO call_events (call_id, at, kind, node, detail, dedupe_key)
    SELECT u.id, s.at, 'ivr_step', s.node, s.detail::json, s.dedupe_key
    FROM u, unnest($6::timestamptz[], $7::text[], $8::text[], $9::text[])
        AS s(at, node, detail, dedupe_key)
    ON CONFLICT (call_id, dedupe_key) DO NOTHING
), s AS (
    INSERT INTO surveys (SURVEY_FIELDS, created_at, updated_at)
    SELECT SURVEY_VALUES, $5, $5 FROM u
    RETURNING id
), a AS (
    INSERT INTO survey_audit (survey_id, at, actor_id, action, before, after)
    SELECT s.id, $10::timestamptz, $11::bigint, $12::text, $13::json, $14::json FROM s
)
SELECT id FROM u
""".replace("SURVEY_FIELDS", ", ".join(_SURVEY_FIELDS)).replace(
    "SURVEY_VALUES", ", ".join(f"${15 + i}::{t}" for i, t in enumerate(_SURVEY_TYPES)))
_NEXT_SURVEY_IDS = (
    "SELECT nextval(pg_get_serial_sequence('surveys', 'id')) FROM generate_series(1, $1)")
_JOB_COLUMNS = "id, reference, customer_id, department_id, technician_id, completed_at"
_LAST_JOBS = (
    f"SELECT DISTINCT ON (customer_id) {_JOB_COLUMNS} FROM service_jobs "
    "WHERE customer_id = ANY($1::bigint[]) AND completed_at IS NOT NULL "
    "ORDER BY customer_id, completed_at DESC, id DESC"
)
_JOBS_BY_REFERENCE = f"SELECT {_JOB_COLUMNS} FROM service_jobs WHERE reference = ANY($1::text[])"
_JOBS_BY_ID = f"SELECT {_JOB_COLUMNS} FROM service_jobs WHERE id = ANY($1::bigint[])"


@dataclass(frozen=True)
class StepRow:
    """One IVR step of a turn, as `save` stores it (kind ``ivr_step``)."""

    at: datetime
    node: str
    keys: str
    outcome: str
    dedupe_key: str


@dataclass
class CallWrites:
    """The writes a call's settling asked for (the `CallRepository` methods it calls),
    stored by `PgTurnStore.settle` in one statement."""

    values: dict[str, Any]
    events: list[CallEventIn]
    contact: CallRecord | None = None

    # the part of `crm.services.calls.CallRepository` that settling uses
    async def update(self, call_id: int, **values: Any) -> None:
        unknown = set(values) - set(_SETTLE_TYPES)
        if unknown:
            raise NotImplementedError(f"the fast settle does not write {sorted(unknown)}")
        self.values.update(values)

    async def add_event(self, call_id: int, event: CallEventIn) -> bool:
        self.events.append(event)
        return True

    async def add_events(self, call_id: int, events: Sequence[CallEventIn]) -> list[str | None]:
        self.events.extend(events)
        return [event.dedupe_key for event in events]

    async def add_call_contact(self, call: CallRecord, at: datetime) -> None:
        self.contact = call


@dataclass(frozen=True)
class Caller:
    """What the first turn needs of the customer owning a number."""

    customer_id: int
    verified: bool
    language: str
    timezone: str


@dataclass(frozen=True)
class CallOpen:
    """A new call with its first turn: the row's values (``_OPEN_FIELDS``) and its events."""

    values: dict[str, Any]
    events: Sequence[CallEventIn]


@dataclass(frozen=True)
class SurveyWrite:
    """A survey the turn saved (`crm.services.surveys.save_survey`): its row, id
    included (`PgTurnStore.next_survey_id`), and its audit entry."""

    row: dict[str, Any]
    audit: dict[str, Any]


@dataclass(frozen=True)
class TurnSave:
    """One turn to store: the call as read, its new state and path, its steps, and the
    survey it saved (if any), stored together or not at all."""

    call: CallRecord
    state: str
    path: str | None
    steps: Sequence[StepRow]
    survey: SurveyWrite | None = None


class Batcher(Generic[I, O]):
    """Runs `flush(connection, items)` on whatever is waiting, on `connections` connections.

    `submit` returns the item's own result (or raises its own error). Items
    with the same key never share a batch.
    """

    def __init__(self, name: str, dsn: str, flush: Flush[I, O], *, connections: int = 2,
                 max_batch: int = 256, timeout_s: float = 10.0) -> None:
        self.name, self._dsn, self._flush, self._timeout = name, dsn, flush, timeout_s
        self._size, self._max = connections, max_batch
        self._queue: deque[tuple[I, Hashable, asyncio.Future[O]]] = deque()
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        #: statements sent and items they carried (items / flushes = the mean batch)
        self.flushes = self.items = 0

    async def submit(self, item: I, key: Hashable = None) -> O:
        if self._closed:
            raise RuntimeError(f"the {self.name} batcher is closed")
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._run(), name=f"pg-{self.name}-{i}")
                           for i in range(self._size)]
        future: asyncio.Future[O] = asyncio.get_running_loop().create_future()
        self._queue.append((item, key, future))
        self._ready.set()
        return await future

    async def close(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        while self._queue:
            _item, _key, future = self._queue.popleft()
            if not future.done():
                future.set_exception(RuntimeError(f"the {self.name} batcher closed"))

    def _take(self) -> list[tuple[I, Hashable, asyncio.Future[O]]]:
        batch: list[tuple[I, Hashable, asyncio.Future[O]]] = []
        keys: set[Hashable] = set()
        later: list[tuple[I, Hashable, asyncio.Future[O]]] = []
        while self._queue and len(batch) < self._max:
            entry = self._queue.popleft()
            if entry[2].done():  # its caller gave up before it was sent
                continue
            if entry[1] is not None and entry[1] in keys:
                later.append(entry)
                continue
            keys.add(entry[1])
            batch.append(entry)
        self._queue.extendleft(reversed(later))
        return batch

    async def _run(self) -> None:
        conn: asyncpg.Connection | None = None
        try:
            while True:
                if not self._queue:
                    self._ready.clear()
                    await self._ready.wait()
                    continue
                batch = self._take()
                if not batch:
                    continue
                try:
                    if conn is None or conn.is_closed():
                        conn = await asyncpg.connect(self._dsn, timeout=self._timeout,
                                                     command_timeout=self._timeout)
                    await self._send(conn, batch)
                except asyncio.CancelledError:
                    _fail(batch, RuntimeError(f"the {self.name} batcher closed"))
                    raise
                except Exception as exc:  # never leave a caller waiting, never stop serving
                    if isinstance(exc, asyncpg.PostgresError) and \
                            not isinstance(exc, asyncpg.PostgresConnectionError):
                        log.error("a %s batch failed: %s", self.name, exc)
                    else:  # the connection's state is unknown (dropped, timed out): a new one
                        log.warning("the %s connection failed (%s); the next batch reconnects",
                                    self.name, type(exc).__name__)
                        if conn is not None:
                            conn.terminate()
                        conn = None
                    _fail(batch, exc)
        finally:
            if conn is not None:
                conn.terminate()

    async def _send(self, conn: asyncpg.Connection,
                    batch: list[tuple[I, Hashable, asyncio.Future[O]]]) -> None:
        self.flushes += 1
        self.items += len(batch)
        try:
            results = await self._flush(conn, [item for item, _key, _future in batch])
        except asyncpg.PostgresError as exc:
            if len(batch) == 1:
                if not batch[0][2].done():
                    batch[0][2].set_exception(exc)
                return
            log.warning("a %s batch of %d failed (%s); storing them one by one",
                        self.name, len(batch), type(exc).__name__)
            for entry in batch:
                await self._send(conn, [entry])
            return
        for (_item, _key, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


def _fail(batch: list[tuple[Any, Hashable, asyncio.Future[Any]]], exc: BaseException) -> None:
    for _item, _key, future in batch:
        if not future.done():
            future.set_exception(exc)


def _job(row: asyncpg.Record) -> JobRef:
    return JobRef(row["id"], row["reference"], row["customer_id"], row["department_id"],
                  row["technician_id"], row["completed_at"])


class PgTurnStore:
    """Call reads, turn saves and job lookups for the IVR hot path (see the module doc)."""

    @classmethod
    def for_database(cls, url: str, enabled: bool) -> PgTurnStore | None:
        """A store for `url` when it is PostgreSQL and the fast path is `enabled`."""
        if not enabled or make_url(url).get_backend_name() != "postgresql":
            return None
        return cls(url)

    def __init__(self, url: str, *, connections: int = 2, timeout_s: float = 10.0) -> None:
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(
            hide_password=False)
        batcher = functools.partial(Batcher, timeout_s=timeout_s)
        self._loads: Batcher[tuple[str, str], CallRecord | None] = batcher(
            "call-reads", self.dsn, self._load_many, connections=connections)
        self._saves: Batcher[TurnSave, bool] = batcher(
            "turn-saves", self.dsn, self._save_many, connections=connections)
        self._jobs: Batcher[tuple[str, Any], JobRef | None] = batcher(
            "job-reads", self.dsn, self._jobs_many, connections=1)
        self._survey_turns: Batcher[TurnSave, bool] = batcher(
            "survey-turns", self.dsn, self._save_with_survey, connections=1,
            max_batch=1)
        self._survey_ids: Batcher[None, int] = batcher(
            "survey-ids", self.dsn, self._next_survey_ids, connections=1)
        self._callers: Batcher[str, Caller | None] = batcher(
            "caller-reads", self.dsn, self._callers_many, connections=1)
        self._opens: Batcher[CallOpen, CallRecord | None] = batcher(
            "call-opens", self.dsn, self._open_one, connections=1, max_batch=1)
        self._settles: Batcher[tuple[CallRecord, CallWrites], bool] = batcher(
            "call-settles", self.dsn, self._settle_one, connections=1, max_batch=1)

    async def close(self) -> None:
        await asyncio.gather(*(batcher.close() for batcher in self.batchers))

    @property
    def batchers(self) -> tuple[Batcher[Any, Any], ...]:
        return (self._loads, self._saves, self._jobs, self._settles, self._callers, self._opens,
                self._survey_turns, self._survey_ids)

    # -- the three operations -----------------------------------------------------------------

    async def load(self, carrier: str, carrier_call_id: str) -> CallRecord | None:
        """The call as stored now (None: no such call)."""
        return await self._loads.submit((carrier, carrier_call_id))

    async def save(self, turn: TurnSave) -> CallRecord | None:
        """Store `turn` if the call is still at the version it was read at: the call as
        now stored, or None when another webhook advanced it first (nothing written)."""
        saver = self._saves if turn.survey is None else self._survey_turns
        stored = await saver.submit(turn, key=turn.call.id)
        if not stored:
            return None
        return replace(turn.call, ivr_state=turn.state, ivr_version=turn.call.ivr_version + 1,
                       ivr_path=turn.path)

    async def caller(self, e164: str) -> Caller | None:
        """The customer owning `e164` (None: nobody; the transaction adds a stranger)."""
        return await self._callers.submit(e164)

    async def open(self, new: CallOpen) -> CallRecord | None:
        """Insert a call with its first turn's state and events in one statement: the call
        as stored, or None when the call is logged already (nothing written)."""
        return await self._opens.submit(new, key=new.values["carrier_call_id"])

    async def settle(self, call: CallRecord, writes: CallWrites) -> bool:
        """Store `writes` if `call` (as read) is unchanged in what settling depends on
        (IVR version, status rank, end): True when stored, False when it moved on
        (nothing written; settle it in a transaction)."""
        return await self._settles.submit((call, writes), key=call.id)

    async def next_survey_id(self) -> int:
        """A survey id from the table's own sequence (the turn inserts the row with it)."""
        return await self._survey_ids.submit(None)

    async def job(self, job_id: int) -> JobRef | None:
        return await self._jobs.submit(("id", job_id))

    async def last_completed_job(self, customer_id: int) -> JobRef | None:
        return await self._jobs.submit(("customer", customer_id))

    async def job_by_reference(self, reference: str) -> JobRef | None:
        return await self._jobs.submit(("reference", reference))

    # -- the batched statements ---------------------------------------------------------------

    @staticmethod
    async def _load_many(conn: asyncpg.Connection,
                         keys: list[tuple[str, str]]) -> list[CallRecord | None]:
        rows = await conn.fetch(_LOAD, [k[0] for k in keys], [k[1] for k in keys])
        found = {(row["carrier"], row["carrier_call_id"]): row for row in rows}
        out: list[CallRecord | None] = []
        for key in keys:
            row = found.get(key)
            out.append(to_record(SimpleNamespace(**dict(row))) if row is not None else None)
        return out

    @staticmethod
    async def _save_many(conn: asyncpg.Connection, turns: list[TurnSave]) -> list[bool]:
        step_calls, step_at, step_node, step_detail, step_key = [], [], [], [], []
        for turn in turns:
            for step in turn.steps:
                step_calls.append(turn.call.id)
                step_at.append(step.at)
                step_node.append(step.node)
                step_detail.append(json.dumps({"keys": step.keys, "outcome": step.outcome},
                                              ensure_ascii=False))
                step_key.append(step.dedupe_key)
        rows = await conn.fetch(
            _SAVE, [t.call.id for t in turns], [t.call.ivr_version for t in turns],
            [t.state for t in turns], [t.path for t in turns], utcnow(),
            step_calls, step_at, step_node, step_detail, step_key)
        stored = {row["id"] for row in rows}
        return [turn.call.id in stored for turn in turns]

    @staticmethod
    async def _save_with_survey(conn: asyncpg.Connection, turns: list[TurnSave]) -> list[bool]:
        out = []
        for turn in turns:
            assert turn.survey is not None
            survey, audit, steps = turn.survey.row, turn.survey.audit, turn.steps
            row = await conn.fetchrow(
                _SAVE_WITH_SURVEY, turn.call.id, turn.call.ivr_version, turn.state, turn.path,
                utcnow(), [step.at for step in steps], [step.node for step in steps],
                [json.dumps({"keys": step.keys, "outcome": step.outcome}, ensure_ascii=False)
                 for step in steps], [step.dedupe_key for step in steps],
                audit["at"], audit["actor_id"], audit["action"],
                None if audit["before"] is None else json.dumps(audit["before"]),
                None if audit["after"] is None else json.dumps(audit["after"]),
                *(survey.get(name) for name in _SURVEY_FIELDS))
            out.append(row is not None)
        return out

    @staticmethod
    async def _next_survey_ids(conn: asyncpg.Connection, asks: list[None]) -> list[int]:
        return [row[0] for row in await conn.fetch(_NEXT_SURVEY_IDS, len(asks))]

    @staticmethod
    async def _callers_many(conn: asyncpg.Connection, numbers: list[str]) -> list[Caller | None]:
        found = {row["e164"]: Caller(row["id"], row["verified"], row["language"], row["timezone"])
                 for row in await conn.fetch(_CALLER, numbers)}
        return [found.get(number) for number in numbers]

    @staticmethod
    async def _open_one(conn: asyncpg.Connection,
                        items: list[CallOpen]) -> list[CallRecord | None]:
        out: list[CallRecord | None] = []
        for new in items:
            events = new.events
            row = await conn.fetchrow(
                _OPEN, *(new.values[name] for name in _OPEN_FIELDS),
                [e.at for e in events], [e.kind for e in events], [e.node for e in events],
                [json.dumps(e.detail or {}, ensure_ascii=False) for e in events],
                [e.dedupe_key for e in events])
            out.append(to_record(SimpleNamespace(**dict(row))) if row is not None else None)
        return out

    @staticmethod
    async def _settle_one(conn: asyncpg.Connection,
                          items: list[tuple[CallRecord, CallWrites]]) -> list[bool]:
        out = []
        for call, writes in items:
            columns = sorted(writes.values)
            sets = "".join(f", {column} = ${17 + i}::{_SETTLE_TYPES[column]}"
                           for i, column in enumerate(columns))
            contact = contact_values(writes.contact) if writes.contact is not None else None
            contact = contact or dict.fromkeys(
                ("customer_id", "kind", "at", "staff_id", "disposition", "summary"))
            events = writes.events
            row = await conn.fetchrow(
                _SETTLE.format(sets=sets), call.id, call.ivr_version, call.status_rank,
                call.ended_at, utcnow(),
                [e.at for e in events], [e.kind for e in events], [e.node for e in events],
                [json.dumps(e.detail or {}, ensure_ascii=False) for e in events],
                [e.dedupe_key for e in events],
                contact["customer_id"], contact["kind"], contact["at"], contact["staff_id"],
                contact["disposition"], contact["summary"],
                *(writes.values[column] for column in columns))
            out.append(row is not None)
        return out

    @staticmethod
    async def _jobs_many(conn: asyncpg.Connection,
                         asks: list[tuple[str, Any]]) -> list[JobRef | None]:
        found: dict[str, dict[Any, JobRef]] = {"customer": {}, "reference": {}, "id": {}}
        for kind, sql, column in (("customer", _LAST_JOBS, "customer_id"),
                                  ("reference", _JOBS_BY_REFERENCE, "reference"),
                                  ("id", _JOBS_BY_ID, "id")):
            wanted = [value for asked, value in asks if asked == kind]
            if wanted:
                for row in await conn.fetch(sql, wanted):
                    found[kind][row[column]] = _job(row)
        return [found[kind].get(value) for kind, value in asks]
