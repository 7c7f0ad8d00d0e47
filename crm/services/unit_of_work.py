"""The unit-of-work port the use cases depend on (Cosmic Python, chapter 6).

A use case does::

    async with uow:
        complaint = await uow.complaints.get(ticket)
        ...
        await uow.commit()

Leaving the block without `commit()` rolls everything back. Repositories hand
out domain objects (dataclasses from `crm`), never live ORM rows. Each
repository port is a `Protocol` defined beside the use cases that need it
(`crm/services/<concern>.py`); `callcenter.storage.uow.SqlUnitOfWork`
implements them all.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    from crm.services.callbacks import CallbackRepository
    from crm.services.calls import CallRepository
    from crm.services.complaints import ComplaintRepository
    from crm.services.customers import CustomerRepository
    from crm.services.leads import LeadRepository
    from crm.services.refusals import RefusalRepository
    from crm.services.surveys import SurveyRepository
    from crm.services.verification_samples import SampleRepository


class UnitOfWork(Protocol):
    @property
    def customers(self) -> CustomerRepository: ...
    @property
    def calls(self) -> CallRepository: ...
    @property
    def surveys(self) -> SurveyRepository: ...
    @property
    def complaints(self) -> ComplaintRepository: ...
    @property
    def callbacks(self) -> CallbackRepository: ...
    @property
    def leads(self) -> LeadRepository: ...
    @property
    def samples(self) -> SampleRepository: ...
    @property
    def refusals(self) -> RefusalRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...
