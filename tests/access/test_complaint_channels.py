"""Staff cannot claim a complaint came from the public form or the IVR.

A public-form complaint counts in the department's complaint score only once its number is
confirmed; a complaint staff open through the API is one they heard. Letting them name the
`web_form` channel would open a complaint that never counts (and `phone_ivr` would claim a
call that never was). Every opener role tries both through the real API: 422, nothing
stored; `agent` and `callback` channels are opened and counted. Both engines, real server.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import func, select

from callcenter.appkeys import DB
from callcenter.reporting.loaders import load_supervision_complaints
from callcenter.storage.tables import Complaint
from tests import factories
from tests.access.people import org
from tests.conftest import Served

OPENERS = ["agent", "callback_staff", "scored_manager"]


@pytest.mark.parametrize("who", OPENERS)
async def test_staff_open_complaints_only_as_heard_by_staff(served: Served, who: str) -> None:
    db = served.app[DB]
    people = await org(db)
    customer = await factories.customer(db, department_id=people.departments["SVC"])
    headers = {"Authorization": f"Bearer {people.people[who].token}"}

    async def open_as(channel: str) -> int:
        async with aiohttp.ClientSession() as http, http.post(
                served.base_url + "/api/complaints", headers=headers, json={
                    "customer_id": customer.id, "category": "attitude", "channel": channel,
                    "description": "rude on the phone"}) as resp:
            return resp.status

    assert await open_as("web_form") == 422
    assert await open_as("phone_ivr") == 422
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Complaint)) == 0
    assert await open_as("agent") == 201
    assert await open_as("callback") == 201
    frame = await load_supervision_complaints(db, datetime(2026, 5, 1, tzinfo=UTC),
                                              datetime(2026, 6, 1, tzinfo=UTC), "Asia/Shanghai")
    assert list(frame["counted"]) == [1, 1]
