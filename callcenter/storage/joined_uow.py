"""`JoinedUnitOfWork`: a use case's unit of work inside a transaction already open.

The IVR driver makes one webhook turn one transaction: it loads the call,
runs the session, performs the session's effects (open a complaint, save a
survey, ...) through their use cases, and saves the session state, then
commits once. The use cases are written against the `UnitOfWork` port
(``async with uow: ... await uow.commit()``); handed a `JoinedUnitOfWork`,
their block becomes a SAVEPOINT of the outer transaction.

Guarantees (the same a use case gets from `SqlUnitOfWork`, one level down):
- leaving the block without `commit()`, or with an exception, rolls back to
  the savepoint: the use case's writes are undone, the outer transaction
  goes on (a failed effect takes the caller to a safe path, nothing half
  written stays);
- `commit()` releases the savepoint: the writes are now part of the outer
  transaction, and are durable exactly when it commits (so an effect and
  the IVR state that depends on it are stored together or not at all);
- after `commit()` the block is over: a repository asked for afterwards
  raises, so no write can slip into the outer transaction uncommitted;
- `rollback()` rolls back to the savepoint and starts a new one.

On SQLite the outer transaction must really be open before the SAVEPOINT:
the sqlite3 driver only begins one in front of an INSERT/UPDATE/DELETE, and
a SAVEPOINT outside a transaction *is* the transaction, committed by its
own RELEASE. So on SQLite the first joined block starts it (``BEGIN
IMMEDIATE``: the write lock now, waiting out the busy timeout, rather than a
read snapshot that could not be upgraded later).
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from callcenter.storage.uow import SqlUnitOfWork

R = TypeVar("R")


class JoinedUnitOfWork(SqlUnitOfWork):
    def __init__(self, outer: SqlUnitOfWork) -> None:
        super().__init__(outer.db)
        self._outer = outer
        self._savepoint: AsyncSessionTransaction | None = None
        self._committed = False

    async def __aenter__(self) -> Self:
        self._session = self._outer.session
        if self.db.dialect == "sqlite":
            await _open_sqlite_transaction(self._session)
        self._repos = {}
        self._committed = False
        self._savepoint = await self._session.begin_nested()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        savepoint, self._savepoint = self._savepoint, None
        self._session, self._repos = None, {}
        if savepoint is not None and savepoint.is_active:
            await savepoint.rollback()

    async def commit(self) -> None:
        if self._savepoint is None:
            raise RuntimeError("commit() outside the block, or twice")
        savepoint, self._savepoint = self._savepoint, None
        await savepoint.commit()
        self._committed = True

    async def rollback(self) -> None:
        if self._savepoint is not None and self._savepoint.is_active:
            await self._savepoint.rollback()
        self._savepoint = await self.session.begin_nested()
        self._committed = False

    def _repo(self, name: str, factory: Callable[[AsyncSession], R]) -> R:
        if self._committed:
            raise RuntimeError("this unit of work was committed; open a new block to write again")
        return super()._repo(name, factory)


async def _open_sqlite_transaction(session: AsyncSession) -> None:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    if not raw.driver_connection.in_transaction:  # type: ignore[union-attr]
        await connection.exec_driver_sql("BEGIN IMMEDIATE")
