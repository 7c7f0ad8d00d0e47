"""A dispatch pass reads the numbers of its supervision callbacks in a fixed number of statements.

Before every dial a supervision callback (post-repair survey call, complaint follow-up,
survey verification) checks its number again (`crm.callback_numbers`). A pass of 20 such
callbacks must send as many statements as a pass of one: the customers, their stamped
phones, the surveys, complaints and jobs and the department tree are read for the whole
claimed batch at once, not callback by callback inside the dispatcher's transaction.
Real dispatch pass (`dispatch_once`, `SqlUnitOfWork`), both engines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, event, or_

from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from callcenter.storage.tables import (
    Callback,
    Complaint,
    Customer,
    CustomerPhone,
    ServiceJob,
    Survey,
)
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import CallbackKind
from crm.services.callback_dispatch import DispatchConfig, dispatch_once
from crm.services.callback_ports import NewCallback
from tests import factories
from tests.callbacks import builders
from tests.callbacks.fake_carrier import ScriptedCarrier

Uow = Callable[[], SqlUnitOfWork]


@contextmanager
def statements(db: Database) -> Iterator[Counter[str]]:
    """Statements the engine sends while the block runs, by verb."""
    seen: Counter[str] = Counter()

    def statement(_conn: object, _cursor: object, sql: str, *_rest: object) -> None:
        seen[sql.split(None, 1)[0].upper()] += 1

    sync = db.engine.sync_engine
    event.listen(sync, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(sync, "before_cursor_execute", statement)


class Centre:
    """HQ <- SVC (scored) <- SVC-N; CC (agents) and SUP (supervision) below HQ."""

    def __init__(self, db: Database, uow: Uow, clock: FixedClock) -> None:
        self.db, self.uow, self.clock = db, uow, clock
        self.made = 0

    async def open(self) -> None:
        hq = await factories.department(self.db, "HQ")
        self.svc = (await factories.department(self.db, "SVC", parent_id=hq.id)).id
        north = await factories.department(self.db, "SVC-N", parent_id=self.svc)
        self.cc = (await factories.department(self.db, "CC", parent_id=hq.id)).id
        await factories.department(self.db, "SUP", parent_id=hq.id, supervision=True)
        self.manager = (await factories.staff(self.db, "manager", ["manager"], self.svc)).id
        self.technician = (await factories.staff(self.db, "tech", ["technician"], north.id)).id
        self.agent = (await factories.staff(self.db, "agent", ["agent"], self.cc)).id
        self.keyer = (await factories.staff(self.db, "keyer", ["agent"], self.cc)).id

    async def callbacks(self, n: int, kind: CallbackKind) -> dict[int, str]:
        """`n` due supervision callbacks of `kind`, each to a customer whose primary number the
        scored manager planted; callback id -> the number it must dial (an agent's entry)."""
        now = self.clock()
        news: list[NewCallback] = []
        async with self.db.sessions() as session:
            for _ in range(n):
                i = self.made = self.made + 1
                customer = Customer(name=f"c{i}", department_id=self.svc)
                session.add(customer)
                await session.flush()
                own = f"+86139{i:08d}"
                session.add_all([
                    CustomerPhone(customer_id=customer.id, e164=f"+86137{i:08d}", is_primary=True,
                                  added_by=self.manager, added_by_department_id=self.svc),
                    CustomerPhone(customer_id=customer.id, e164=f"+86135{i:08d}",
                                  added_by=self.technician, added_by_department_id=None),
                    CustomerPhone(customer_id=customer.id, e164=own, added_by=self.agent,
                                  added_by_department_id=self.cc),
                    CustomerPhone(customer_id=customer.id, e164=f"+86133{i:08d}"),  # imported
                ])
                job = ServiceJob(reference=f"J-{i}", customer_id=customer.id,
                                 technician_id=self.technician, department_id=self.svc,
                                 completed_at=now - timedelta(days=1))
                session.add(job)
                await session.flush()
                ids: dict[str, int] = {"job_id": job.id}
                if kind is CallbackKind.COMPLAINT_FOLLOWUP:
                    complaint = Complaint(
                        ticket=f"C-{i}", customer_id=customer.id, channel="phone_ivr",
                        category="repair_quality", state="resolved", owner_id=self.manager,
                        department_id=self.svc, job_id=job.id, opened_at=now - timedelta(days=2),
                        resolved_at=now - timedelta(hours=2))
                    session.add(complaint)
                    await session.flush()
                    ids = {"complaint_id": complaint.id}
                elif kind is CallbackKind.SURVEY_VERIFICATION:
                    survey = Survey(job_id=job.id, customer_id=customer.id, department_id=self.svc,
                                    staff_id=self.technician, surveyed_at=now - timedelta(days=1),
                                    source="agent", timeliness="A", quality="A", attitude="A",
                                    complete=True, verification="pending", entered_by=self.keyer)
                    session.add(survey)
                    await session.flush()
                    ids = {"survey_id": survey.id}
                news.append(NewCallback(
                    source_key=f"test:{kind}:{i}", kind=kind, phone=own, timezone="Asia/Shanghai",
                    priority=2, due_at=now, deadline_at=now + timedelta(days=3),
                    next_attempt_at=now, customer_id=customer.id, **ids))  # type: ignore[arg-type]
            await session.commit()
        async with self.uow() as u:
            made = await u.callbacks.add_many(news)
            await u.commit()
        return {cb.id: cb.phone for cb, _ in made}

    async def dispatch(self) -> tuple[dict[int, str], Counter[str]]:
        """One dispatcher pass: the numbers dialled by callback, and the statements it sent."""
        carrier = ScriptedCarrier()
        with statements(self.db) as sent:
            await dispatch_once(self.uow, carrier, self.clock, DispatchConfig(worker="w1"))
        return {r.callback_id: r.number for r in carrier.dials}, sent


@pytest.mark.parametrize("kind", [CallbackKind.POST_REPAIR, CallbackKind.COMPLAINT_FOLLOWUP,
                                  CallbackKind.SURVEY_VERIFICATION])
async def test_twenty_supervision_callbacks_cost_the_dispatcher_no_more_statements_than_one(
    db: Database, uow: Uow, kind: CallbackKind,
) -> None:
    centre = Centre(db, uow, FixedClock(datetime(2026, 5, 18, 2, 0, tzinfo=UTC)))
    await centre.open()
    sent: dict[int, Counter[str]] = {}
    for n in (1, 20):
        expected = await centre.callbacks(n, kind)
        dialled, sent[n] = await centre.dispatch()
        assert dialled == expected  # each to its customer's own number, past the planted ones
    assert sum(sent[20].values()) == sum(sent[1].values()), (sent[1], sent[20])


async def test_in_one_pass_each_callback_is_switched_or_held_by_its_own_customers_record(
    db: Database, uow: Uow,
) -> None:
    centre = Centre(db, uow, FixedClock(datetime(2026, 5, 18, 2, 0, tzinfo=UTC)))
    await centre.open()
    expected = await centre.callbacks(3, CallbackKind.POST_REPAIR)
    clean, switched, held = expected
    plain = await builders.new_callback(uow(), phone="+8613800000001", due=centre.clock())
    async with db.sessions() as session:
        row = await session.get(Callback, switched)
        assert row is not None
        row.phone = "+86137" + expected[switched][6:]  # scheduled when the planted one was fine
        customer = (await session.get(Callback, held)).customer_id  # type: ignore[union-attr]
        await session.execute(delete(CustomerPhone).where(  # the customer's own numbers unlinked
            CustomerPhone.customer_id == customer,
            or_(CustomerPhone.added_by.is_(None), CustomerPhone.added_by == centre.agent)))
        await session.commit()
    dialled, _ = await centre.dispatch()
    assert dialled == {clean: expected[clean], switched: expected[switched],
                       plain.id: "+8613800000001"}
    assert (await builders.callback_row(db, switched)).phone == expected[switched]
    row = await builders.callback_row(db, held)
    assert (row.state, row.claimed_by, row.data["held"]) == ("held", None, "no_trustworthy_number")
    assert "added to the customer's record by the department this call judges" in \
        row.data["held_reason"]
