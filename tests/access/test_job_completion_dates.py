"""Staff cannot choose the month a job's survey counts in by dating the job.

A survey counts in the month its job was completed, and a month whose supervision figures
are published is closed: a survey of it goes only into a correction draft. A department
expecting an angry customer could book the job into a closed month (its bad survey would
then never reach a published figure), into the future, or, in the first days of a month,
into last month while it is still open (sinking the average this month is compared with).
Through the real API, every role that books jobs: a completion in a published month, in the
future or more than JOB_COMPLETION_BACKDATE_HOURS ago is refused and nothing is stored; a
job done late last night, across the month's end, is booked. Both engines, real server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from callcenter.appkeys import DB
from callcenter.clock import FixedClock
from callcenter.storage.tables import ReportVersion, ServiceJob
from tests import factories
from tests.access.people import org
from tests.conftest import Served


async def _booking(served: Served, people: Any, who: str, customer_id: int
                   ) -> Callable[[str, str], Awaitable[tuple[int, str]]]:
    """`book(reference, completed_at)`: POST /api/jobs as `who` for a job of SVC-N done by
    its technician; (status, body)."""
    headers = {"Authorization": f"Bearer {people.people[who].token}"}

    async def book(reference: str, completed_at: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as http, http.post(
                served.base_url + "/api/jobs", headers=headers, json={
                    "reference": reference, "customer_id": customer_id,
                    "department_id": people.departments["SVC-N"],
                    "technician_id": people.people["technician"].staff_id,
                    "completed_at": completed_at}) as resp:
            return resp.status, await resp.text()
    return book


@pytest.mark.parametrize("who", ["technician", "scored_manager"])
async def test_a_job_is_not_dated_into_a_published_month_or_the_future(
    served: Served, clock: FixedClock, who: str,
) -> None:
    clock.now = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)  # 1 May, 10:00 in Shanghai
    db = served.app[DB]
    people = await org(db)
    await factories.add(db, ReportVersion(
        kind="supervision", period="2026-04", scope="all", version=1, made_by="staff:1",
        reason="monthly", figures={}, surveys={}, published_at=datetime(2026, 5, 5, tzinfo=UTC),
        published_by="inspector"))
    customer = await factories.customer(db, department_id=people.departments["SVC-N"])
    booking = await _booking(served, people, who, customer.id)

    async def book(reference: str, completed_at: str) -> int:
        return (await booking(reference, completed_at))[0]

    assert await book("J-APRIL", "2026-04-30T10:00:00+08:00") == 422  # published month
    assert await book("J-EDGE", "2026-04-30T23:59:00+08:00") == 422  # still April locally
    assert await book("J-LATER", "2026-05-01T10:30:00+08:00") == 422  # the future
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ServiceJob)) == 0
    assert await book("J-MAY", "2026-05-01T00:30:00+08:00") == 201  # May is open


@pytest.mark.parametrize("who", ["technician", "scored_manager"])
async def test_a_job_is_not_dated_back_into_last_month_while_it_is_open(
    served: Served, clock: FixedClock, who: str,
) -> None:
    """April is not published yet on 2 May: without a bound, a job done on 2 May could be
    booked as done on 28 April. Within JOB_COMPLETION_BACKDATE_HOURS (48) of now it books,
    across the month's end too; a longer setting lets it through."""
    clock.now = datetime(2026, 5, 2, 2, 0, tzinfo=UTC)  # 2 May, 10:00 in Shanghai
    db = served.app[DB]
    people = await org(db)
    customer = await factories.customer(db, department_id=people.departments["SVC-N"])
    book = await _booking(served, people, who, customer.id)

    status, answer = await book("J-APRIL-28", "2026-04-28T10:00:00+08:00")
    assert status == 422, answer
    assert "more than 48 hours ago" in answer and "import" in answer
    assert (await book("J-JUST", "2026-04-30T09:59:00+08:00"))[0] == 422  # 48 h and a minute
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ServiceJob)) == 0
    assert (await book("J-LATE-NIGHT", "2026-04-30T23:10:00+08:00"))[0] == 201
    assert (await book("J-TODAY", "2026-05-02T08:00:00+08:00"))[0] == 201

    served.settings.job_completion_backdate_hours = 24 * 5
    assert (await book("J-APRIL-28", "2026-04-28T10:00:00+08:00"))[0] == 201
    async with db.sessions() as session:
        booked = (await session.scalars(select(ServiceJob.reference)
                                        .order_by(ServiceJob.reference))).all()
    assert booked == ["J-APRIL-28", "J-LATE-NIGHT", "J-TODAY"]
