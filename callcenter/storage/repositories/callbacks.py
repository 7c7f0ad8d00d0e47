"""`SqlCallbackRepository`: callbacks, attempts and campaigns on SQLite and PostgreSQL.

Guarantees:
- Every state change is a compare-and-set UPDATE (`WHERE state = expected`),
  so two workers (or a worker and a late carrier report) never both move the
  same callback; the loser sees `False` and changes nothing.
- `claim_due` hands each due callback to exactly one worker: one UPDATE over
  a sub-select ordered by priority then deadline, `FOR UPDATE SKIP LOCKED` on
  PostgreSQL (workers never wait for each other), a single atomic statement on
  SQLite (one writer at a time). Campaign callbacks are claimed under a lock on
  the campaign row, counting its calls in progress, so a campaign never has
  more than `max_concurrent` callbacks claimed, dialing, in a call or unknown.
- Returns domain records (`crm.services.callback_ports`), never ORM rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    String,
    Table,
    and_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.storage.inserts import CONTACTS, contact_row
from callcenter.storage.plans import plan_with_values
from callcenter.storage.repositories.surveys import add_survey_audit, department_tree
from callcenter.storage.tables import (
    Callback,
    CallbackAttempt,
    Campaign,
    Complaint,
    Customer,
    CustomerPhone,
    DoNotCall,
    ServiceJob,
    Survey,
)
from crm.access import scored_scope
from crm.callback_numbers import JudgedNumbers, PhoneStamp, judged
from crm.enums import CallbackKind, CallbackState, ContactKind
from crm.services.callback_ports import (
    AttemptRecord,
    CallbackRecord,
    CampaignRecord,
    ComplaintFacts,
    CustomerContact,
    JobFacts,
    JudgedCall,
    NewCallback,
    SurveyFacts,
)
from crm.surveys import ITEMS

S = CallbackState
IN_PROGRESS = (S.CLAIMED, S.DIALING, S.IN_CALL, S.UNKNOWN)
OPEN = (S.SCHEDULED, S.CLAIMED, S.DIALING, S.IN_CALL, S.RETRY_WAIT, S.UNKNOWN, S.HELD)
_FIELDS = [c for c in CallbackRecord.__dataclass_fields__]
_CALLBACKS: Table = Callback.__table__  # type: ignore[assignment]  # Core: RETURNING rows
#: a contact, through the table's one INSERT (`inserts.CONTACTS`)
_ADD_CONTACT = CONTACTS.values(1, returning="RETURNING id")


def to_record(row: Callback | Row[Any]) -> CallbackRecord:
    values = {name: getattr(row, name) for name in _FIELDS}
    values["kind"] = CallbackKind(row.kind)
    values["state"] = CallbackState(row.state)
    values["data"] = dict(row.data or {})
    return CallbackRecord(**values)


def _attempt(row: CallbackAttempt) -> AttemptRecord:
    return AttemptRecord(row.id, row.callback_id, row.number, row.started_at, row.worker,
                         row.carrier, row.carrier_call_id, row.result, row.ended_at)


def _campaign(row: Campaign) -> CampaignRecord:
    return CampaignRecord(row.id, row.name, row.flow, row.window_start, row.window_end,
                          row.max_concurrent, row.active)


def _due(now: datetime) -> Any:
    return and_(Callback.state == S.SCHEDULED, Callback.next_attempt_at <= now)


def _scoped(query: Any, departments: Collection[int] | None) -> Any:
    """Only callbacks whose customer the caller may read one by one (`Identity.may_see_department`):
    no customer, a customer of no department, or one of `departments` (None: every one)."""
    if departments is None:
        return query
    return query.outerjoin(Customer, Customer.id == Callback.customer_id).where(
        or_(Customer.department_id.is_(None), Customer.department_id.in_(list(departments))))


class SqlCallbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _pg(self) -> bool:
        return self.session.bind.dialect.name == "postgresql"

    # --- sources -------------------------------------------------------------------------

    async def add(self, new: NewCallback) -> tuple[CallbackRecord, bool]:
        existing = await self.session.scalar(
            select(Callback).where(Callback.source_key == new.source_key))
        if existing is not None:
            return to_record(existing), False
        values = _new_values(new)
        values["data"] = dict(new.data)
        row = Callback(state=S.SCHEDULED, attempts=0, **values)
        try:
            async with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:  # created meanwhile by another process
            existing = await self.session.scalar(
                select(Callback).where(Callback.source_key == new.source_key))
            assert existing is not None
            return to_record(existing), False
        return to_record(row), True

    async def add_many(self, news: Sequence[NewCallback]) -> list[tuple[CallbackRecord, bool]]:
        """Per 500: one ``INSERT ... ON CONFLICT (source_key) DO NOTHING RETURNING`` (a key
        already there, or stored meanwhile by another process, is skipped by the unique key,
        not by a read-then-write) and, only when some were skipped, one SELECT of those. A
        campaign list of thousands is a few statements, not a round trip per number, each
        planned with its keys (`plan_with_values`)."""
        out: dict[str, tuple[CallbackRecord, bool]] = {}
        await plan_with_values(self.session, len(news))
        insert_new = (pg_insert if self._pg else sqlite_insert)(_CALLBACKS) \
            .on_conflict_do_nothing(index_elements=["source_key"]).returning(*_CALLBACKS.c)
        for i in range(0, len(news), 500):  # bound parameters per statement
            chunk = news[i:i + 500]
            made = await self.session.execute(insert_new, [
                {**_new_values(new), "data": dict(new.data), "state": S.SCHEDULED, "attempts": 0}
                for new in chunk])
            for row in made:
                out[row.source_key] = (to_record(row), True)
            there = [new.source_key for new in chunk if new.source_key not in out]
            if there:
                for old in await self.session.scalars(
                        select(Callback).where(Callback.source_key.in_(there))):
                    out[old.source_key] = (to_record(old), False)
        return [out[new.source_key] for new in news]

    async def customer_contact(self, customer_id: int) -> CustomerContact | None:
        customer = await self.session.get(Customer, customer_id)
        if customer is None:
            return None
        phone = await self.session.scalar(
            select(CustomerPhone.e164).where(CustomerPhone.customer_id == customer_id)
            .order_by(CustomerPhone.is_primary.desc(), CustomerPhone.id).limit(1))
        return CustomerContact(customer.id, phone, customer.timezone, customer.do_not_call)

    async def judged_numbers_for(
        self, calls: Collection[JudgedCall]
    ) -> dict[JudgedCall, JudgedNumbers | None]:
        """At most six statements per 500 calls, whatever they are: the customers, the
        surveys, the complaints, the jobs (named or theirs), the phones (IN-lists), and the
        department tree once."""
        wanted = list(dict.fromkeys(calls))
        if not wanted:
            return {}
        await plan_with_values(self.session, len(wanted))
        tree = await department_tree(self.session)
        out: dict[JudgedCall, JudgedNumbers | None] = {}
        for i in range(0, len(wanted), 500):  # bound parameters per statement
            out.update(await self._judged(wanted[i:i + 500], *tree))
        return out

    async def _judged(self, calls: Sequence[JudgedCall], parents: Mapping[int, int | None],
                      supervision: Collection[int]) -> dict[JudgedCall, JudgedNumbers | None]:
        customers = await self._by_id(Customer, {c.customer_id for c in calls}, Customer.timezone,
                                      Customer.do_not_call, Customer.department_id,
                                      Customer.verified)
        surveys = await self._by_id(Survey, {c.survey_id for c in calls}, Survey.department_id,
                                    Survey.staff_id, Survey.entered_by, Survey.job_id)
        complaints = await self._by_id(Complaint, {c.complaint_id for c in calls},
                                       Complaint.department_id, Complaint.owner_id,
                                       Complaint.job_id)
        job_ids: dict[JudgedCall, int | None] = {}
        for call in calls:  # the job named, else the survey's, else the complaint's
            job_id = call.job_id
            if (survey := surveys.get(call.survey_id)) is not None:
                job_id = job_id or survey.job_id
            if (complaint := complaints.get(call.complaint_id)) is not None:
                job_id = job_id or complaint.job_id
            job_ids[call] = job_id
        jobs = await self._by_id(ServiceJob, set(job_ids.values()), ServiceJob.department_id,
                                 ServiceJob.technician_id)
        phones: dict[int, list[PhoneStamp]] = {}
        if customers:
            rows = await self.session.execute(
                select(CustomerPhone.customer_id, CustomerPhone.e164, CustomerPhone.is_primary,
                       CustomerPhone.added_by, CustomerPhone.added_by_department_id)
                .where(CustomerPhone.customer_id.in_(list(customers)))
                .order_by(CustomerPhone.customer_id, CustomerPhone.is_primary.desc(),
                          CustomerPhone.id))
            for r in rows:
                phones.setdefault(r.customer_id, []).append(
                    PhoneStamp(r.e164, bool(r.is_primary), r.added_by, r.added_by_department_id))
        out: dict[JudgedCall, JudgedNumbers | None] = {}
        for call in calls:
            customer = customers.get(call.customer_id)
            if customer is None:
                out[call] = None
                continue
            department: int | None = None  # the first named wins: survey, complaint, job
            people: list[int | None] = []
            if (survey := surveys.get(call.survey_id)) is not None:
                department = survey.department_id
                people += [survey.staff_id, survey.entered_by]
            if (complaint := complaints.get(call.complaint_id)) is not None:
                department = department if department is not None else complaint.department_id
                people.append(complaint.owner_id)
            if (job := jobs.get(job_ids[call])) is not None:
                department = department if department is not None else job.department_id
                people.append(job.technician_id)
            if department is None:
                department = customer.department_id
            scope = scored_scope([department] if department is not None else [], parents,
                                 supervision)
            out[call] = JudgedNumbers(
                customer.id, customer.timezone, customer.do_not_call, department,
                tuple(phones.get(customer.id, ())), scope, judged(people),
                bool(customer.verified))
        return out

    async def _by_id(self, table: Any, ids: Collection[int | None], *columns: Any,
                     ) -> dict[int | None, Row[Any]]:
        """`columns` (and the id) of the rows of `table` with these ids, by id; no statement
        when there is no id."""
        wanted = [i for i in ids if i is not None]
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(table.id, *columns).where(table.id.in_(wanted)))
        return {r.id: r for r in rows}

    async def customer_by_reference(self, reference: str) -> CustomerContact | None:
        cid = await self.session.scalar(select(Customer.id).where(Customer.reference == reference))
        return None if cid is None else await self.customer_contact(cid)

    async def job_facts(self, job_id: int) -> JobFacts | None:
        job = await self.session.get(ServiceJob, job_id)
        return None if job is None else JobFacts(job.id, job.customer_id, job.completed_at)

    async def complaint_facts(self, complaint_id: int) -> ComplaintFacts | None:
        c = await self.session.get(Complaint, complaint_id)
        if c is None:
            return None
        return ComplaintFacts(c.id, c.customer_id, c.severity, c.state, c.resolved_at)

    async def survey_facts(self, survey_id: int) -> SurveyFacts | None:
        s = await self.session.get(Survey, survey_id)
        if s is None:
            return None
        return SurveyFacts(s.id, s.customer_id, s.department_id, s.surveyed_at, s.source,
                           s.verification)

    async def job_survey_grades(self, job_id: int, since: datetime) -> dict[str, str | None]:
        s = await self.session.scalar(
            select(Survey).where(Survey.job_id == job_id, Survey.surveyed_at >= since)
            .order_by(Survey.surveyed_at.desc(), Survey.id.desc()).limit(1))
        if s is None:
            return {}
        return {item: getattr(s, item) for item in ITEMS}

    async def completed_jobs_without_callback(self, since: datetime, until: datetime) -> list[int]:
        has_callback = exists().where(
            Callback.job_id == ServiceJob.id, Callback.kind == CallbackKind.POST_REPAIR)
        rows = await self.session.scalars(
            select(ServiceJob.id).where(
                ServiceJob.completed_at >= since, ServiceJob.completed_at <= until, ~has_callback)
            .order_by(ServiceJob.completed_at))
        return list(rows)

    async def set_survey_verification(
        self, survey_id: int, verification: str, actor_id: int | None, at: datetime,
        note: str | None,
    ) -> bool:
        survey = await self.session.get(Survey, survey_id)
        if survey is None:
            return False
        before = {"verification": survey.verification}
        result = await self.session.execute(
            update(Survey).where(Survey.id == survey_id, Survey.verification == before["verification"])
            .values(verification=verification, verified_by=actor_id, verified_at=at))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        await add_survey_audit(self.session, {
            "survey_id": survey_id, "at": at, "actor_id": actor_id, "action": "verification",
            "before": before, "after": {"verification": verification, "note": note}})
        return True

    async def add_campaign(self, name: str, flow: str, window_start: str, window_end: str,
                           max_concurrent: int) -> CampaignRecord:
        row = await self.session.scalar(select(Campaign).where(Campaign.name == name))
        if row is None:
            row = Campaign(name=name, flow=flow, window_start=window_start,
                           window_end=window_end, max_concurrent=max_concurrent, active=True)
            self.session.add(row)
        else:
            row.flow, row.window_start, row.window_end = flow, window_start, window_end
            row.max_concurrent = max_concurrent
        await self.session.flush()
        return _campaign(row)

    async def campaign(self, campaign_id: int) -> CampaignRecord | None:
        row = await self.session.get(Campaign, campaign_id)
        return None if row is None else _campaign(row)

    # --- reading -------------------------------------------------------------------------

    async def get(self, callback_id: int) -> CallbackRecord | None:
        row = await self.session.get(Callback, callback_id, populate_existing=True)
        return None if row is None else to_record(row)

    async def attempt_and_callback(
        self, attempt_id: str
    ) -> tuple[AttemptRecord, CallbackRecord] | None:
        row = (await self.session.execute(
            select(CallbackAttempt, Callback)
            .join(Callback, Callback.id == CallbackAttempt.callback_id)
            .where(CallbackAttempt.id == attempt_id)
            .execution_options(populate_existing=True))).first()
        return None if row is None else (_attempt(row[0]), to_record(row[1]))

    async def attempt(self, attempt_id: str) -> AttemptRecord | None:
        row = await self.session.get(CallbackAttempt, attempt_id, populate_existing=True)
        return None if row is None else _attempt(row)

    async def attempts_of(self, callback_id: int) -> list[AttemptRecord]:
        rows = await self.session.scalars(
            select(CallbackAttempt).where(CallbackAttempt.callback_id == callback_id)
            .order_by(CallbackAttempt.number))
        return [_attempt(r) for r in rows]

    async def due_between(self, start: datetime, end: datetime, *,
                          departments: Collection[int] | None = None, limit: int = 500,
                          offset: int = 0) -> list[CallbackRecord]:
        query = (select(Callback).where(Callback.state.in_(OPEN), Callback.next_attempt_at < end)
                 .order_by(Callback.priority, Callback.next_attempt_at, Callback.id)
                 .limit(limit).offset(offset))
        rows = await self.session.scalars(_scoped(query, departments))
        return [to_record(r) for r in rows]

    async def past_deadline(self, now: datetime, *,
                            departments: Collection[int] | None = None, limit: int = 500,
                            offset: int = 0) -> list[CallbackRecord]:
        late_done = and_(Callback.state == S.COMPLETED, Callback.completed_at > Callback.deadline_at)
        query = (select(Callback).where(
                     Callback.deadline_at < now,
                     or_(Callback.state.in_((*OPEN, S.FAILED, S.EXPIRED)), late_done))
                 .order_by(Callback.deadline_at, Callback.id).limit(limit).offset(offset))
        rows = await self.session.scalars(_scoped(query, departments))
        return [to_record(r) for r in rows]

    async def blocked_by_dnc(self, callbacks: Sequence[CallbackRecord]) -> set[int]:
        if not callbacks:
            return set()
        await plan_with_values(self.session, len(callbacks))
        phones = {cb.phone for cb in callbacks}
        ids = {cb.customer_id for cb in callbacks if cb.customer_id is not None}
        listed = set(await self.session.scalars(select(DoNotCall.e164).where(DoNotCall.e164.in_(phones))))
        flagged = set(await self.session.scalars(
            select(Customer.id).where(Customer.id.in_(ids), Customer.do_not_call.is_(True))))
        flagged_phones = set(await self.session.scalars(
            select(CustomerPhone.e164).join(Customer, Customer.id == CustomerPhone.customer_id)
            .where(CustomerPhone.e164.in_(phones), Customer.do_not_call.is_(True))))
        return {cb.id for cb in callbacks
                if cb.phone in listed or cb.phone in flagged_phones or cb.customer_id in flagged}

    # --- dispatch ------------------------------------------------------------------------

    async def claim_due(self, worker: str, now: datetime, limit: int,
                        claim_until: datetime) -> list[CallbackRecord]:
        claimed = await self._claim(worker, now, limit, claim_until,
                                    Callback.campaign_id.is_(None))
        room = limit - len(claimed)
        if room > 0:
            for campaign_id in await self._due_campaigns(now):
                claimed += await self._claim_campaign(campaign_id, worker, now, room, claim_until)
                room = limit - len(claimed)
                if room <= 0:
                    break
        return claimed

    async def _claim(self, worker: str, now: datetime, limit: int, claim_until: datetime,
                     where: Any) -> list[CallbackRecord]:
        if limit <= 0:
            return []
        pick = (select(Callback.id).where(_due(now), where)
                .order_by(Callback.priority, Callback.deadline_at.is_(None), Callback.deadline_at,
                          Callback.id)
                .limit(limit))
        if self._pg:
            pick = pick.with_for_update(skip_locked=True)
        # MATERIALIZED: the pick runs once. Inlined into the UPDATE, PostgreSQL may re-run
        # it while updating, skip the rows just claimed and hand out more than `limit`.
        picked = pick.cte("picked").prefix_with("MATERIALIZED")
        rows = await self.session.scalars(
            update(Callback).where(Callback.id == picked.c.id, _due(now))
            .values(state=S.CLAIMED, claimed_by=worker, claim_expires_at=claim_until, updated_at=now)
            .returning(Callback).execution_options(synchronize_session=False))
        return sorted((to_record(r) for r in rows),
                      key=lambda cb: (cb.priority, cb.deadline_at is None, cb.deadline_at, cb.id))

    async def _due_campaigns(self, now: datetime) -> list[int]:
        rows = await self.session.scalars(
            select(Callback.campaign_id).where(_due(now), Callback.campaign_id.is_not(None))
            .group_by(Callback.campaign_id).order_by(func.min(Callback.priority), Callback.campaign_id))
        return [r for r in rows if r is not None]

    async def _claim_campaign(self, campaign_id: int, worker: str, now: datetime, room: int,
                              claim_until: datetime) -> list[CallbackRecord]:
        lock = select(Campaign).where(Campaign.id == campaign_id, Campaign.active.is_(True))
        if self._pg:
            lock = lock.with_for_update(skip_locked=True)
        campaign = await self.session.scalar(lock)
        if campaign is None:
            return []  # paused, or another worker is pacing it right now
        busy = await self.session.scalar(
            select(func.count()).select_from(Callback).where(
                Callback.campaign_id == campaign_id, Callback.state.in_(IN_PROGRESS))) or 0
        slots = min(room, campaign.max_concurrent - busy)
        return await self._claim(worker, now, slots, claim_until,
                                 Callback.campaign_id == campaign_id)

    async def change(self, callback_id: int, expect: CallbackState | frozenset[CallbackState],
                     changes: Mapping[str, Any], expect_attempt: str | None = None,
                     expect_worker: str | None = None) -> bool:
        states = [expect] if isinstance(expect, str) else list(expect)
        stmt = update(Callback).where(Callback.id == callback_id, Callback.state.in_(states))
        if expect_attempt is not None:
            stmt = stmt.where(Callback.current_attempt_id == expect_attempt)
        if expect_worker is not None:
            stmt = stmt.where(Callback.claimed_by == expect_worker)
        values = {k: (str(v) if k == "state" else v) for k, v in changes.items()}
        result = await self.session.execute(
            stmt.values(**values).execution_options(synchronize_session=False))
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def start_dials(self, callback_ids: Sequence[int], worker: str, now: datetime,
                          dial_until: datetime, carrier: str) -> list[CallbackRecord]:
        """claimed -> dialing for those `worker` still holds, each with a new attempt row."""
        if not callback_ids:
            return []
        prefix = uuid.uuid4().hex[:20] + "-"  # attempt id = prefix + callback id: unique
        rows = list(await self.session.scalars(
            update(Callback).where(Callback.id.in_(callback_ids), Callback.state == S.CLAIMED,
                                   Callback.claimed_by == worker)
            .values(state=S.DIALING, attempts=Callback.attempts + 1,
                    current_attempt_id=literal(prefix) + cast(Callback.id, String),
                    claim_expires_at=dial_until, updated_at=now)
            .returning(Callback).execution_options(synchronize_session=False)))
        if rows:
            await self.session.execute(insert(CallbackAttempt), [
                {"id": r.current_attempt_id, "callback_id": r.id, "number": r.attempts,
                 "started_at": now, "worker": worker, "carrier": carrier} for r in rows])
        return [to_record(r) for r in rows]

    async def add_attempt(self, attempt: AttemptRecord) -> None:
        self.session.add(CallbackAttempt(
            id=attempt.id, callback_id=attempt.callback_id, number=attempt.number,
            started_at=attempt.started_at, worker=attempt.worker, carrier=attempt.carrier,
            carrier_call_id=attempt.carrier_call_id, result=attempt.result,
            ended_at=attempt.ended_at))  # inserted in one batch at the next flush / commit

    async def settle_attempt(self, attempt_id: str, result: str | None, ended_at: datetime | None,
                             carrier_call_id: str | None = None, detail: str | None = None) -> None:
        values: dict[str, Any] = {"result": result, "ended_at": ended_at}
        if carrier_call_id is not None:
            values["carrier_call_id"] = carrier_call_id
        if detail is not None:
            values["detail"] = detail
        await self.session.execute(
            update(CallbackAttempt).where(CallbackAttempt.id == attempt_id).values(**values)
            .execution_options(synchronize_session=False))

    async def set_carrier_ids(self, pairs: Sequence[tuple[str, str]]) -> None:
        if not pairs:
            return
        table: Table = CallbackAttempt.__table__  # type: ignore[assignment]  # Core: executemany
        await self.session.execute(  # one executemany round trip
            update(table).where(table.c.id == bindparam("aid"), table.c.carrier_call_id.is_(None))
            .values(carrier_call_id=bindparam("cid")),
            [{"aid": a, "cid": c} for a, c in pairs])

    async def lapse_claims(self, now: datetime) -> tuple[int, int]:
        """Claims past their expiry: claimed -> scheduled; dialing / in_call -> unknown."""
        released = await self.session.execute(
            update(Callback).where(Callback.state == S.CLAIMED, Callback.claim_expires_at < now)
            .values(state=S.SCHEDULED, claimed_by=None, claim_expires_at=None)
            .execution_options(synchronize_session=False))
        lost = await self.session.execute(
            update(Callback).where(Callback.state.in_((S.DIALING, S.IN_CALL)),
                                   Callback.claim_expires_at < now)
            .values(state=S.UNKNOWN, claim_expires_at=None)
            .execution_options(synchronize_session=False))
        return released.rowcount, lost.rowcount  # type: ignore[attr-defined]

    async def promote_retries(self, now: datetime) -> int:
        result = await self.session.execute(
            update(Callback).where(Callback.state == S.RETRY_WAIT, Callback.next_attempt_at <= now)
            .values(state=S.SCHEDULED).execution_options(synchronize_session=False))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def expire_overdue(self, cutoff: datetime, now: datetime) -> int:
        """Waiting callbacks whose deadline is before `cutoff` (now - grace) -> expired."""
        result = await self.session.execute(
            update(Callback).where(Callback.state.in_((S.SCHEDULED, S.RETRY_WAIT)),
                                   Callback.deadline_at < cutoff)
            .values(state=S.EXPIRED, disposition="expired", completed_at=now)
            .execution_options(synchronize_session=False))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def unknown(self, limit: int) -> list[tuple[CallbackRecord, AttemptRecord]]:
        rows = await self.session.execute(
            select(Callback, CallbackAttempt)
            .join(CallbackAttempt, CallbackAttempt.id == Callback.current_attempt_id)
            .where(Callback.state == S.UNKNOWN).order_by(Callback.id).limit(limit))
        return [(to_record(cb), _attempt(at)) for cb, at in rows]

    async def record_contact(self, callback: CallbackRecord, at: datetime, staff_id: int | None,
                             disposition: str, summary: str | None) -> None:
        if callback.customer_id is None:
            return
        await self.session.execute(_ADD_CONTACT, CONTACTS.params([contact_row({
            "customer_id": callback.customer_id, "kind": ContactKind.CALL.value, "at": at,
            "staff_id": staff_id, "job_id": callback.job_id, "complaint_id": callback.complaint_id,
            "subject": f"callback:{callback.kind}", "disposition": disposition[:40],
            "summary": summary})]))


def _new_values(new: NewCallback) -> dict[str, Any]:
    return {name: getattr(new, name) for name in NewCallback.__dataclass_fields__}
