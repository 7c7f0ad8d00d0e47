"""Supervision calls never go to a number the scored department planted, and never count from one.

The attack: the scored department's manager adds his own phone to a customer's record as
the primary number. The verification call for a survey keyed on the customer's behalf
(001: supervision phones a sample of customers) would ring him; the technician answers,
confirms, and the survey counts as verified. The same for the post-repair survey call and
the complaint follow-up call (二次回访), whose answers close complaints and find problems.

A supervision call dials only a number nobody with a stake in the judged department put on
the record (the customer's other number here); with none, the callback is held for the
supervision staff with the reason and nothing is dialled. And when the call's answer comes
in, the number dialled is checked again: edited meanwhile, the answer counts for nothing.
Real server on a port, signed Twilio webhooks for the calls, both engines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select

from callcenter.appkeys import CLOCK, DB
from callcenter.clock import FixedClock
from callcenter.demo.simulated_twilio import CallResult, SimulatedCaller, new_call_sid
from callcenter.storage.tables import AccessRefusal, Callback, Complaint, ServiceJob, Survey
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.telephony.twilio.rest import status_callback_url
from callcenter.telephony.twilio.webhooks import callback_flow_url
from crm.enums import ComplaintCategory, ComplaintChannel
from crm.sampling import Cadence, period_of
from crm.services import complaints as cs
from crm.services.callback_dispatch import DispatchConfig, dispatch_once
from crm.services.callback_ports import DialRequest
from crm.services.callbacks import schedule_post_repair
from crm.services.verification_samples import draw_period
from tests import factories
from tests.access.people import Org, org
from tests.callbacks import builders
from tests.callbacks.fake_carrier import ScriptedCarrier
from tests.conftest import Served

REAL = "+8613800138000"  # the customer's own number (imported)
PLANTED = "+8613700001111"  # the scored manager's phone
SHANGHAI = ZoneInfo("Asia/Shanghai")
COMPLETED = datetime(2026, 5, 17, 8, tzinfo=UTC)


class Desk:
    def __init__(self, served: Served, people: Org, http: aiohttp.ClientSession) -> None:
        self.served, self.people, self.http = served, people, http
        self.db = served.app[DB]
        self.clock: FixedClock = served.app[CLOCK]  # type: ignore[assignment]

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db)

    async def send(self, who: str, method: str, path: str,
                   body: dict[str, Any] | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.people.people[who].token}"}
        async with self.http.request(method, self.served.base_url + path, json=body,
                                     headers=headers) as resp:
            return resp.status, (await resp.json() if resp.content_type == "application/json"
                                 else await resp.text())

    async def customer(self, phones: tuple[str, ...] = (REAL,)) -> int:
        """A customer of SVC with `phones` (imported: nobody of the centre typed them) and a
        completed job of SVC."""
        row = await factories.customer(self.db, "张三", phones,
                                       department_id=self.people.departments["SVC"])
        await factories.job(self.db, row.id, f"J-{row.id}",
                            technician_id=self.people.people["technician"].staff_id,
                            department_id=self.people.departments["SVC"], completed_at=COMPLETED)
        return row.id

    async def plant(self, customer_id: int, number: str = PLANTED) -> None:
        """The scored manager puts his own phone on the record as the primary number."""
        status, body = await self.send("scored_manager", "POST",
                                       f"/api/customers/{customer_id}/phones",
                                       {"phone": number, "primary": True})
        assert status in (200, 201), body

    async def reword(self, customer_id: int, number: str) -> None:
        """The scored manager unlinks `number` and links it again: now it is his word."""
        status, body = await self.send("scored_manager", "DELETE",
                                       f"/api/customers/{customer_id}/phones/{number}")
        assert status == 204, body
        status, body = await self.send("scored_manager", "POST",
                                       f"/api/customers/{customer_id}/phones", {"phone": number})
        assert status in (200, 201), body

    async def survey_drawn(self, customer_id: int) -> int:
        """A survey an agent keyed for the customer last week, drawn for a verification call."""
        survey = await builders.survey(self.db, department_id=self.people.departments["SVC"],
                                       customer_id=customer_id,
                                       surveyed_at=datetime(2026, 5, 12, 2, tzinfo=UTC))
        week = period_of(date(2026, 5, 11), Cadence.WEEK, SHANGHAI)
        draw = await draw_period(week, self.uow(), self.clock)
        assert draw.survey_ids == (survey.id,)
        return survey.id

    async def resolved_complaint(self, customer_id: int) -> int:
        system = cs.Actor.system("test")
        opened = await cs.open_complaint(cs.OpenComplaint(
            customer_id=customer_id, channel=ComplaintChannel.PHONE_IVR,
            category=ComplaintCategory.ATTITUDE, description="rude technician", actor=system,
        ), self.uow(), clock=self.clock)
        await cs.start_complaint(cs.ComplaintStep(opened.complaint_id, system), self.uow(),
                                 clock=self.clock)
        await cs.resolve_complaint(cs.ComplaintStep(opened.complaint_id, system, "apologised"),
                                   self.uow(), clock=self.clock)
        self.clock.advance(hours=1)
        return opened.complaint_id

    async def dial(self) -> list[DialRequest]:
        """One dispatcher pass; the numbers it dialled."""
        carrier = ScriptedCarrier()
        await dispatch_once(self.uow, carrier, self.clock, DispatchConfig(worker="w1"))
        return carrier.dials

    async def answer(self, req: DialRequest, keys: list[str]) -> CallResult:
        """Whoever holds the dialled phone answers and presses `keys` (signed webhooks)."""
        settings = self.served.settings
        callee = SimulatedCaller(self.http, settings.public_base_url,
                                 settings.twilio_auth_token.get_secret_value(),
                                 from_number="+864008001234", to_number=req.number,
                                 call_sid=new_call_sid(), direction="outbound-api")
        result = await callee.call(keys, send_status=False,
                                   answer_url=callback_flow_url(settings, req.flow, req.attempt_id))
        await callee.status("completed", result, duration_s=30,
                            url=status_callback_url(settings, req.attempt_id))
        assert not result.ended_by.startswith("http-"), result.ended_by
        return result

    async def one(self, model: type, *where: Any) -> Any:
        async with self.db.sessions() as session:
            rows = list(await session.scalars(select(model).where(*where)))
        assert len(rows) == 1, rows
        return rows[0]


@pytest.fixture
async def desk(served: Served) -> AsyncIterator[Desk]:
    people = await org(served.app[DB])
    async with aiohttp.ClientSession() as http:
        yield Desk(served, people, http)


async def test_the_verification_call_rings_the_customers_own_number_not_the_planted_primary(
    desk: Desk,
) -> None:
    customer = await desk.customer()
    await desk.plant(customer)
    survey_id = await desk.survey_drawn(customer)
    (req,) = await desk.dial()
    assert (req.flow, req.number) == ("survey_verification", REAL)
    await desk.answer(req, ["1"])  # the real customer confirms the form
    assert (await desk.one(Survey, Survey.id == survey_id)).verification == "verified"


async def test_with_only_planted_numbers_the_verification_call_is_held_for_supervision(
    desk: Desk,
) -> None:
    status, made = await desk.send("scored_manager", "POST", "/api/customers", {
        "name": "王五", "phones": [PLANTED], "department_id": desk.people.departments["SVC"]})
    assert status in (200, 201), made
    survey_id = await desk.survey_drawn(made["customer_id"])
    assert await desk.dial() == []  # nobody is rung
    status, listed = await desk.send("supervisor", "GET", "/api/callbacks")
    (held,) = [cb for cb in listed["callbacks"] if cb["survey_id"] == survey_id]
    assert (held["state"], held["held"]) == ("held", "no_trustworthy_number")
    assert "added to the customer's record by the department this call judges" in held["held_reason"]
    status, refused = await desk.send("callback_staff", "POST", f"/api/callbacks/{held['id']}/call")
    assert status == 409 and "no trustworthy number" in str(refused)
    assert (await desk.one(Survey, Survey.id == survey_id)).verification == "pending"
    # an agent of the call centre adds the customer's own number: the call can go, to it
    status, _ = await desk.send("agent", "POST", f"/api/customers/{made['customer_id']}/phones",
                                {"phone": REAL})
    assert status in (200, 201)
    status, _ = await desk.send("callback_staff", "POST", f"/api/callbacks/{held['id']}/call")
    assert status == 202
    (req,) = await desk.dial()
    assert req.number == REAL


async def test_a_confirmation_on_a_number_reworded_by_the_scored_manager_mid_call_does_not_verify(
    desk: Desk,
) -> None:
    customer = await desk.customer()
    survey_id = await desk.survey_drawn(customer)
    (req,) = await desk.dial()
    assert req.number == REAL
    await desk.reword(customer, REAL)  # between the dial and the answer
    await desk.answer(req, ["1"])
    assert (await desk.one(Survey, Survey.id == survey_id)).verification == "pending"
    callback = await desk.one(Callback, Callback.survey_id == survey_id)
    assert callback.state == "held" and "this call judges" in callback.data["held_reason"]
    refusal = await desk.one(AccessRefusal, AccessRefusal.action == "survey.verify")
    assert refusal.subject == f"callback:{callback.id}"


async def test_the_post_repair_survey_call_skips_the_planted_primary(desk: Desk) -> None:
    customer = await desk.customer()
    await desk.plant(customer)
    async with desk.db.sessions() as session:
        job_id = await session.scalar(select(ServiceJob.id).where(ServiceJob.customer_id == customer))
    assert job_id is not None
    callback = await schedule_post_repair(job_id, desk.uow(), desk.clock)
    assert callback.phone == REAL
    (req,) = await desk.dial()
    assert (req.flow, req.number) == ("post_repair_survey", REAL)


async def test_a_follow_up_verdict_from_a_number_reworded_mid_call_leaves_the_complaint_resolved(
    desk: Desk,
) -> None:
    customer = await desk.customer()
    await desk.plant(customer)
    complaint_id = await desk.resolved_complaint(customer)
    (req,) = await desk.dial()
    assert (req.flow, req.number) == ("complaint_followup", REAL)
    await desk.reword(customer, REAL)
    await desk.answer(req, ["1", "1"])  # "satisfied" would close it
    complaint = await desk.one(Complaint, Complaint.id == complaint_id)
    assert (complaint.state, complaint.verdict) == ("resolved", None)
    callback = await desk.one(Callback, Callback.complaint_id == complaint_id)
    assert callback.state == "held"
