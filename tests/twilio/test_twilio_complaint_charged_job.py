"""An IVR complaint (it names no job) is charged through the caller's most recent job.

A complaint without a job was charged to the customer's department, else the default one:
for a customer of no department (every unknown caller; one the scored department made) it
counted against nobody, and the per-staff figures never named a technician for an IVR
complaint. Now the caller's job completed last within COMPLAINT_JOB_WINDOW_DAYS charges the
complaint to its department and technician (before the customer's department), and the
complaint records that job. Real server, Twilio requests signed with Twilio's validator,
both engines.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import select

from callcenter.demo.simulated_twilio import Speak
from callcenter.reporting import builders
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Complaint, ComplaintHistory, Staff
from reports.periods import Month
from tests import factories
from tests.conftest import Served
from tests.reports.helpers import bearer
from tests.twilio.conftest import CALLER, STRANGER, NewCaller

ATTITUDE = ["1", "2", Speak(20), "2"]  # complain, attitude, speak, confirm


@pytest.fixture
def window_days() -> int | None:
    """COMPLAINT_JOB_WINDOW_DAYS; None: the default."""
    return None


@pytest.fixture
def settings(settings: Settings, window_days: int | None) -> Settings:
    window = {} if window_days is None else {"complaint_job_window_days": window_days}
    return settings.model_copy(update={"complaint_default_department": "CC", **window})


async def _department(db: Database, code: str) -> tuple[int, Staff]:
    dep, head = await factories.headed_department(db, code)
    return dep.id, head


async def _complaints(db: Database) -> list[Complaint]:
    async with db.sessions() as session:
        return list((await session.scalars(select(Complaint).order_by(Complaint.id))).all())


async def test_an_ivr_complaint_is_charged_to_the_department_and_technician_of_the_callers_recent_job(
    db: Database, served: Served, settings: Settings, caller: NewCaller,
) -> None:
    svc, _ = await _department(db, "SVC")
    await _department(db, "CC")
    tech = await factories.staff(db, "tech-li", ["technician"], svc)
    customer = await factories.customer(db, "张三", (CALLER,), department_id=None)
    await factories.job(db, customer.id, "J-0", technician_id=tech.id, department_id=svc,
                        completed_at=datetime(2026, 5, 2, 8, tzinfo=UTC))
    job = await factories.job(db, customer.id, "J-1", technician_id=tech.id, department_id=svc,
                              completed_at=datetime(2026, 5, 10, 8, tzinfo=UTC))  # 8 days ago
    await caller().call(ATTITUDE)
    (row,) = await _complaints(db)
    assert (row.channel, row.job_id) == ("phone_ivr", None)
    assert row.department_id == svc
    assert row.charged_job_id == job.id
    async with db.sessions() as session:
        notes = (await session.scalars(select(ComplaintHistory.note).where(
            ComplaintHistory.complaint_id == row.id, ComplaintHistory.action == "open"))).all()
    assert any("J-1" in note for note in notes), notes
    # the agent and the manager see which job it was charged through
    supervisor = await factories.staff(db, "sup", ["supervisor"], None)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{served.base_url}/api/complaints/{row.id}",
                            headers=await bearer(db, supervisor)) as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["charged_job_id"] == job.id
    # the supervision report counts it against SVC and names the technician
    payload = await builders.supervision(db, settings, Month(2026, 5))
    (dept,) = [d for d in payload["supervision"]["departments"] if d["department_id"] == svc]
    assert dept["complaints"]["complaints"] == 1
    assert [(p["staff_id"], p["complaints"]) for p in dept["staff"]] == [(tech.id, 1)]


async def test_a_job_older_than_the_window_leaves_the_complaint_to_the_customer_or_default_department(
    db: Database, served: Served, caller: NewCaller,
) -> None:
    """The default window (30 days) does not reach a job finished 78 days ago: the known
    customer's complaint goes to the customer's department, the complaint of the customer
    of no department to the default department (COMPLAINT_DEFAULT_DEPARTMENT)."""
    rows, deps, jobs = await _old_jobs_complain(db, caller)
    assert [(r.department_id, r.charged_job_id) for r in rows] == [
        (deps["OTHER"], None), (deps["CC"], None)]


@pytest.mark.parametrize("window_days", [90])
async def test_a_longer_window_reaches_the_older_job(
    db: Database, served: Served, caller: NewCaller, window_days: int,
) -> None:
    rows, deps, jobs = await _old_jobs_complain(db, caller)
    assert [(r.department_id, r.charged_job_id) for r in rows] == [
        (deps["SVC"], jobs[0]), (deps["SVC"], jobs[1])]


async def _old_jobs_complain(
    db: Database, caller: NewCaller,
) -> tuple[list[Complaint], dict[str, int], list[int]]:
    svc, _ = await _department(db, "SVC")
    other, _ = await _department(db, "OTHER")
    cc, _ = await _department(db, "CC")
    tech = await factories.staff(db, "tech-li", ["technician"], svc)
    known = await factories.customer(db, "张三", (CALLER,), department_id=other)
    nobodys = await factories.customer(db, "李四", (STRANGER,), department_id=None)
    old = datetime(2026, 3, 1, 8, tzinfo=UTC)  # 78 days before the call
    jobs = [await factories.job(db, c.id, f"J-{c.id}", technician_id=tech.id, department_id=svc,
                                completed_at=old) for c in (known, nobodys)]
    await caller().call(ATTITUDE)
    await caller(from_number=STRANGER).call(ATTITUDE)
    return (await _complaints(db), {"SVC": svc, "OTHER": other, "CC": cc},
            [j.id for j in jobs])
