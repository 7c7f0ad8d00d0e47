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
- every turn save waiting goes in one statement (`turn_statements.SAVE`): an
  ``UPDATE ... FROM unnest(...)`` guarded per call by the call as the turn had
  it and the jobs it read, and, chained to it, the ``INSERT`` of the steps,
  of the survey a turn saved and of its audit entry, for exactly the calls
  whose update took. One statement is one transaction: a turn's state, steps
  and survey are stored together or not at all;
- every new call waiting goes in one ``INSERT ... SELECT FROM unnest ... ON
  CONFLICT DO NOTHING RETURNING`` with its first events, its caller found in
  the same statement (`turn_statements.OPEN`), and every status settling in
  one guarded ``UPDATE`` (a set-flag per column) with its events and the
  customer's contact;
- a batch is whatever queued while the previous one was in flight, so one
  quiet call pays one round trip and a busy process shares one among many
  (and one commit, one WAL flush).

What it remembers (so that a known caller's webhooks are one statement each):
- jobs as read (`read_job`; also the caller's last completed job, which the
  open statement returns), bounded, by how they were asked for. A turn may
  use one instead of reading it: its save checks the job still reads the same
  (a fingerprint), and a turn whose save wrote nothing forgets its jobs;
- survey ids: a few drawn from the table's sequence on statements sent
  anyway (`next_survey_id`), so a survey's turn needs no ``nextval`` of its
  own. Ids drawn and never used (a process that stops) are gaps, as a rolled
  back insert leaves.
The calls themselves are remembered by the hotline (`callcenter.hotline.recent`).

Guarantees:
- a turn whose call moved on (a replayed or concurrent webhook, or a call
  remembered from an earlier turn that another process advanced) is not
  written; `save` says so (None) and the caller treats it as stale, as the
  transactional path does;
- two turns of the same call are never in one batch (the second waits for
  the next), so "updated" is unambiguous per call;
- a batch that fails as a whole (a bad row) is retried item by item, so one
  bad turn fails alone; a dropped connection, a statement past its time limit
  (10 s: a lock never released) or any other error fails its batch with that
  error (the hotline then runs the turn in a transaction) and the next batch
  opens a new connection: a caller is never left waiting and the batcher
  never stops.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import replace
from enum import Enum
from types import SimpleNamespace
from typing import Any, Generic, TypeVar

import asyncpg
from sqlalchemy.engine import make_url

from callcenter.hotline.ports import (
    GUARDED_FIELDS,
    SETTLE_COLUMNS,
    Caller,
    CallOpen,
    CallWrites,
    JobRead,
    Opened,
    TurnSave,
)
from callcenter.storage import turn_statements as sql
from callcenter.storage.engine import Database
from callcenter.storage.inserts import (
    CALL_EVENTS,
    CONTACTS,
    SURVEY_AUDIT,
    SURVEYS,
    contact_row,
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
#: jobs remembered as read (then checked by the save that relies on them)
_JOBS_KEPT = 1024
#: survey ids kept drawn from the sequence (a statement sent anyway draws more below half)
_SURVEY_IDS_KEPT = 8
#: an open: the call and its first turn, and (`open_for`) the number and kind of caller
_Opening = tuple[CallOpen, str | None, Caller | None]


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


def _job(row: Any, parents: dict[int, int | None] | None = None,
         supervision: set[int] | None = None, prefix: str = "") -> JobRef:
    """The job of `row` (its columns named `prefix` + name); with the department tree, the
    numbers on its record that were added by someone with a stake in its department
    (`crm.surveys.planted_numbers`)."""
    phones = list(row[prefix + "phones"] or ())
    department = row[prefix + "department_id"]
    planted: frozenset[str] = frozenset()
    if parents is not None:
        scope = scored_scope([department] if department is not None else [],
                             parents, supervision or set())
        planted = planted_numbers(zip(phones, row[prefix + "added_by"] or (), strict=False),
                                  scope)
    unvouched = unvouched_numbers(zip(phones, row[prefix + "added_by_staff"] or (), strict=False),
                                  bool(row[prefix + "verified"]))
    return JobRef(row[prefix + "id"], row[prefix + "reference"], row[prefix + "customer_id"],
                  department, row[prefix + "technician_id"], row[prefix + "completed_at"],
                  frozenset(phones), planted, unvouched)


def _by_a_person(row: Any, prefix: str = "") -> bool:
    """A number on the job's record was added by a person: the job depends on the department
    tree too, which its fingerprint does not cover (such a job is not remembered)."""
    return any(dept is not None for dept in row[prefix + "added_by"] or ())


def _record(row: asyncpg.Record) -> CallRecord:
    return to_record(SimpleNamespace(**{column.name: row[column.name]
                                        for column in RECORD_COLUMNS}))


def _guard_arrays(calls: list[CallRecord]) -> list[list[Any]]:
    """The guard's arrays (`turn_statements._GUARD`): each call as the turn had it."""
    return [[value.value if isinstance(value, Enum) else value
             for value in (getattr(call, name) for call in calls)] for name in GUARDED_FIELDS]


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
        self._jobs: Batcher[tuple[str, Any], tuple[JobRead, bool]] = batcher(
            "job-reads", self.dsn, self._jobs_many, connections=1)
        self._survey_id_asks: Batcher[None, int] = batcher(
            "survey-ids", self.dsn, self._next_survey_ids, connections=1)
        self._callers: Batcher[str, Caller | None] = batcher(
            "caller-reads", self.dsn, self._callers_many, connections=1)
        self._opens: Batcher[_Opening, Opened] = batcher(
            "call-opens", self.dsn, self._open_many, connections=1)
        self._settles: Batcher[tuple[CallRecord, CallWrites], bool] = batcher(
            "call-settles", self.dsn, self._settle_many, connections=1)
        self._jobs_seen: OrderedDict[tuple[str, Any], JobRead] = OrderedDict()
        self._drawn_ids: deque[int] = deque()
        self._drawn_ids_asked = 0

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
            for read in turn.reads:  # one of them may have moved on: read them again
                self._jobs_seen.pop((read.by, read.key), None)
            return None
        return replace(turn.call, ivr_state=turn.state, ivr_version=turn.call.ivr_version + 1,
                       ivr_path=turn.path)

    async def caller(self, e164: str) -> Caller | None:
        return await self._callers.submit(e164)

    async def open(self, new: CallOpen) -> CallRecord | None:
        opened = await self._opens.submit(
            (new, None, None), key=(new.cmd.carrier.value, new.cmd.carrier_call_id))
        return opened.call

    async def open_for(self, new: CallOpen, e164: str, like: Caller) -> Opened:
        return await self._opens.submit(
            (new, e164, like), key=(new.cmd.carrier.value, new.cmd.carrier_call_id))

    async def settle(self, call: CallRecord, writes: CallWrites) -> bool:
        unknown = set(writes.values) - set(SETTLE_COLUMNS)
        if unknown:
            raise ValueError(f"a settling does not write {sorted(unknown)}")
        return await self._settles.submit((call, writes), key=call.id)

    async def next_survey_id(self) -> int:
        """A survey id from the table's own sequence (the turn inserts the row with it): one
        drawn ahead on a statement sent anyway, else one asked for now."""
        if self._drawn_ids:
            return self._drawn_ids.popleft()
        return await self._survey_id_asks.submit(None)

    async def read_job(self, by: str, key: int | str) -> JobRead:
        seen = self._jobs_seen.get((by, key))
        if seen is not None:
            self._jobs_seen.move_to_end((by, key))
            return seen
        read, rememberable = await self._jobs.submit((by, key))
        if rememberable:
            self._remember_job(read)
        return read

    def _remember_job(self, read: JobRead) -> None:
        """Keep `read`, and the same job by id (one fingerprint, whichever way it was read)."""
        entries = [read]
        if read.job is not None and read.by != "id":
            entries.append(JobRead("id", read.job.id, read.job, read.seen))
        for entry in entries:
            self._jobs_seen[(entry.by, entry.key)] = entry
            self._jobs_seen.move_to_end((entry.by, entry.key))
        while len(self._jobs_seen) > _JOBS_KEPT:
            self._jobs_seen.popitem(last=False)

    def _survey_ids_wanted(self) -> int:
        """How many survey ids the next statement draws (none while half are left)."""
        have = len(self._drawn_ids) + self._drawn_ids_asked
        return _SURVEY_IDS_KEPT - have if have <= _SURVEY_IDS_KEPT // 2 else 0

    async def _drawing_survey_ids(self, run: Callable[[int], Awaitable[list[asyncpg.Record]]],
                                  ) -> list[asyncpg.Record]:
        """`run(n)`, a statement that draws `n` survey ids (column ``ids``) besides its work."""
        wanted = self._survey_ids_wanted()
        self._drawn_ids_asked += wanted
        try:
            rows = await run(wanted)
        finally:
            self._drawn_ids_asked -= wanted
        if wanted and rows:
            self._drawn_ids.extend(rows[0]["ids"] or ())
        return rows

    # -- the batched statements ---------------------------------------------------------------

    @staticmethod
    async def _load_many(conn: asyncpg.Connection,
                         keys: list[tuple[str, str]]) -> list[CallRecord | None]:
        rows = await conn.fetch(sql.LOAD, [k[0] for k in keys], [k[1] for k in keys])
        found = {(row["carrier"], row["carrier_call_id"]): row for row in rows}
        return [_record(row) if (row := found.get(key)) is not None else None for key in keys]

    async def _save_many(self, conn: asyncpg.Connection, turns: list[TurnSave]) -> list[bool]:
        steps: list[dict[str, Any]] = []
        surveys: list[dict[str, Any]] = []
        audits: list[dict[str, Any]] = []
        reads: list[list[Any]] = [[], [], [], [], []]
        for turn in turns:
            steps.extend(event_rows(turn.call.id, [step_event(step) for step in turn.steps]))
            if turn.survey is not None:
                surveys.append(survey_row(turn.survey.row))
                audits.append({**turn.survey.audit, "survey_id": turn.survey.row["id"]})
            for read in turn.reads:
                by_id = read.by != "reference"
                for column, value in zip(reads, (
                        turn.call.id, read.by, int(read.key) if by_id else None,
                        None if by_id else str(read.key), read.seen), strict=True):
                    column.append(value)
        calls = [turn.call for turn in turns]

        async def run(wanted: int) -> list[asyncpg.Record]:
            rows: list[asyncpg.Record] = await conn.fetch(
                sql.SAVE, [c.id for c in calls], *_guard_arrays(calls),
                [t.state for t in turns], [t.path for t in turns], utcnow(), *reads, wanted,
                *CALL_EVENTS.arrays(sql.STEP_NAMES, steps),
                *SURVEYS.arrays(sql.SURVEY_NAMES, surveys),
                *SURVEY_AUDIT.arrays(sql.AUDIT_NAMES, audits))
            return rows

        stored = {row["id"] for row in await self._drawing_survey_ids(run) if row["stored"]}
        return [turn.call.id in stored for turn in turns]

    @staticmethod
    async def _next_survey_ids(conn: asyncpg.Connection, asks: list[None]) -> list[int]:
        return [row[0] for row in await conn.fetch(sql.NEXT_SURVEY_IDS, len(asks))]

    @staticmethod
    async def _callers_many(conn: asyncpg.Connection, numbers: list[str]) -> list[Caller | None]:
        found = {row["e164"]: Caller(row["id"], row["verified"], row["language"], row["timezone"])
                 for row in await conn.fetch(sql.CALLER, numbers)}
        return [found.get(number) for number in numbers]

    async def _open_many(self, conn: asyncpg.Connection, items: list[_Opening]) -> list[Opened]:
        calls = []
        for new, e164, like in items:
            values = opened_call_values(new)
            calls.append({**values, "known": values["customer_id"], "e164": e164,
                          "like_verified": like.verified if like else None,
                          "like_language": like.language if like else None,
                          "like_timezone": like.timezone if like else None})
        events = [{**row, "carrier": new.cmd.carrier.value, "sid": new.cmd.carrier_call_id}
                  for new, _e164, _like in items for row in event_rows(0, new.events)]

        async def run(wanted: int) -> list[asyncpg.Record]:
            rows: list[asyncpg.Record] = await conn.fetch(
                sql.OPEN, *INSERT_CALLS.arrays(sql.OPEN_NAMES, calls),
                *CALL_EVENTS.arrays(sql.OPEN_EVENT_NAMES, events), wanted)
            return rows

        rows = {row["q_sid"]: row for row in await self._drawing_survey_ids(run)}
        out = []
        for new, e164, _like in items:
            row = rows[new.cmd.carrier_call_id]
            call = _record(row) if row["id"] is not None else None
            caller = None
            if e164 is not None and row["k_id"] is not None:
                caller = Caller(row["k_id"], row["k_verified"], row["k_language"],
                                row["k_timezone"])
                if row["j_id"] is None:
                    self._remember_job(JobRead("customer", caller.customer_id, None, None))
                elif not _by_a_person(row, "j_"):
                    self._remember_job(JobRead("customer", caller.customer_id,
                                               _job(row, prefix="j_"), row["j_seen"]))
            out.append(Opened(call, caller))
        return out

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
        calls = [call for call, _writes in items]
        rows = await conn.fetch(
            sql.SETTLE, [c.id for c in calls], *_guard_arrays(calls), *sets,
            utcnow(), *CALL_EVENTS.arrays(sql.SETTLE_EVENT_NAMES, events),
            *CONTACTS.arrays(sql.CONTACT_NAMES, contacts))
        stored = {row["id"] for row in rows}
        return [call.id in stored for call in calls]

    @staticmethod
    async def _jobs_many(conn: asyncpg.Connection,
                         asks: list[tuple[str, Any]]) -> list[tuple[JobRead, bool]]:
        """Each job asked for, with its fingerprint, and whether it may be remembered."""
        rows: dict[str, dict[Any, asyncpg.Record]] = {}
        for kind, statement, column in (("customer", sql.LAST_JOBS, "customer_id"),
                                        ("reference", sql.JOBS_BY_REFERENCE, "reference"),
                                        ("id", sql.JOBS_BY_ID, "id")):
            wanted = [value for asked, value in asks if asked == kind]
            if wanted:
                rows[kind] = {row[column]: row for row in await conn.fetch(statement, wanted)}
        parents: dict[int, int | None] | None = None
        supervision: set[int] = set()
        if any(_by_a_person(row) for by in rows.values() for row in by.values()):
            tree = await conn.fetch(sql.DEPARTMENTS)
            parents = {t["id"]: t["parent_id"] for t in tree}
            supervision = {t["id"] for t in tree if t["supervision"]}
        out = []
        for kind, value in asks:
            row = rows.get(kind, {}).get(value)
            if row is None:
                out.append((JobRead(kind, value, None, None), True))
            else:
                out.append((JobRead(kind, value, _job(row, parents, supervision), row["seen"]),
                            not _by_a_person(row)))
        return out
