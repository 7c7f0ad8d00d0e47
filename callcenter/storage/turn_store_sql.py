"""`SqlTurnStore`: the hotline's `TurnStore` port on SQLAlchemy (SQLite and PostgreSQL).

- `transaction`: the turn's transaction on a Core connection
  (`TurnUnitOfWork`), the effects' use cases in its savepoints
  (`JoinedUnitOfWork`);
- the batched operations (`load`, `caller`, `open`, `open_for`, `save`,
  `settle`, `read_job`) each in a transaction of their own, with the same
  guards as the batched PostgreSQL store (`callcenter.storage.turn_store_pg`):
  a turn's save and a settling are written only if the call is as the turn
  had it (every column of the record, `ports.GUARDED_FIELDS`), a save only if
  the jobs it read still read the same (re-read in its transaction), a call
  is opened once and, by `open_for`, only for a caller like the one its first
  turn was run for. The rows go through the tables' one INSERT each
  (`callcenter.storage.inserts`).

By default it batches no effect (``batches`` empty), so the hotline runs
every turn as one transaction; the batched operations are there for a store
that does (and the shared contract tests hold them to the same rules).
"""

from __future__ import annotations

from dataclasses import replace
from enum import Enum
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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
from callcenter.storage.engine import Database, is_disconnect
from callcenter.storage.inserts import CALL_EVENTS, CALLS_TABLE, SURVEY_AUDIT, SURVEYS
from callcenter.storage.joined_uow import TurnUnitOfWork
from callcenter.storage.repositories.calls import (
    CALLS,
    INSERT_CALL,
    SqlCallRepository,
    event_rows,
    insert_call_params,
    new_call_values,
    to_record,
)
from callcenter.storage.repositories.surveys import SqlSurveyRepository
from callcenter.storage.tables import Customer, CustomerPhone, Survey
from callcenter.storage.types import utcnow
from callcenter.storage.uow import SqlUnitOfWork
from crm.calls import CallRecord
from crm.services.calls import step_event
from crm.surveys import JobRef
from ivr import actions as act

#: the effects a batched turn can store with its save (a job lookup reads; a survey is
#: stored with the turn)
BATCHABLE: frozenset[type[act.Effect]] = frozenset({act.LookupJob, act.SaveSurvey})

_CALLER = (
    select(Customer.id, Customer.verified, Customer.language, Customer.timezone)
    .join(CustomerPhone, CustomerPhone.customer_id == Customer.id)
    .where(CustomerPhone.e164 == bindparam("e164"))
)
#: a batched write's guard: the call is as the turn had it, in every column of its record
_GUARD = (CALLS.c.id == bindparam("b_id"), *(
    CALLS.c[name].is_not_distinct_from(bindparam(f"g_{name}", type_=CALLS.c[name].type))
    for name in GUARDED_FIELDS))
_SAVE = update(CALLS_TABLE).where(*_GUARD).values(
    ivr_state=bindparam("v_state"), ivr_version=bindparam("v_version"),
    ivr_path=bindparam("v_path"), updated_at=bindparam("v_now"))


def guard_params(call: CallRecord) -> dict[str, Any]:
    """`_GUARD`'s parameters: the call as the turn had it."""
    values = {f"g_{name}": getattr(call, name) for name in GUARDED_FIELDS}
    return {"b_id": call.id, **{k: v.value if isinstance(v, Enum) else v
                                for k, v in values.items()}}


class _JobMoved(Exception):
    """A job the turn read reads differently now: its save is rolled back."""


def survey_row(write_row: dict[str, Any]) -> dict[str, Any]:
    """A survey's row for `inserts.SURVEYS` (what `save_survey` gave, stamped now)."""
    now = utcnow()
    return {**{name: write_row.get(name) for name in SURVEYS.columns},
            "created_at": write_row.get("created_at") or now,
            "updated_at": write_row.get("updated_at") or now}


def opened_call_values(new: CallOpen) -> dict[str, Any]:
    """The row of a call opened with its first turn (version 1)."""
    return {**new_call_values(new.cmd), "ivr_version": 1, "ivr_state": new.state,
            "ivr_path": new.path}


