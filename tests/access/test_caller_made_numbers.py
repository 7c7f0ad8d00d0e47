"""A number only a caller's own call put on a record is not the customer's word for a survey.

The attack: a technician of the scored department (SVC-N) rings the hotline once from a
phone he holds: the call makes an unverified caller record owning that number, added by
nobody. He books a completed job of his department on that record (`POST /api/jobs`, his
role may), calls again and keys in a glowing survey. Nobody outside the department ever
said the number is a customer's, so the survey waits for verification. The same when his
manager names the record (`PATCH`) before booking. Once an agent of the call centre
(outside) names the record, its number is that agent's word and stays first-hand.

Second: "added by" follows a number that is merged. The scored manager links his phone to
an unverified caller record; an agent later folds that record into the real customer (the
routine merge of `/agent`): the number keeps the manager's stamp, and a survey from it is
pending. Real server on a port, signed Twilio webhooks, both engines (on PostgreSQL the
survey turn takes the batched fast path).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from callcenter.appkeys import DB
from callcenter.demo.simulated_twilio import SimulatedCaller
from callcenter.storage.tables import CustomerPhone, Survey
from tests import factories
from tests.access.people import Org, org
from tests.conftest import Served

BURNER = "+8613512340001"
REAL = "+8613800138000"
SURVEY = ["2", "1", "1", "1", "1", "2"]  # rate the last visit: A, A, A, confirm, goodbye
COMPLETED = "2026-05-17T08:00:00+00:00"


class Desk:
    def __init__(self, served: Served, people: Org, http: aiohttp.ClientSession) -> None:
        self.served, self.people, self.http = served, people, http
        self.jobs = 0

    def caller(self, number: str) -> SimulatedCaller:
        token = self.served.settings.twilio_auth_token.get_secret_value()
        return SimulatedCaller(self.http, self.served.base_url, token, from_number=number)

    async def send(self, who: str, method: str, path: str, body: dict[str, Any]) -> Any:
        headers = {"Authorization": f"Bearer {self.people.people[who].token}"}
        async with self.http.request(method, self.served.base_url + path, json=body,
                                     headers=headers) as resp:
            assert resp.status in (200, 201), (resp.status, await resp.text())
            return await resp.json()

    async def owner_of(self, number: str) -> int:
        async with self.served.app[DB].sessions() as session:
            found = await session.scalar(select(CustomerPhone.customer_id)
                                         .where(CustomerPhone.e164 == number))
        assert found is not None
        return int(found)

    async def book(self, who: str, customer_id: int) -> None:
        self.jobs += 1
        await self.send(who, "POST", "/api/jobs", {
            "reference": f"J-{self.jobs}", "customer_id": customer_id,
            "department_id": self.people.departments["SVC-N"],
            "technician_id": self.people.people["technician"].staff_id,
            "completed_at": COMPLETED})

    async def survey_from(self, number: str) -> Survey:
        result = await self.caller(number).call(SURVEY)
        assert result.ended_by != "http-500"
        async with self.served.app[DB].sessions() as session:
            survey = (await session.scalars(select(Survey).order_by(Survey.id.desc()))).first()
        assert survey is not None and survey.complete and survey.source == "ivr"
        return survey


@pytest.fixture
async def desk(served: Served) -> AsyncIterator[Desk]:
    people = await org(served.app[DB])
    async with aiohttp.ClientSession() as http:
        yield Desk(served, people, http)


async def test_a_job_booked_by_the_scored_department_on_a_caller_made_record_is_pending(
    desk: Desk,
) -> None:
    await desk.caller(BURNER).call(["9"])  # one call: the record is made by the call
    record = await desk.owner_of(BURNER)
    await desk.book("technician", record)
    survey = await desk.survey_from(BURNER)
    assert survey.verification == "pending", survey.pending_reason
    assert survey.pending_reason and "nobody" in survey.pending_reason


async def test_naming_the_record_by_the_scored_manager_does_not_make_it_first_hand(
    desk: Desk,
) -> None:
    await desk.caller(BURNER).call(["9"])
    record = await desk.owner_of(BURNER)
    await desk.send("scored_manager", "PATCH", f"/api/customers/{record}", {"name": "王五"})
    await desk.book("technician", record)
    assert (await desk.survey_from(BURNER)).verification == "pending"


async def test_a_record_named_by_an_agent_of_the_call_centre_stays_first_hand(desk: Desk) -> None:
    await desk.caller(BURNER).call(["9"])
    record = await desk.owner_of(BURNER)
    await desk.send("agent", "PATCH", f"/api/customers/{record}", {"name": "王五"})
    await desk.book("technician", record)
    assert (await desk.survey_from(BURNER)).verification == "first_hand"


async def test_a_merged_number_keeps_the_stamp_of_whoever_first_put_it_on_a_record(
    desk: Desk,
) -> None:
    db = desk.served.app[DB]
    real = await factories.customer(db, "张三", (REAL,), department_id=desk.people.departments["SVC"])
    await desk.book("scored_manager", real.id)
    await desk.caller("+8613512340002").call(["9"])  # some unverified caller record
    decoy = await desk.owner_of("+8613512340002")
    await desk.send("scored_manager", "POST", f"/api/customers/{decoy}/phones", {"phone": BURNER})
    await desk.send("agent", "POST", f"/api/customers/{real.id}/merge",
                    {"source_customer_id": decoy})
    assert await desk.owner_of(BURNER) == real.id
    assert (await desk.survey_from(BURNER)).verification == "pending"
    assert (await desk.survey_from(REAL)).verification == "first_hand"  # the customer's own
