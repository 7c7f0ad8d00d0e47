"""The IVR turn's hot path on PostgreSQL: raw asyncpg statements, batched across calls.

Most webhooks of a call are a plain menu key: read the call, run the session,
store the new state and the IVR steps. On PostgreSQL the driver
(`callcenter.telephony.hotline`) does those through this store instead of a
SQLAlchemy transaction, because on a 2-core machine the hotline's cost is
the number of messages that cross between processes, and SQLAlchemy's
statement machinery, not the IVR:

- every call read waiting in this process goes in one ``SELECT ... JOIN
  unnest(...)``; so do the callers' numbers and the jobs looked up;
- every turn save waiting goes in one statement: an ``UPDATE ... FROM
  unnest(...) WHERE ivr_version = expected`` (the optimistic lock, per call)
  and, chained to it (``JOIN`` on its ``RETURNING``), the ``INSERT`` of the
  steps, of the survey a turn saved and of its audit entry, for exactly the
  calls whose update took. One statement is one transaction: a turn's state,
  steps and survey are stored together or not at all;
- every new call waiting goes in one ``INSERT ... SELECT FROM unnest ... ON
  CONFLICT DO NOTHING RETURNING`` with its first events, and every status
  settling in one guarded ``UPDATE`` (a set-flag per column) with its events
  and the customer's contact;
- a batch is whatever queued while the previous one was in flight, so one
  quiet call pays one round trip and a busy process shares one among many
  (and one commit, one WAL flush).

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
from crm.services.calls import CallEventIn, IvrStep, step_event
from crm.surveys import JobRef

log = logging.getLogger(__name__)
#: the app's one store, in ``app[SERVICES]`` (see `turn_store_ctx` in callcenter.app)
SERVICE = "ivr_turn_store"
I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741
Flush = Callable[[asyncpg.Connection, list[I]], Awaitable[list[O]]]

_COLUMNS = ", ".join(f"c.{column.name}" for column in RECORD_COLUMNS)
_LOAD = (
    f"SELECT {_COLUMNS} FROM calls c "
    "JOIN unnest($1::text[], $2::text[]) AS k(carrier, sid) "
    "ON c.carrier = k.carrier AND c.carrier_call_id = k.sid"
)
_STEP_ARRAYS = "$6::bigint[], $7::timestamptz[], $8::text[], $9::text[], $10::text[]"
_SURVEY_FIELDS = (
    "id", "job_id", "customer_id", "department_id", "staff_id", "call_id", "surveyed_at",
    "source", "timeliness", "quality", "attitude", "complete", "verification", "verified_by",
    "verified_at", "entered_by", "note", "pending_reason",
)
_SURVEY_TYPES = (
    "bigint", "bigint", "bigint", "bigint", "bigint", "bigint", "timestamptz", "text", "text",
    "text", "text", "boolean", "text", "bigint", "timestamptz", "bigint", "text", "text",
)
_AUDIT_ARRAYS = "$11::bigint[], $12::timestamptz[], $13::bigint[], $14::text[], $15::text[], $16::text[]"
#: every turn waiting, in one statement: the guarded UPDATE per call, then (joined to the calls
#: it updated, so nothing of a stale turn is written) the steps, the surveys and their audit
_SAVE = f"""
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
    FROM unnest({_STEP_ARRAYS}) AS s(call_id, at, node, detail, dedupe_key)
    JOIN u ON u.id = s.call_id
    ON CONFLICT (call_id, dedupe_key) DO NOTHING
), v AS (
    INSERT INTO surveys ({", ".join(_SURVEY_FIELDS)}, created_at, updated_at)
    SELECT {", ".join(f"v.{name}" for name in _SURVEY_FIELDS)}, $5, $5
    FROM unnest({", ".join(f"${17 + i}::{t}[]" for i, t in enumerate(_SURVEY_TYPES))})
        AS v({", ".join(_SURVEY_FIELDS)})
    JOIN u ON u.id = v.call_id
    RETURNING id
), a AS (
    INSERT INTO survey_audit (survey_id, at, actor_id, action, before, after)
    SELECT x.survey_id, x.at, x.actor_id, x.action, x.before::json, x.after::json
    FROM unnest({_AUDIT_ARRAYS}) AS x(survey_id, at, actor_id, action, before, after)
    JOIN v ON v.id = x.survey_id
)
SELECT id FROM u
"""
#: the columns a call's settling may set (`crm.services.calls.settle_status`), and their types
_SETTLE_TYPES = {
    "ended_at": "timestamptz", "disposition": "text", "duration_s": "float8",
    "carrier_status": "text", "status_rank": "int", "answered_at": "timestamptz",
}
_SETTLE_ORDER = tuple(_SETTLE_TYPES)
#: every settling waiting: per call, the columns it sets (a flag each) under a guard on what
#: settling read (IVR version, status rank, end), the events, and the contact (once per call)
_SETTLE = f"""
WITH t AS (
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::int[], $4::timestamptz[],
        {", ".join(f"${5 + 2 * i}::boolean[], ${6 + 2 * i}::{t}[]"
                   for i, t in enumerate(_SETTLE_TYPES.values()))})
        AS t(id, read_version, read_rank, read_end,
             {", ".join(f"set_{c}, new_{c}" for c in _SETTLE_ORDER)})
), u AS (
    UPDATE calls c SET updated_at = $17,
        {", ".join(f"{c} = CASE WHEN t.set_{c} THEN t.new_{c} ELSE c.{c} END"
                   for c in _SETTLE_ORDER)}
    FROM t
    WHERE c.id = t.id AND c.ivr_version = t.read_version AND c.status_rank = t.read_rank
      AND c.ended_at IS NOT DISTINCT FROM t.read_end
    RETURNING c.id
), e AS (
    INSERT INTO call_events (call_id, at, kind, node, detail, dedupe_key)
    SELECT s.call_id, s.at, s.kind, s.node, s.detail::json, s.dedupe_key
    FROM unnest($18::bigint[], $19::timestamptz[], $20::text[], $21::text[], $22::text[],
                $23::text[]) AS s(call_id, at, kind, node, detail, dedupe_key)
    JOIN u ON u.id = s.call_id
    ON CONFLICT (call_id, dedupe_key) DO NOTHING
), k AS (
    INSERT INTO contacts (customer_id, kind, at, call_id, staff_id, disposition, summary,
                          created_at)
    SELECT x.customer_id, x.kind, x.at, x.call_id, x.staff_id, x.disposition, x.summary, $17
    FROM unnest($24::bigint[], $25::text[], $26::timestamptz[], $27::bigint[], $28::bigint[],
                $29::text[], $30::text[])
        AS x(customer_id, kind, at, call_id, staff_id, disposition, summary)
    JOIN u ON u.id = x.call_id
    WHERE NOT EXISTS (SELECT 1 FROM contacts WHERE contacts.call_id = x.call_id)
)
SELECT id FROM u
"""
_CALLER = (
    "SELECT p.e164, c.id, c.verified, c.language, c.timezone FROM customer_phones p "
    "JOIN customers c ON c.id = p.customer_id WHERE p.e164 = ANY($1::text[])"
)
_OPEN_TYPES = {
    "carrier": "text", "carrier_call_id": "text", "direction": "text", "from_number": "text",
    "to_number": "text", "customer_id": "bigint", "started_at": "timestamptz",
    "language": "text", "callback_attempt_id": "text", "disposition": "text",
    "status_rank": "int", "ivr_version": "int", "hold_s": "float8", "wrapup_s": "float8",
    "created_at": "timestamptz", "updated_at": "timestamptz", "ivr_state": "text",
    "ivr_path": "text",
}
_OPEN_FIELDS = tuple(_OPEN_TYPES)
_N_OPEN = len(_OPEN_FIELDS)
#: every new call waiting: inserted (a call logged already is skipped and comes back missing)
#: with the events of exactly the calls inserted
_OPEN = f"""
WITH c AS (
    INSERT INTO calls ({", ".join(_OPEN_FIELDS)})
    SELECT * FROM unnest({", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_OPEN_TYPES.values()))})
    ON CONFLICT (carrier, carrier_call_id) DO NOTHING
    RETURNING {", ".join(column.name for column in RECORD_COLUMNS)}
), e AS (
    INSERT INTO call_events (call_id, at, kind, node, detail, dedupe_key)
    SELECT c.id, s.at, s.kind, s.node, s.detail::json, s.dedupe_key
    FROM unnest(${_N_OPEN + 1}::text[], ${_N_OPEN + 2}::text[], ${_N_OPEN + 3}::timestamptz[],
                ${_N_OPEN + 4}::text[], ${_N_OPEN + 5}::text[], ${_N_OPEN + 6}::text[],
                ${_N_OPEN + 7}::text[])
        AS s(carrier, sid, at, kind, node, detail, dedupe_key)
    JOIN c ON c.carrier = s.carrier AND c.carrier_call_id = s.sid
)
SELECT * FROM c
"""
_NEXT_SURVEY_IDS = (
    "SELECT nextval(pg_get_serial_sequence('surveys', 'id')) FROM generate_series(1, $1)")
_JOB_COLUMNS = (
    "id, reference, customer_id, department_id, technician_id, completed_at, "
    "ARRAY(SELECT p.e164 FROM customer_phones p WHERE p.customer_id = service_jobs.customer_id) "
    "AS phones")
_LAST_JOBS = (
    f"SELECT DISTINCT ON (customer_id) {_JOB_COLUMNS} FROM service_jobs "
    "WHERE customer_id = ANY($1::bigint[]) AND completed_at IS NOT NULL "
    "ORDER BY customer_id, completed_at DESC, id DESC"
)
_JOBS_BY_REFERENCE = f"SELECT {_JOB_COLUMNS} FROM service_jobs WHERE reference = ANY($1::text[])"
_JOBS_BY_ID = f"SELECT {_JOB_COLUMNS} FROM service_jobs WHERE id = ANY($1::bigint[])"


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
    steps: Sequence[IvrStep]
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

    def start(self) -> None:
        """Open the connections now, in the background (else on first use), so the first
        calls after a start pay no connect; a database that is down is logged and left to
        the first use."""
        if self._tasks or self._closed:
            return
        self._tasks = [asyncio.create_task(self._run(None, warm=True),
                                           name=f"pg-{self.name}-{i}")
                       for i in range(self._size)]

    async def _warm(self) -> asyncpg.Connection | None:
        # connect only: a statement prepared and not yet run keeps its implicit transaction
        # open, and with it a lock on every table it names (a migration would wait for it)
        conn: asyncpg.Connection | None = None
        try:
            conn = await self._connect()
            return conn
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("the %s connection could not open yet (%s); it will on first use",
                        self.name, exc)
            if conn is not None:
                conn.terminate()
            return None
        except BaseException:  # closed while warming: a half-spoken connection holds locks
            if conn is not None:
                conn.terminate()
            raise

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self._dsn, timeout=self._timeout,
                                     command_timeout=self._timeout)

    async def submit(self, item: I, key: Hashable = None) -> O:
        if self._closed:
            raise RuntimeError(f"the {self.name} batcher is closed")
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._run(None), name=f"pg-{self.name}-{i}")
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

    async def _run(self, conn: asyncpg.Connection | None, warm: bool = False) -> None:
        try:
            if warm:
                conn = await self._warm()
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
                        conn = await self._connect()
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


def _append(columns: tuple[list[Any], ...], *values: Any) -> None:
    """One row more in column arrays (the ``unnest`` parameters of a batched statement)."""
    for column, value in zip(columns, values, strict=True):
        column.append(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _job(row: asyncpg.Record) -> JobRef:
    return JobRef(row["id"], row["reference"], row["customer_id"], row["department_id"],
                  row["technician_id"], row["completed_at"], frozenset(row["phones"] or ()))


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
        self._survey_ids: Batcher[None, int] = batcher(
            "survey-ids", self.dsn, self._next_survey_ids, connections=1)
        self._callers: Batcher[str, Caller | None] = batcher(
            "caller-reads", self.dsn, self._callers_many, connections=1)
        self._opens: Batcher[CallOpen, CallRecord | None] = batcher(
            "call-opens", self.dsn, self._open_many, connections=1)
        self._settles: Batcher[tuple[CallRecord, CallWrites], bool] = batcher(
            "call-settles", self.dsn, self._settle_many, connections=1)

    def start(self) -> None:
        """Connect every batcher, in the background (see `Batcher.start`)."""
        for batcher in self.batchers:
            batcher.start()

    async def close(self) -> None:
        await asyncio.gather(*(batcher.close() for batcher in self.batchers))

    @property
    def batchers(self) -> tuple[Batcher[Any, Any], ...]:
        return (self._loads, self._saves, self._jobs, self._settles, self._callers, self._opens,
                self._survey_ids)

    # -- the three operations -----------------------------------------------------------------

    async def load(self, carrier: str, carrier_call_id: str) -> CallRecord | None:
        """The call as stored now (None: no such call)."""
        return await self._loads.submit((carrier, carrier_call_id))

    async def save(self, turn: TurnSave) -> CallRecord | None:
        """Store `turn` if the call is still at the version it was read at: the call as
        now stored, or None when another webhook advanced it first (nothing written)."""
        if turn.survey is not None and turn.survey.row.get("call_id") != turn.call.id:
            raise ValueError("a turn stores only a survey taken on its own call")
        stored = await self._saves.submit(turn, key=turn.call.id)
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
        return await self._opens.submit(
            new, key=(new.values["carrier"], new.values["carrier_call_id"]))

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
        steps: tuple[list[Any], ...] = ([], [], [], [], [])
        audits: tuple[list[Any], ...] = ([], [], [], [], [], [])
        surveys: tuple[list[Any], ...] = tuple([] for _ in _SURVEY_FIELDS)
        for turn in turns:
            for step in turn.steps:
                event = step_event(step)
                _append(steps, turn.call.id, event.at, event.node, _json(event.detail),
                        event.dedupe_key)
            if turn.survey is not None:
                row, audit = turn.survey.row, turn.survey.audit
                _append(surveys, *(row.get(name) for name in _SURVEY_FIELDS))
                _append(audits, row["id"], audit["at"], audit["actor_id"], audit["action"],
                        _json_or_none(audit["before"]), _json_or_none(audit["after"]))
        rows = await conn.fetch(
            _SAVE, [t.call.id for t in turns], [t.call.ivr_version for t in turns],
            [t.state for t in turns], [t.path for t in turns], utcnow(),
            *steps, *audits, *surveys)
        stored = {row["id"] for row in rows}
        return [turn.call.id in stored for turn in turns]

    @staticmethod
    async def _next_survey_ids(conn: asyncpg.Connection, asks: list[None]) -> list[int]:
        return [row[0] for row in await conn.fetch(_NEXT_SURVEY_IDS, len(asks))]

    @staticmethod
    async def _callers_many(conn: asyncpg.Connection, numbers: list[str]) -> list[Caller | None]:
        found = {row["e164"]: Caller(row["id"], row["verified"], row["language"], row["timezone"])
                 for row in await conn.fetch(_CALLER, numbers)}
        return [found.get(number) for number in numbers]

    @staticmethod
    async def _open_many(conn: asyncpg.Connection,
                         items: list[CallOpen]) -> list[CallRecord | None]:
        events: tuple[list[Any], ...] = ([], [], [], [], [], [], [])
        for new in items:
            for e in new.events:
                _append(events, new.values["carrier"], new.values["carrier_call_id"], e.at,
                        e.kind, e.node, _json(e.detail or {}), e.dedupe_key)
        rows = await conn.fetch(
            _OPEN, *([new.values[name] for new in items] for name in _OPEN_FIELDS), *events)
        found = {(row["carrier"], row["carrier_call_id"]): row for row in rows}
        out: list[CallRecord | None] = []
        for new in items:
            row = found.get((new.values["carrier"], new.values["carrier_call_id"]))
            out.append(to_record(SimpleNamespace(**dict(row))) if row is not None else None)
        return out

    @staticmethod
    async def _settle_many(conn: asyncpg.Connection,
                           items: list[tuple[CallRecord, CallWrites]]) -> list[bool]:
        calls: tuple[list[Any], ...] = ([], [], [], [])
        sets: tuple[list[Any], ...] = tuple([] for _ in range(2 * len(_SETTLE_ORDER)))
        events: tuple[list[Any], ...] = ([], [], [], [], [], [])
        contacts: tuple[list[Any], ...] = ([], [], [], [], [], [], [])
        for call, writes in items:
            _append(calls, call.id, call.ivr_version, call.status_rank, call.ended_at)
            for i, name in enumerate(_SETTLE_ORDER):
                sets[2 * i].append(name in writes.values)
                sets[2 * i + 1].append(writes.values.get(name))
            for e in writes.events:
                _append(events, call.id, e.at, e.kind, e.node, _json(e.detail or {}),
                        e.dedupe_key)
            contact = contact_values(writes.contact) if writes.contact is not None else None
            if contact is not None:
                _append(contacts, *(contact[name] for name in (
                    "customer_id", "kind", "at", "call_id", "staff_id", "disposition", "summary")))
        rows = await conn.fetch(_SETTLE, *calls, *sets, utcnow(), *events, *contacts)
        stored = {row["id"] for row in rows}
        return [call.id in stored for call, _writes in items]

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
