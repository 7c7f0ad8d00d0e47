"""Lists that grow with the business answer a page at a time, never every row at once.

A campaign day has thousands of callbacks, past deadlines accumulate for ever, the mail
record grows daily: each list route answers at most its limit (200 by default, 500 at
most), and `offset` pages on.
"""

from __future__ import annotations

from datetime import timedelta

import aiohttp

from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from callcenter.storage.tables import MailDelivery
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import CallbackKind
from crm.services.callback_ports import NewCallback
from tests import factories
from tests.conftest import Served
from tests.reports.helpers import bearer, shop

ROWS = 1_200


async def _get(served: Served, path: str, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(served.base_url + path, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_callback_and_mail_lists_answer_a_page_at_a_time(
        served: Served, db: Database, clock: FixedClock) -> None:
    s = await shop(db)
    manager = await factories.staff(db, "mgr-lists", ["manager", "callback"], None)
    headers = await bearer(db, manager)
    now = clock()
    news = [NewCallback(source_key=f"t:{i}", kind=CallbackKind.CAMPAIGN, phone=f"+86138{i:08d}",
                        timezone="Asia/Shanghai", priority=5, due_at=now - timedelta(days=3),
                        deadline_at=now - timedelta(days=1), next_attempt_at=now - timedelta(hours=1))
            for i in range(ROWS)]
    async with SqlUnitOfWork(db) as uow:
        await uow.callbacks.add_many(news)
        await uow.commit()
    await factories.add(db, *(MailDelivery(key=f"k{i}", kind="report", subject="s", status="sent",
                                           at=now - timedelta(minutes=i)) for i in range(600)))
    assert s.department_id
    for path in ("/api/callbacks", "/api/callbacks/overdue"):
        status, body = await _get(served, path, headers)
        assert status == 200, body
        first = [c["id"] for c in body["callbacks"]]  # type: ignore[union-attr, index]
        assert len(first) == 200, path
        status, body = await _get(served, path + "?limit=500&offset=1000", headers)
        assert status == 200, body
        rest = [c["id"] for c in body["callbacks"]]  # type: ignore[union-attr, index]
        assert len(rest) == ROWS - 1000 and not set(rest) & set(first), path
        status, body = await _get(served, path + "?limit=100000", headers)
        assert status == 422, body
    status, body = await _get(served, "/api/reports/deliveries", headers)
    assert status == 200 and len(body["deliveries"]) == 500  # type: ignore[arg-type]
