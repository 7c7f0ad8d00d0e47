"""The callback staff API on the real app: today's list, feedback by hand, campaigns, roles."""

from __future__ import annotations

import secrets

import aiohttp

from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from callcenter.storage.tables import ApiToken
from callcenter.web.auth import sha256
from tests import factories
from tests.callbacks import builders
from tests.conftest import Served


async def token(db: Database, username: str, roles: list[str]) -> dict[str, str]:
    staff = await factories.staff(db, username, roles)
    value = secrets.token_urlsafe(24)
    await factories.add(db, ApiToken(staff_id=staff.id, name="t", token_hash=sha256(value)))
    return {"Authorization": f"Bearer {value}"}


async def test_callback_staff_see_todays_callbacks_and_record_feedback_by_hand(
    served: Served, db: Database, clock: FixedClock
) -> None:
    from callcenter.storage.uow import SqlUnitOfWork

    customer = await factories.customer(db)
    cb = await builders.new_callback(SqlUnitOfWork(db), due=clock(), customer_id=customer.id)
    headers = await token(db, "cb1", ["callback_staff"])
    async with aiohttp.ClientSession(served.base_url, headers=headers) as http:
        listed = await (await http.get("/api/callbacks")).json()
        assert [c["id"] for c in listed["callbacks"]] == [cb.id]
        done = await http.post(f"/api/callbacks/{cb.id}/complete",
                               json={"disposition": "satisfied", "feedback": "fixed, thanks"})
        assert done.status == 200
        assert (await done.json())["state"] == "completed"
        again = await http.post(f"/api/callbacks/{cb.id}/complete",
                                json={"disposition": "unreached"})
        assert again.status == 409
        page = await http.get("/callbacks")
        assert page.status == 200


async def test_campaign_upload_with_a_bad_line_imports_nothing(
    served: Served, db: Database
) -> None:
    headers = await token(db, "boss", ["manager"])
    async with aiohttp.ClientSession(served.base_url, headers=headers) as http:
        bad = await http.post("/api/campaigns?name=spring&flow=requested_callback&window=10:00-18:00",
                              data="phone,name\n13800138000,A\nnot-a-number,B\n")
        assert bad.status == 422
        assert "line 3" in str(await bad.json())
        good = await http.post("/api/campaigns?name=spring&flow=requested_callback&window=10:00-18:00",
                               data="phone,name\n13800138000,A\n")
        assert good.status == 201


async def test_agents_cannot_upload_campaigns(served: Served, db: Database) -> None:
    headers = await token(db, "agent1", ["agent"])
    async with aiohttp.ClientSession(served.base_url, headers=headers) as http:
        denied = await http.post("/api/campaigns?name=x&flow=requested_callback", data="phone\n13800138000\n")
        assert denied.status == 403
