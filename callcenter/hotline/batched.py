"""The `UnitOfWork` port inside a batched turn: reads from the turn store, writes kept.

A batched turn performs the effects its store can batch (`TurnStore.batches`:
a job lookup, a survey) through the same use cases as a transaction, on
`BatchedUnitOfWork`. Its survey repository reads jobs from the store (and
keeps each read, `JobRead`: the turn's save is written only if they still
read the same) and keeps the survey a use case adds (and its audit entry) to
be stored with the turn, in one statement. Anything else a use case asks for (another
repository, a second survey, a rollback) raises `NotBatchable`: the turn then
runs in a transaction. `commit` stores nothing: the turn's save does.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from callcenter.hotline.ports import CallWrites, JobRead, NotBatchable, SurveyWrite, TurnStore
from crm.access import SurveyFacts
from crm.enums import Grade, SurveySource, SurveyVerification
from crm.surveys import JobRef, SurveyRecord

if TYPE_CHECKING:
    from crm.services.callbacks import CallbackRepository
    from crm.services.calls import CallRepository
    from crm.services.complaints import ComplaintRepository
    from crm.services.customers import CustomerRepository
    from crm.services.leads import LeadRepository
    from crm.services.refusals import RefusalRepository
    from crm.services.verification_samples import SampleRepository


def _grade(value: str | None) -> Grade | None:
    return Grade(value) if value else None


class BatchedSurveys:
    """The `SurveyRepository` port in a batched turn: job reads from the store, each kept
    (`reads`, checked by the turn's save); the one survey a use case adds (and its audit
    entry) is kept for the turn's save."""

    def __init__(self, store: TurnStore) -> None:
        self.store = store
        self.written: SurveyWrite | None = None
        self.reads: list[JobRead] = []
        self._row: dict[str, Any] | None = None

    async def _read(self, by: str, key: int | str) -> JobRef | None:
        read = await self.store.read_job(by, key)
        self.reads.append(read)
        return read.job

    async def job(self, job_id: int) -> JobRef | None:
        return await self._read("id", job_id)

    async def job_by_reference(self, reference: str) -> JobRef | None:
        return await self._read("reference", reference)

    async def last_completed_job(self, customer_id: int) -> JobRef | None:
        return await self._read("customer", customer_id)

    async def add(self, values: dict[str, Any]) -> SurveyRecord:
        if self._row is not None:
            raise NotBatchable("a second survey in one turn")
        row = self._row = {**values, "id": await self.store.next_survey_id()}
        return SurveyRecord(
            id=row["id"], job_id=row.get("job_id"), customer_id=row.get("customer_id"),
            department_id=row.get("department_id"), staff_id=row.get("staff_id"),
            surveyed_at=row["surveyed_at"], source=SurveySource(row["source"]),
            timeliness=_grade(row.get("timeliness")), quality=_grade(row.get("quality")),
            attitude=_grade(row.get("attitude")), complete=bool(row.get("complete")),
            verification=SurveyVerification(row["verification"]),
            pending_reason=row.get("pending_reason"))

    async def audit(self, survey_id: int, at: datetime, actor_id: int | None, action: str,
                    before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
        if self._row is None or self._row["id"] != survey_id:
            raise NotBatchable("an audit entry for a survey this turn did not add")
        self.written = SurveyWrite(self._row, {"at": at, "actor_id": actor_id,
                                               "action": action, "before": before, "after": after})

    async def get(self, survey_id: int) -> SurveyRecord | None:
        raise NotBatchable("a batched turn reads no stored survey")

    async def update(self, survey_id: int, **values: Any) -> None:
        raise NotBatchable("a batched turn changes no stored survey")

    async def supervision_facts(self, survey_id: int) -> SurveyFacts | None:
        raise NotBatchable("a batched turn reads no supervision facts")


class BatchedUnitOfWork:
    """The `UnitOfWork` port of a batched turn (see the module doc)."""

    def __init__(self, store: TurnStore) -> None:
        self._surveys = BatchedSurveys(store)

    @property
    def surveys(self) -> BatchedSurveys:
        return self._surveys

    @property
    def customers(self) -> CustomerRepository:
        raise NotBatchable("a batched turn has no customers repository")

    @property
    def calls(self) -> CallRepository:
        raise NotBatchable("a batched turn has no calls repository")

    @property
    def complaints(self) -> ComplaintRepository:
        raise NotBatchable("a batched turn has no complaints repository")

    @property
    def callbacks(self) -> CallbackRepository:
        raise NotBatchable("a batched turn has no callbacks repository")

    @property
    def leads(self) -> LeadRepository:
        raise NotBatchable("a batched turn has no leads repository")

    @property
    def samples(self) -> SampleRepository:
        raise NotBatchable("a batched turn has no samples repository")

    @property
    def refusals(self) -> RefusalRepository:
        raise NotBatchable("a batched turn has no refusals repository")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        return None

    async def commit(self) -> None:
        return None

    async def rollback(self) -> None:
        raise NotBatchable("a use case rolled back")


class SettlingUnitOfWork(BatchedUnitOfWork):
    """The `UnitOfWork` port of a batched settling (`crm.services.calls.settle_status`): its
    call writes are kept (`CallWrites`), to be stored by `TurnStore.settle`."""

    def __init__(self, store: TurnStore, writes: CallWrites) -> None:
        super().__init__(store)
        self.writes = writes

    @property
    def calls(self) -> CallWrites:
        return self.writes
