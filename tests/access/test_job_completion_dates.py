"""Staff cannot choose the month a job's survey counts in by dating the job.

A survey counts in the month its job was completed, and a month whose supervision figures
are published is closed: a survey of it goes only into a correction draft. A department
expecting an angry customer could book the job into a closed month (its bad survey would
then never reach a published figure), or into the future. Through the real API, every role
that books jobs: a completion in a published month or in the future is refused and nothing
is stored; one in the open month is booked. Both engines, real server.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import func, select

from callcenter.appkeys import DB
from callcenter.storage.tables import ReportVersion, ServiceJob
from tests import factories
from tests.access.people import org
from tests.conftest import Served


@pytest.mark.parametrize("who", ["technician", "scored_manager"])
async def test_a_job_is_not_dated_into_a_published_month_or_the_future(
    served: Served, who: str,
) -> None:
    db = served.app[DB]
    people = await org(db)
    await factories.add(db, ReportVersion(
        kind="supervision", period="2026-04", scope="all", version=1, made_by="staff:1",
        reason="monthly", figures={}, surveys={}, published_at=datetime(2026, 5, 5, tzinfo=UTC),
        published_by="inspector"))
    customer = await factories.customer(db, department_id=people.departments["SVC-N"])
    headers = {"Authorization": f"Bearer {people.people[who].token}"}

    async def book(reference: str, completed_at: str) -> int:
        async with aiohttp.ClientSession() as http, http.post(
                served.base_url + "/api/jobs", headers=headers, json={
                    "reference": reference, "customer_id": customer.id,
                    "department_id": people.departments["SVC-N"],
                    "technician_id": people.people["technician"].staff_id,
                    "completed_at": completed_at}) as resp:
            return resp.status

    assert await book("J-APRIL", "2026-04-30T10:00:00+08:00") == 422  # published month
    assert await book("J-EDGE", "2026-04-30T23:59:00+08:00") == 422  # still April locally
    assert await book("J-LATER", "2026-05-19T10:00:00+08:00") == 422  # the future
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ServiceJob)) == 0
    assert await book("J-MAY", "2026-05-01T00:30:00+08:00") == 201  # May is open
