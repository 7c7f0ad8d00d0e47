"""`PgTurnStore`: the hotline's `TurnStore` on PostgreSQL, its batched operations as raw
asyncpg statements, batched across calls.

Most webhooks of a call are a plain menu key: read the call, run the session,
store the new state and the IVR steps. On PostgreSQL the hotline
(`callcenter.hotline.turns`) does those through this store's batched
operations instead of a SQLAlchemy transaction, because on a 2-core machine
the hotline's cost is the number of messages that cross between processes,
and SQLAlchemy's statement machinery, not the IVR. Its transactions (for the
turns that need one) are `SqlTurnStore`'s, which it extends. The statements
take their columns and types from the table metadata, and each table's
INSERT is the one of `callcenter.storage.inserts`:

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
  error (the hotline then runs the turn in a transaction) and the next batch
  opens a new connection: a caller is never left waiting and the batcher
  never stops;
- nothing is cached: every read comes from the database, so any process can
  continue any call.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import replace
from types import SimpleNamespace
from typing import Any, Generic, TypeVar

import asyncpg
from sqlalchemy.engine import make_url

from callcenter.hotline.ports import SETTLE_COLUMNS, Caller, CallOpen, CallWrites, TurnSave
from callcenter.storage.engine import Database
from callcenter.storage.inserts import (
    CALL_EVENTS,
    CALLS_TABLE,
    CONTACT_ONCE,
    CONTACTS,
    SURVEY_AUDIT,
    SURVEYS,
    contact_row,
    pg_array_type,
)
from callcenter.storage.inserts import CALLS as INSERT_CALLS
from callcenter.storage.repositories.calls import (
    RECORD_COLUMNS,
    contact_values,
    event_rows,
    to_record,
)
from callcenter.storage.turn_store_sql import (
    BATCHABLE,
    SqlTurnStore,
    opened_call_values,
    survey_row,
)
from callcenter.storage.types import utcnow
from crm.access import scored_scope
from crm.calls import CallRecord
from crm.services.calls import step_event
from crm.surveys import JobRef, planted_numbers, unvouched_numbers
from ivr import actions as act

log = logging.getLogger(__name__)
I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741
Flush = Callable[[asyncpg.Connection, list[I]], Awaitable[list[O]]]


def _type(column: str) -> str:
    return pg_array_type(CALLS_TABLE.c[column])


_RETURNING = "RETURNING " + ", ".join(column.name for column in RECORD_COLUMNS)
_LOAD = (
    f"SELECT {', '.join(f'c.{column.name}' for column in RECORD_COLUMNS)} FROM calls c "
    f"JOIN unnest($1::{_type('carrier')}[], $2::{_type('carrier_call_id')}[]) AS k(carrier, sid) "
    "ON c.carrier = k.carrier AND c.carrier_call_id = k.sid"
)
_STEPS, _STEP_NAMES = CALL_EVENTS.from_arrays(6, "s", join="JOIN u ON u.id = s.call_id")
_SURVEYS, _SURVEY_NAMES = SURVEYS.from_arrays(
    6 + len(_STEP_NAMES), "v", given={"created_at": "$5", "updated_at": "$5"},
    join="JOIN u ON u.id = v.call_id", returning="RETURNING id")
_AUDITS, _AUDIT_NAMES = SURVEY_AUDIT.from_arrays(
    6 + len(_STEP_NAMES) + len(_SURVEY_NAMES), "x", join="JOIN v ON v.id = x.survey_id")
#: every turn waiting, in one statement: the guarded UPDATE per call, then (joined to the calls
#: it updated, so nothing of a stale turn is written) the steps, the surveys and their audit
_SAVE = f"""
WITH t AS (
    SELECT * FROM unnest($1::{_type('id')}[], $2::{_type('ivr_version')}[],
                         $3::{_type('ivr_state')}[], $4::{_type('ivr_path')}[])
        AS t(id, expected, state, path)
), u AS (
    UPDATE calls c SET ivr_state = t.state, ivr_version = t.expected + 1,
                       ivr_path = t.path, updated_at = $5
    FROM t WHERE c.id = t.id AND c.ivr_version = t.expected
    RETURNING c.id
), e AS ({_STEPS}), v AS ({_SURVEYS}), a AS ({_AUDITS})
SELECT id FROM u
"""
_N_SETTLE = 5 + 2 * len(SETTLE_COLUMNS)  # the parameter number of "now"
_SETTLE_EVENTS, _SETTLE_EVENT_NAMES = CALL_EVENTS.from_arrays(
    _N_SETTLE + 1, "s", join="JOIN u ON u.id = s.call_id")
_CONTACTS, _CONTACT_NAMES = CONTACTS.from_arrays(
    _N_SETTLE + 1 + len(_SETTLE_EVENT_NAMES), "x", given={"created_at": f"${_N_SETTLE}"},
    join="JOIN u ON u.id = x.call_id",
    where=CONTACT_ONCE.format("x.call_id"))
#: every settling waiting: per call, the columns it sets (a flag each) under a guard on what
#: settling read (IVR version, status rank, end), the events, and the contact (once per call)
_SETTLE = f"""
WITH t AS (
    SELECT * FROM unnest($1::{_type('id')}[], $2::{_type('ivr_version')}[],
        $3::{_type('status_rank')}[], $4::{_type('ended_at')}[],
        {", ".join(f"${5 + 2 * i}::boolean[], ${6 + 2 * i}::{_type(c)}[]"
                   for i, c in enumerate(SETTLE_COLUMNS))})
        AS t(id, read_version, read_rank, read_end,
             {", ".join(f"set_{c}, new_{c}" for c in SETTLE_COLUMNS)})
), u AS (
    UPDATE calls c SET updated_at = ${_N_SETTLE},
        {", ".join(f"{c} = CASE WHEN t.set_{c} THEN t.new_{c} ELSE c.{c} END"
                   for c in SETTLE_COLUMNS)}
    FROM t
    WHERE c.id = t.id AND c.ivr_version = t.read_version AND c.status_rank = t.read_rank
      AND c.ended_at IS NOT DISTINCT FROM t.read_end
    RETURNING c.id
), e AS ({_SETTLE_EVENTS}), k AS ({_CONTACTS})
SELECT id FROM u
"""
_CALLER = (
    "SELECT p.e164, c.id, c.verified, c.language, c.timezone FROM customer_phones p "
    "JOIN customers c ON c.id = p.customer_id WHERE p.e164 = ANY($1::text[])"
)
_OPEN_CALLS, _OPEN_NAMES = INSERT_CALLS.from_arrays(1, "n", returning=_RETURNING)
_OPEN_EVENTS, _OPEN_EVENT_NAMES = CALL_EVENTS.from_arrays(
    len(_OPEN_NAMES) + 1, "s", given={"call_id": "c.id"},
    keys=(("carrier", _type("carrier")), ("sid", _type("carrier_call_id"))),
    join="JOIN c ON c.carrier = s.carrier AND c.carrier_call_id = s.sid")
#: every new call waiting: inserted (a call logged already is skipped and comes back missing)
#: with the events of exactly the calls inserted
_OPEN = f"WITH c AS ({_OPEN_CALLS}), e AS ({_OPEN_EVENTS}) SELECT * FROM c"
_NEXT_SURVEY_IDS = (
    "SELECT nextval(pg_get_serial_sequence('surveys', 'id')) FROM generate_series(1, $1)")
_JOB_COLUMNS = (
    "id, reference, customer_id, department_id, technician_id, completed_at, "
    "ARRAY(SELECT p.e164 FROM customer_phones p WHERE p.customer_id = service_jobs.customer_id "
    "ORDER BY p.id) AS phones, "
    "ARRAY(SELECT p.added_by_department_id FROM customer_phones p "
    "WHERE p.customer_id = service_jobs.customer_id ORDER BY p.id) AS added_by, "
    "ARRAY(SELECT p.added_by FROM customer_phones p "
    "WHERE p.customer_id = service_jobs.customer_id ORDER BY p.id) AS added_by_staff, "
    "(SELECT c.verified FROM customers c WHERE c.id = service_jobs.customer_id) AS verified")
#: the department tree, read only when a number on a job's record was added by a person
_DEPARTMENTS = "SELECT id, parent_id, supervision FROM departments"
_LAST_JOBS = (
    f"SELECT DISTINCT ON (customer_id) {_JOB_COLUMNS} FROM service_jobs "
    "WHERE customer_id = ANY($1::bigint[]) AND completed_at IS NOT NULL "
    "ORDER BY customer_id, completed_at DESC, id DESC"
)
_JOBS_BY_REFERENCE = f"SELECT {_JOB_COLUMNS} FROM service_jobs WHERE reference = ANY($1::text[])"
_JOBS_BY_ID = f"SELECT {_JOB_COLUMNS} FROM service_jobs WHERE id = ANY($1::bigint[])"


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


def _job(row: asyncpg.Record, parents: dict[int, int | None] | None = None,
         supervision: set[int] | None = None) -> JobRef:
    """The job of `row`; with the department tree, the numbers on its record that were
    added by someone with a stake in its department (`crm.surveys.planted_numbers`)."""
    phones = list(row["phones"] or ())
    planted: frozenset[str] = frozenset()
    if parents is not None:
        scope = scored_scope([row["department_id"]] if row["department_id"] is not None else [],
                             parents, supervision or set())
        planted = planted_numbers(zip(phones, row["added_by"] or (), strict=False), scope)
    unvouched = unvouched_numbers(zip(phones, row["added_by_staff"] or (), strict=False),
                                  bool(row["verified"]))
    return JobRef(row["id"], row["reference"], row["customer_id"], row["department_id"],
                  row["technician_id"], row["completed_at"], frozenset(phones), planted, unvouched)


def _record(row: asyncpg.Record) -> CallRecord:
    return to_record(SimpleNamespace(**dict(row)))


class PgTurnStore(SqlTurnStore):
    """The `TurnStore` port with batched statements on PostgreSQL (see the module doc); its
    transactions are `SqlTurnStore`'s."""

    @classmethod
    def for_database(cls, db: Database, enabled: bool) -> PgTurnStore | None:
        """A store for `db` when it is PostgreSQL and the fast path is `enabled`."""
        if not enabled or db.dialect != "postgresql":
            return None
        return cls(db)

    def __init__(self, db: Database, *, connections: int = 2, timeout_s: float = 10.0,
                 batches: frozenset[type[act.Effect]] = BATCHABLE) -> None:
        super().__init__(db, batches=batches)
        self.dsn = make_url(db.url).set(drivername="postgresql").render_as_string(
            hide_password=False)
        batcher = functools.partial(Batcher, timeout_s=timeout_s)
        self._loads: Batcher[tuple[str, str], CallRecord | None] = batcher(
            "call-reads", self.dsn, self._load_many, connections=connections)
        self._saves: Batcher[TurnSave, bool] = batcher(
            "turn-saves", self.dsn, self._save_many, connections=connections)
        self._jobs: Batcher[tuple[str, Any], JobRef | None] = batcher(
            "job-reads", self.dsn, self._jobs_many, connections=1)
        self._survey_id_asks: Batcher[None, int] = batcher(
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
                self._survey_id_asks)

    # -- the batched operations (see `TurnStore`) ---------------------------------------------

    async def load(self, carrier: str, carrier_call_id: str) -> CallRecord | None:
        return await self._loads.submit((carrier, carrier_call_id))

    async def save(self, turn: TurnSave) -> CallRecord | None:
        if turn.survey is not None and turn.survey.row.get("call_id") != turn.call.id:
            raise ValueError("a turn stores only a survey taken on its own call")
        stored = await self._saves.submit(turn, key=turn.call.id)
        if not stored:
            return None
        return replace(turn.call, ivr_state=turn.state, ivr_version=turn.call.ivr_version + 1,
                       ivr_path=turn.path)

    async def caller(self, e164: str) -> Caller | None:
        return await self._callers.submit(e164)

    async def open(self, new: CallOpen) -> CallRecord | None:
        return await self._opens.submit(
            new, key=(new.cmd.carrier.value, new.cmd.carrier_call_id))

    async def settle(self, call: CallRecord, writes: CallWrites) -> bool:
        unknown = set(writes.values) - set(SETTLE_COLUMNS)
        if unknown:
            raise ValueError(f"a settling does not write {sorted(unknown)}")
        return await self._settles.submit((call, writes), key=call.id)

    async def next_survey_id(self) -> int:
        """A survey id from the table's own sequence (the turn inserts the row with it)."""
        return await self._survey_id_asks.submit(None)

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
        return [_record(row) if (row := found.get(key)) is not None else None for key in keys]

    @staticmethod
    async def _save_many(conn: asyncpg.Connection, turns: list[TurnSave]) -> list[bool]:
        steps: list[dict[str, Any]] = []
        surveys: list[dict[str, Any]] = []
        audits: list[dict[str, Any]] = []
        for turn in turns:
            steps.extend(event_rows(turn.call.id, [step_event(step) for step in turn.steps]))
            if turn.survey is not None:
                surveys.append(survey_row(turn.survey.row))
                audits.append({**turn.survey.audit, "survey_id": turn.survey.row["id"]})
        rows = await conn.fetch(
            _SAVE, [t.call.id for t in turns], [t.call.ivr_version for t in turns],
            [t.state for t in turns], [t.path for t in turns], utcnow(),
            *CALL_EVENTS.arrays(_STEP_NAMES, steps), *SURVEYS.arrays(_SURVEY_NAMES, surveys),
            *SURVEY_AUDIT.arrays(_AUDIT_NAMES, audits))
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
        calls = [opened_call_values(new) for new in items]
        events = [{**row, "carrier": new.cmd.carrier.value, "sid": new.cmd.carrier_call_id}
                  for new in items for row in event_rows(0, new.events)]
        rows = await conn.fetch(_OPEN, *INSERT_CALLS.arrays(_OPEN_NAMES, calls),
                                *CALL_EVENTS.arrays(_OPEN_EVENT_NAMES, events))
        found = {(row["carrier"], row["carrier_call_id"]): row for row in rows}
        return [_record(row) if (row := found.get(
                    (new.cmd.carrier.value, new.cmd.carrier_call_id))) is not None else None
                for new in items]

    @staticmethod
    async def _settle_many(conn: asyncpg.Connection,
                           items: list[tuple[CallRecord, CallWrites]]) -> list[bool]:
        sets: list[list[Any]] = [[] for _ in range(2 * len(SETTLE_COLUMNS))]
        events: list[dict[str, Any]] = []
        contacts: list[dict[str, Any]] = []
        for call, writes in items:
            for i, name in enumerate(SETTLE_COLUMNS):
                sets[2 * i].append(name in writes.values)
                sets[2 * i + 1].append(writes.values.get(name))
            events.extend(event_rows(call.id, writes.timeline))
            contact = contact_values(writes.contact) if writes.contact is not None else None
            if contact is not None:
                contacts.append(contact_row(contact))
        rows = await conn.fetch(
            _SETTLE, [c.id for c, _w in items], [c.ivr_version for c, _w in items],
            [c.status_rank for c, _w in items], [c.ended_at for c, _w in items], *sets,
            utcnow(), *CALL_EVENTS.arrays(_SETTLE_EVENT_NAMES, events),
            *CONTACTS.arrays(_CONTACT_NAMES, contacts))
        stored = {row["id"] for row in rows}
        return [call.id in stored for call, _writes in items]

    @staticmethod
    async def _jobs_many(conn: asyncpg.Connection,
                         asks: list[tuple[str, Any]]) -> list[JobRef | None]:
        found: dict[str, dict[Any, JobRef]] = {"customer": {}, "reference": {}, "id": {}}
        rows: dict[str, dict[Any, asyncpg.Record]] = {}
        for kind, sql, column in (("customer", _LAST_JOBS, "customer_id"),
                                  ("reference", _JOBS_BY_REFERENCE, "reference"),
                                  ("id", _JOBS_BY_ID, "id")):
            wanted = [value for asked, value in asks if asked == kind]
            if wanted:
                rows[kind] = {row[column]: row for row in await conn.fetch(sql, wanted)}
        parents: dict[int, int | None] | None = None
        supervision: set[int] = set()
        if any(dept is not None for by in rows.values() for row in by.values()
               for dept in row["added_by"] or ()):  # a number put on a record by a person
            tree = await conn.fetch(_DEPARTMENTS)
            parents = {t["id"]: t["parent_id"] for t in tree}
            supervision = {t["id"] for t in tree if t["supervision"]}
        for kind, by in rows.items():
            found[kind] = {key: _job(row, parents, supervision) for key, row in by.items()}
        return [found[kind].get(value) for kind, value in asks]
