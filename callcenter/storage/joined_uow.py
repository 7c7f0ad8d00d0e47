"""`JoinedUnitOfWork`: a use case's unit of work inside a transaction already open.

The hotline (`callcenter.hotline.turns`) makes a webhook turn that needs a
transaction one transaction (`TurnUnitOfWork.joined`): it loads the call,
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
from typing import TYPE_CHECKING, Self, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, AsyncSessionTransaction

from callcenter.storage.engine import Database
from callcenter.storage.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from callcenter.storage.repositories.calls import SqlCallRepository

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


class TurnUnitOfWork(SqlUnitOfWork):
    """The IVR turn's transaction on a Core connection; an ORM session only when asked.

    Most turns are a plain menu key: read the call, write its state and steps.
    Those statements are Core (`SqlCallRepository` runs on the connection), so
    the turn skips the ORM session's bookkeeping. A repository or an effect
    that needs the ORM gets a session bound to the same connection, inside the
    same transaction (its blocks become savepoints, see `JoinedUnitOfWork`).
    Guarantees as `SqlUnitOfWork`: nothing is written unless `commit()` is
    called inside the block; leaving it otherwise rolls everything back.
    """

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._conn: AsyncConnection | None = None

    @property
    def session(self) -> AsyncSession:
        if self._conn is None:
            raise RuntimeError("use the unit of work inside `async with uow:`")
        if self._session is None:
            # joins the connection's transaction and never ends it (SQLAlchemy's default)
            self._session = AsyncSession(bind=self._conn, expire_on_commit=False)
        return self._session

    @property
    def calls(self) -> SqlCallRepository:
        from callcenter.storage.repositories.calls import SqlCallRepository

        if self._conn is None:
            raise RuntimeError("use the unit of work inside `async with uow:`")
        return self._repo_on("calls", lambda: SqlCallRepository(self._conn))  # type: ignore[arg-type]

    def joined(self) -> JoinedUnitOfWork:
        """A use case's unit of work inside this transaction (a savepoint of it)."""
        return JoinedUnitOfWork(self)

    def _repo_on(self, name: str, factory: Callable[[], R]) -> R:
        repo = self._repos.get(name)
        if repo is None:
            repo = self._repos[name] = factory()
        return repo  # type: ignore[no-any-return]

    async def __aenter__(self) -> Self:
        self._conn = await self.db.engine.connect()
        self._session, self._repos = None, {}
        try:
            await self._conn.begin()
        except BaseException:
            await self._conn.close()
            self._conn = None
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, session = self._conn, self._session
        self._conn, self._session, self._repos = None, None, {}
        if conn is None:
            return
        try:
            if session is not None:
                await session.close()
        finally:
            try:
                if conn.in_transaction():
                    await conn.rollback()
            finally:
                await conn.close()

    async def commit(self) -> None:
        if self._conn is None:
            raise RuntimeError("use the unit of work inside `async with uow:`")
        if self._session is not None:
            await self._session.flush()
        await self._conn.commit()

    async def rollback(self) -> None:
        if self._conn is None:
            raise RuntimeError("use the unit of work inside `async with uow:`")
        session, self._session, self._repos = self._session, None, {}
        if session is not None:  # a fresh one is bound on next use
            await session.close()
        await self._conn.rollback()
        await self._conn.begin()
