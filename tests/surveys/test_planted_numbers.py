"""A number the scored department put on a customer's record does not make a survey first-hand.

The attack: staff of the serviced department (here its manager) create a customer with a
phone number they hold, book and complete a job for it, then call the hotline from that
number and key in a glowing survey. A survey is first-hand only from a number the
department being scored did not put on the record (an import, the caller's own call, an
agent of the call centre); otherwise it waits for verification with the reason. And a
supervisor from outside may dispute a first-hand survey (with a reason, audited): it then
waits for verification too. Through the real hotline driver, on the SQLAlchemy store
(SQLite and PostgreSQL) and on PostgreSQL's batched fast path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import select

from callcenter.clock import FixedClock
from callcenter.hotline.turns import HotlineDriver
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import AccessRefusal, Survey, SurveyAudit
from callcenter.storage.turn_store_pg import PgTurnStore
from callcenter.storage.turn_store_sql import SqlTurnStore
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import Carrier, Grade, Role, SurveySource
from crm.identity import Identity, PermissionDenied
from crm.services.customers import CustomerDraft, create_customer, link_phone
from crm.services.surveys import SaveSurvey, save_survey, verify_survey
from ivr import events as ev
from tests import factories
from tests.complaints.helpers import bearer
from tests.conftest import Served

PLANTED = "+8613700001111"
AGENT_ADDED = "+8613700002222"
IMPORTED = "+8613700003333"
COMPLETED = datetime(2026, 5, 17, 8, tzinfo=UTC)


def _who(row: object, *roles: Role) -> Identity:
    return Identity(row.id, row.username, row.name, frozenset(roles), row.department_id)  # type: ignore[attr-defined]


class Shop:
    def __init__(self, db: Database, driver: HotlineDriver) -> None:
        self.db, self.driver = db, driver

    async def build(self) -> Shop:
        db = self.db
        hq = await factories.department(db, "HQ")
        self.svc = await factories.department(db, "SVC", parent_id=hq.id)
        cc = await factories.department(db, "CC", parent_id=hq.id)
        sup = await factories.department(db, "SUP", parent_id=hq.id)
        self.manager = _who(await factories.staff(db, "svc-head", ["manager"], self.svc.id), Role.MANAGER)
        self.region = _who(await factories.staff(db, "region-head", ["manager"], hq.id), Role.MANAGER)
        self.agent = _who(await factories.staff(db, "agent-wu", ["agent"], cc.id), Role.AGENT)
        self.supervisor = _who(await factories.staff(db, "inspector", ["supervisor"], sup.id),
                               Role.SUPERVISOR)
        self.region_supervisor = _who(await factories.staff(db, "region-sup", ["supervisor"], hq.id),
                                      Role.SUPERVISOR)
        self.tech = await factories.staff(db, "tech-li", ["technician"], self.svc.id)
        return self

    async def customer_with_job(self, who: Identity | None, number: str, reference: str) -> int:
        """A customer with `number` (made by `who`, in their department; None: imported)
        and a completed job of SVC for them."""
        if who is None:  # an import: nobody of the centre typed it
            row = await factories.customer(self.db, phones=(number,), department_id=self.svc.id)
            customer_id = row.id
        else:
            made = await create_customer(CustomerDraft("王五", (number,), department_id=who.department_id),
                                         SqlUnitOfWork(self.db), default_region="CN", identity=who)
            customer_id = made.customer_id
        await factories.job(self.db, customer_id, reference, technician_id=self.tech.id,
                            department_id=self.svc.id, completed_at=COMPLETED)
        return customer_id

    async def survey_call(self, sid: str, number: str) -> Survey:
        turn = await self.driver.begin(Carrier.TWILIO, sid, from_number=number,
                                       to_number="+864008001234")
        for key in ["2", "1", "1", "1", "1"]:
            turn = await self.driver.feed(Carrier.TWILIO, sid, ev.Digits(key),
                                          expected_version=turn.version)
        await self.driver.hangup(Carrier.TWILIO, sid)
        async with self.db.sessions() as session:
            survey = (await session.scalars(select(Survey).order_by(Survey.id.desc()))).first()
        assert survey is not None and survey.complete
        return survey


@pytest.fixture(params=["sqlalchemy", "batched-pg"])
async def shop(request: pytest.FixtureRequest, db: Database, settings: Settings,
               clock: FixedClock) -> AsyncIterator[Shop]:
    if request.param == "batched-pg" and db.dialect != "postgresql":
        pytest.skip("the batched fast path is PostgreSQL's")
    store = PgTurnStore(db) if request.param == "batched-pg" else SqlTurnStore(db)
    try:
        yield await Shop(db, HotlineDriver(store, settings, clock)).build()
    finally:
        await store.close()


async def test_a_number_the_scored_department_put_on_the_record_leaves_the_survey_pending(
    shop: Shop,
) -> None:
    await shop.customer_with_job(shop.manager, PLANTED, "J-PLANTED")
    survey = await shop.survey_call("CA-planted", PLANTED)
    assert survey.verification == "pending"
    assert survey.pending_reason is not None and "added to the customer's record by the serviced" \
        " department" in survey.pending_reason


async def test_numbers_added_by_the_region_managing_the_department_leave_it_pending_too(
    shop: Shop,
) -> None:
    customer_id = await shop.customer_with_job(shop.region, IMPORTED, "J-REGION")
    await link_phone(customer_id, PLANTED, SqlUnitOfWork(shop.db), default_region="CN",
                     identity=shop.region)
    assert (await shop.survey_call("CA-region", PLANTED)).verification == "pending"
    assert (await shop.survey_call("CA-own", IMPORTED)).verification == "pending"


async def test_numbers_imported_or_added_by_the_call_centre_stay_first_hand(shop: Shop) -> None:
    await shop.customer_with_job(None, IMPORTED, "J-IMPORTED")
    await shop.customer_with_job(shop.agent, AGENT_ADDED, "J-AGENT")
    assert (await shop.survey_call("CA-imported", IMPORTED)).verification == "first_hand"
    assert (await shop.survey_call("CA-agent", AGENT_ADDED)).verification == "first_hand"


async def test_an_outside_supervisor_disputes_a_first_hand_survey_and_it_goes_to_verification(
    shop: Shop,
) -> None:
    await shop.customer_with_job(None, IMPORTED, "J-DOUBT")
    survey = await shop.survey_call("CA-doubt", IMPORTED)
    assert survey.verification == "first_hand"
    at = datetime(2026, 5, 18, 3, tzinfo=UTC)
    with pytest.raises(PermissionDenied):  # the region above the department has a stake
        await verify_survey(survey.id, False, shop.region_supervisor, at, SqlUnitOfWork(shop.db),
                            note="looks staged")
    with pytest.raises(ValueError, match="reason"):
        await verify_survey(survey.id, False, shop.supervisor, at, SqlUnitOfWork(shop.db))
    after = await verify_survey(survey.id, False, shop.supervisor, at, SqlUnitOfWork(shop.db),
                                note="the customer says he never called")
    assert after.verification.value == "pending"
    assert after.pending_reason and "never called" in after.pending_reason
    async with shop.db.sessions() as session:
        audit = (await session.scalars(select(SurveyAudit).where(SurveyAudit.survey_id == survey.id)
                                       .order_by(SurveyAudit.id))).all()
        refusal = (await session.scalars(select(AccessRefusal))).one()
    assert [a.action for a in audit] == ["created", "disputed_first_hand"]
    assert (audit[-1].actor_id, refusal.staff_id) == (shop.supervisor.staff_id,
                                                     shop.region_supervisor.staff_id)


async def test_disputing_a_first_hand_survey_through_the_api_needs_a_reason(
    served: Served, db: Database,
) -> None:
    svc = await factories.department(db, "SVC")
    sup = await factories.department(db, "SUP")
    supervisor = await factories.staff(db, "inspector", ["supervisor"], sup.id)
    tech = await factories.staff(db, "tech-li", ["technician"], svc.id)
    customer = await factories.customer(db, phones=(IMPORTED,), department_id=svc.id)
    job = await factories.job(db, customer.id, "J-API", technician_id=tech.id, department_id=svc.id,
                              completed_at=COMPLETED)
    saved = await save_survey(SaveSurvey(job.id, SurveySource.IVR, {
        "timeliness": Grade.A, "quality": Grade.A, "attitude": Grade.A},
        datetime(2026, 5, 17, 9, tzinfo=UTC), number=IMPORTED), SqlUnitOfWork(db))
    assert saved.verification.value == "first_hand"
    url = f"{served.base_url}/api/reports/surveys/{saved.id}/verify"
    headers = await bearer(db, supervisor)
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"confirmed": "dispute"}, headers=headers) as bare:
            assert bare.status == 422
        async with http.post(url, json={"confirmed": True}, headers=headers) as confirm:
            assert confirm.status == 409  # a first-hand survey needs no confirming
        async with http.post(url, json={"confirmed": "dispute", "note": "customer denies calling"},
                             headers=headers) as disputed:
            assert (disputed.status, (await disputed.json())["verification"]) == (200, "pending")
