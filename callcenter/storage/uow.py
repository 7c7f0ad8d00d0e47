"""`SqlUnitOfWork`: one database transaction, with every repository bound to it.

Guarantees: nothing is written unless `commit()` is called inside the block;
an exception (or a forgotten commit) rolls back. Repositories are built on
first use and share the one session, so a use case sees its own writes.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.storage.engine import Database

if TYPE_CHECKING:
    from callcenter.storage.repositories.callbacks import SqlCallbackRepository
    from callcenter.storage.repositories.calls import SqlCallRepository
    from callcenter.storage.repositories.complaints import SqlComplaintRepository
    from callcenter.storage.repositories.customers import SqlCustomerRepository
    from callcenter.storage.repositories.leads import SqlLeadRepository
    from callcenter.storage.repositories.refusals import SqlRefusalRepository
    from callcenter.storage.repositories.samples import SqlSampleRepository
    from callcenter.storage.repositories.surveys import SqlSurveyRepository

R = TypeVar("R")


class SqlUnitOfWork:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._session: AsyncSession | None = None
        self._repos: dict[str, Any] = {}

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("use the unit of work inside `async with uow:`")
        return self._session

    @property
    def dialect(self) -> str:
        return self.db.dialect

    async def __aenter__(self) -> Self:
        self._session = self.db.sessions()
        self._repos = {}
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        self._repos = {}
        if session is not None:
            try:
                await session.rollback()
            finally:
                await session.close()

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()

    def _repo(self, name: str, factory: Callable[[AsyncSession], R]) -> R:
        repo = self._repos.get(name)
        if repo is None:
            repo = self._repos[name] = factory(self.session)
        return repo  # type: ignore[no-any-return]

    # Each repository module is imported on first use, so the unit of work
    # costs nothing for a use case that touches one aggregate.
    @property
    def customers(self) -> SqlCustomerRepository:
        from callcenter.storage.repositories.customers import SqlCustomerRepository

        return self._repo("customers", SqlCustomerRepository)

    @property
    def calls(self) -> SqlCallRepository:
        from callcenter.storage.repositories.calls import SqlCallRepository

        return self._repo("calls", SqlCallRepository)

    @property
    def surveys(self) -> SqlSurveyRepository:
        from callcenter.storage.repositories.surveys import SqlSurveyRepository

        return self._repo("surveys", SqlSurveyRepository)

    @property
    def complaints(self) -> SqlComplaintRepository:
        from callcenter.storage.repositories.complaints import SqlComplaintRepository

        return self._repo("complaints", SqlComplaintRepository)

    @property
    def callbacks(self) -> SqlCallbackRepository:
        from callcenter.storage.repositories.callbacks import SqlCallbackRepository

        return self._repo("callbacks", SqlCallbackRepository)

    @property
    def leads(self) -> SqlLeadRepository:
        from callcenter.storage.repositories.leads import SqlLeadRepository

        return self._repo("leads", SqlLeadRepository)

    @property
    def samples(self) -> SqlSampleRepository:
        from callcenter.storage.repositories.samples import SqlSampleRepository

        return self._repo("samples", SqlSampleRepository)

    @property
    def refusals(self) -> SqlRefusalRepository:
        from callcenter.storage.repositories.refusals import SqlRefusalRepository

        return self._repo("refusals", SqlRefusalRepository)