class SqlTurnStore:
    """The `TurnStore` port on SQLAlchemy (see the module doc)."""

    def __init__(self, db: Database, *,
                 batches: frozenset[type[act.Effect]] = frozenset()) -> None:
        self.db = db
        self._batches = batches
        self._survey_ids = 0

    @property
    def batches(self) -> frozenset[type[act.Effect]]:
        return self._batches

    # -- transactions ------------------------------------------------------------------------

    def transaction(self) -> TurnUnitOfWork:
        return TurnUnitOfWork(self.db)

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db)

    def lost_connection(self, exc: BaseException) -> bool:
        return is_disconnect(exc)

    def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    # -- batched: each in a transaction of its own --------------------------------------------

    async def load(self, carrier: str, carrier_call_id: str) -> CallRecord | None:
        async with self.db.engine.connect() as conn:
            return await SqlCallRepository(conn).by_carrier_id(carrier, carrier_call_id)

    async def caller(self, e164: str) -> Caller | None:
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(_CALLER, {"e164": e164})).first()
        return None if row is None else Caller(row.id, row.verified, row.language, row.timezone)

    async def open(self, new: CallOpen) -> CallRecord | None:
        async with self.db.engine.begin() as conn:
            return await self._open(conn, new)

    @staticmethod
    async def _open(conn: AsyncConnection, new: CallOpen) -> CallRecord | None:
        row = (await conn.execute(INSERT_CALL,
                                  insert_call_params(opened_call_values(new)))).first()
        if row is None:
            return None
        call = to_record(row)
        await SqlCallRepository(conn).add_events(call.id, new.events)
        return call

    async def open_for(self, new: CallOpen, e164: str, like: Caller) -> Opened:
        async with self.db.engine.begin() as conn:
            row = (await conn.execute(_CALLER, {"e164": e164})).first()
            caller = None if row is None else \
                Caller(row.id, row.verified, row.language, row.timezone)
            if caller is None or not caller.like(like):
                return Opened(None, caller)
            cmd = replace(new.cmd, customer_id=caller.customer_id)
            return Opened(await self._open(conn, replace(new, cmd=cmd)), caller)

    async def save(self, turn: TurnSave) -> CallRecord | None:
        if turn.survey is not None and turn.survey.row.get("call_id") != turn.call.id:
            raise ValueError("a turn stores only a survey taken on its own call")
        call = turn.call
        try:
            async with self.db.engine.begin() as conn:
                updated = await conn.execute(_SAVE, {
                    **guard_params(call), "v_state": turn.state,
                    "v_version": call.ivr_version + 1, "v_path": turn.path, "v_now": utcnow()})
                if updated.rowcount != 1:
                    return None
                await SqlCallRepository(conn).add_events(
                    call.id, [step_event(step) for step in turn.steps])
                if turn.survey is not None:
                    await self._add_survey(conn, turn.survey.row, turn.survey.audit)
                if turn.reads:  # written first: the check reads under the write's lock
                    async with AsyncSession(bind=conn) as session:
                        surveys = SqlSurveyRepository(session)
                        for read in turn.reads:
                            if await _job(surveys, read.by, read.key) != read.job:
                                raise _JobMoved
        except _JobMoved:
            return None
        return replace(call, ivr_state=turn.state, ivr_version=call.ivr_version + 1,
                       ivr_path=turn.path)

    @staticmethod
    async def _add_survey(conn: AsyncConnection, row: dict[str, Any],
                          audit: dict[str, Any]) -> None:
        await conn.execute(SURVEYS.values(1), SURVEYS.params([survey_row(row)]))
        await conn.execute(SURVEY_AUDIT.values(1),
                           SURVEY_AUDIT.params([{**audit, "survey_id": row["id"]}]))

    async def settle(self, call: CallRecord, writes: CallWrites) -> bool:
        unknown = set(writes.values) - set(SETTLE_COLUMNS)
        if unknown:
            raise ValueError(f"a settling does not write {sorted(unknown)}")
        async with self.db.engine.begin() as conn:
            updated = await conn.execute(
                update(CALLS_TABLE).where(*_GUARD).values(updated_at=utcnow(), **writes.values),
                guard_params(call))
            if updated.rowcount != 1:
                return False
            calls = SqlCallRepository(conn)
            if writes.timeline:
                await conn.execute(CALL_EVENTS.values(len(writes.timeline)),
                                   CALL_EVENTS.params(event_rows(call.id, writes.timeline)))
            if writes.contact is not None:
                await calls.add_call_contact(writes.contact, utcnow())
        return True

    async def next_survey_id(self) -> int:
        """PostgreSQL: the table's sequence. SQLite (no sequences): one past the highest id
        stored and given out here; a turn of another process taking the same id fails its
        save on the primary key, and runs in a transaction instead."""
        async with self.db.engine.connect() as conn:
            if self.db.dialect == "postgresql":
                return int(await conn.scalar(
                    text("SELECT nextval(pg_get_serial_sequence('surveys', 'id'))")) or 0)
            stored = int(await conn.scalar(select(func.max(Survey.id))) or 0)
        self._survey_ids = max(stored, self._survey_ids) + 1
        return self._survey_ids

    async def read_job(self, by: str, key: int | str) -> JobRead:
        async with self.db.sessions() as session:
            return JobRead(by, key, await _job(SqlSurveyRepository(session), by, key))


async def _job(surveys: SqlSurveyRepository, by: str, key: int | str) -> JobRef | None:
    if by == "id":
        return await surveys.job(int(key))
    if by == "reference":
        return await surveys.job_by_reference(str(key))
    if by == "customer":
        return await surveys.last_completed_job(int(key))
    raise ValueError(f"a job is read by id, reference or customer, not {by!r}")
