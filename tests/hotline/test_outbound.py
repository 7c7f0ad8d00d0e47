"""Outbound callback calls through the hotline driver, on both engines: the
dispatcher dials (fake carrier), the callee answers, keys land on the survey,
the complaint and the callback, with a contact on the customer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from callcenter.clock import FixedClock
from callcenter.hotline.turns import FLOWS, HotlineDriver, Turn
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import (
    Call,
    Callback,
    Complaint,
    Contact,
    Customer,
    Department,
    Survey,
    SurveyAudit,
)
from callcenter.storage.turn_store_sql import SqlTurnStore
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import (
    CallbackKind,
    Carrier,
    ComplaintCategory,
    ComplaintChannel,
    DialOutcome,
    Direction,
)
from crm.services import callbacks as cbs
from crm.services import complaints as cs
from crm.services.callback_dispatch import DispatchConfig, dispatch_once
from crm.services.callback_ports import DEFAULT_FLOWS, DialRequest, NewCallback
from ivr import actions as act
from ivr import events as ev
from tests import factories
from tests.callbacks.fake_carrier import ScriptedCarrier

CUSTOMER = "+8613800138000"
CENTRE = "+864008001234"


@dataclass
class World:
    db: Database
    clock: FixedClock
    driver: HotlineDriver
    customer_id: int
    job_id: int

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db)


async def _world(db: Database, settings: Settings, clock: FixedClock, language: str = "zh-CN") -> World:
    dep = await factories.department(db, "SVC")
    head = await factories.staff(db, "svc-head", ["manager"], dep.id)
    async with db.sessions() as session:
        row = await session.get(Department, dep.id)
        assert row is not None
        row.manager_id = head.id
        await session.commit()
    tech = await factories.staff(db, "tech-li", ["technician"], dep.id)
    customer = await factories.customer(db, "张三", (CUSTOMER,), department_id=dep.id)
    if language != "zh-CN":
        async with db.sessions() as session:
            row = await session.get(Customer, customer.id)
            assert row is not None
            row.language = language
            await session.commit()
    job = await factories.job(db, customer.id, "880042", technician_id=tech.id,
                              department_id=dep.id, completed_at=datetime(2026, 5, 17, 8, tzinfo=UTC))
    return World(db, clock, HotlineDriver(SqlTurnStore(db), settings, clock), customer.id, job.id)


async def _dial(w: World, answered: bool = True) -> DialRequest:
    """The dispatcher dials the one due callback; the carrier reports the answer."""
    carrier = ScriptedCarrier()
    sent = await dispatch_once(w.uow, carrier, w.clock, DispatchConfig(worker="w1"))
    assert sent == 1, "exactly one callback should have been due"
    req = carrier.dials[0]
    if answered:
        await cbs.record_dial_result(req.attempt_id, DialOutcome.ANSWERED, "CA-out", w.uow(), w.clock)
    return req


async def _answer(w: World, req: DialRequest, keys: list[Any], sid: str = "CA-out",
                  to_number: str = CUSTOMER) -> list[Turn]:
    """The callee answers: the carrier adapter begins the flow and feeds the keys."""
    turns = [await w.driver.begin(Carrier.TWILIO, sid, from_number=CENTRE, to_number=to_number,
                                  flow=req.flow, callback_attempt_id=req.attempt_id)]
    for key in keys:
        if key == "HANGUP":
            await w.driver.hangup(Carrier.TWILIO, sid)
            break
        event = ev.Digits(key) if isinstance(key, str) else key
        turns.append(await w.driver.feed(Carrier.TWILIO, sid, event,
                                         expected_version=turns[-1].version))
    return turns


async def _one(db: Database, model: type, *where: Any) -> Any:
    async with db.sessions() as session:
        rows = list(await session.scalars(select(model).where(*where)))
    assert len(rows) == 1, f"expected one {model.__name__}, got {len(rows)}"
    return rows[0]


async def _resolved_complaint(w: World) -> int:
    system = cs.Actor.system("test")
    opened = await cs.open_complaint(cs.OpenComplaint(
        customer_id=w.customer_id, channel=ComplaintChannel.PHONE_IVR,
        category=ComplaintCategory.ATTITUDE, description="rude technician", actor=system,
    ), w.uow(), clock=w.clock)
    await cs.start_complaint(cs.ComplaintStep(opened.complaint_id, system), w.uow(), clock=w.clock)
    await cs.resolve_complaint(cs.ComplaintStep(opened.complaint_id, system, "apologised"),
                               w.uow(), clock=w.clock)
    return opened.complaint_id


async def _survey_to_verify(w: World) -> int:
    """An agent keyed a survey for the customer; it is picked for a verification call."""
    from crm.enums import Grade, SurveySource
    from crm.services.surveys import SaveSurvey, save_survey

    survey = await save_survey(SaveSurvey(
        job_id=w.job_id, source=SurveySource.AGENT, at=w.clock(),
        grades={"timeliness": Grade.A, "quality": Grade.A, "attitude": Grade.B},
    ), w.uow())
    async with w.uow() as uow:
        now = w.clock()
        await uow.callbacks.add(NewCallback(
            source_key=f"verify:{survey.id}", kind=CallbackKind.SURVEY_VERIFICATION,
            phone=CUSTOMER, timezone="Asia/Shanghai", priority=2, due_at=now,
            deadline_at=now + timedelta(days=7), next_attempt_at=now,
            customer_id=w.customer_id, survey_id=survey.id,
        ))
        await uow.commit()
    return survey.id


# --- post-repair -----------------------------------------------------------------------------


async def test_a_post_repair_callback_stores_a_first_hand_survey_and_completes(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    w = await _world(db, settings, clock)
    await cbs.schedule_post_repair(w.job_id, w.uow(), clock)
    req = await _dial(w)
    assert req.flow == "post_repair_survey"
    turns = await _answer(w, req, ["1", "2", "1", "1"])
    assert turns[-1].ended
    survey = await _one(db, Survey)
    assert (survey.timeliness, survey.quality, survey.attitude) == ("A", "B", "A")
    assert survey.complete and survey.source == "callback" and survey.verification == "first_hand"
    assert survey.job_id == w.job_id and survey.customer_id == w.customer_id
    callback = await _one(db, Callback)
    assert (callback.state, callback.disposition) == ("completed", "surveyed")
    contact = await _one(db, Contact, Contact.subject == "callback:post_repair")
    assert contact.customer_id == w.customer_id and contact.disposition == "surveyed"
    assert contact.summary and "repair_quality B" in contact.summary


async def test_a_post_repair_survey_answered_on_a_number_not_on_the_record_waits_for_verification(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    w = await _world(db, settings, clock)
    await cbs.schedule_post_repair(w.job_id, w.uow(), clock)
    req = await _dial(w)
    await _answer(w, req, ["1", "2", "1", "1"], to_number="+8613911112222")
    survey = await _one(db, Survey)
    assert survey.complete and survey.source == "callback" and survey.verification == "pending"
    assert survey.pending_reason is not None and survey.pending_reason.startswith(
        "callback survey keyed for job ") and "+86139****2222" in survey.pending_reason


async def test_the_outbound_call_is_logged_against_the_customer_with_its_attempt(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    w = await _world(db, settings, clock)
    await cbs.schedule_post_repair(w.job_id, w.uow(), clock)
    req = await _dial(w)
    turns = await _answer(w, req, [])
    said = [m for m in turns[0].media if isinstance(m, act.SayDigits)]
    assert said == [act.SayDigits("880042")]  # the greeting names the service job
    call = await _one(db, Call)
    assert call.direction == Direction.OUTBOUND and call.customer_id == w.customer_id
    assert call.callback_attempt_id == req.attempt_id and call.to_number == CUSTOMER


async def test_without_a_flow_the_callback_chooses_it_and_the_customers_language_is_spoken(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    w = await _world(db, settings, clock, language="en")
    await cbs.schedule_post_repair(w.job_id, w.uow(), clock)
    req = await _dial(w)
    turn = await w.driver.begin(Carrier.TWILIO, "CA-noflow", from_number=CENTRE,
                                to_number=CUSTOMER, callback_attempt_id=req.attempt_id)
    assert turn.language == "en"
    assert any(isinstance(m, act.Gather) and m.node == "survey_timeliness" for m in turn.media)


async def test_a_callee_who_hangs_up_mid_way_leaves_a_partial_survey_and_a_completed_callback(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    w = await _world(db, settings, clock)
    await cbs.schedule_post_repair(w.job_id, w.uow(), clock)
    req = await _dial(w, answered=False)  # the answer report has not arrived yet
    await _answer(w, req, ["3", "HANGUP"])
    survey = await _one(db, Survey)
    assert survey.timeliness == "C" and not survey.complete
    callback = await _one(db, Callback)
    assert (callback.state, callback.disposition) == ("completed", "partial_survey")
    # the carrier's late reports change nothing
    assert await cbs.record_call_ended(req.attempt_id, w.uow(), clock) is None
    assert await cbs.record_dial_result(req.attempt_id, DialOutcome.ANSWERED, "CA-out",
                                        w.uow(), clock) is None
    callback = await _one(db, Callback)
    assert (callback.state, callback.disposition) == ("completed", "partial_survey")


async def test_asking_for_an_agent_leaves_the_callback_in_call_for_the_agent(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    w = await _world(db, settings, clock)
    await cbs.schedule_post_repair(w.job_id, w.uow(), clock)
    req = await _dial(w)
    turns = await _answer(w, req, ["0"])
    assert turns[-1].transfer is not None
    callback = await _one(db, Callback)
    assert callback.state == "in_call" and callback.disposition is None


# --- complaint follow-up -------------------------------------------------------------------


async def test_a_not_satisfied_follow_up_reopens_the_complaint_and_records_the_verdict(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    w = await _world(db, settings, clock)
    complaint_id = await _resolved_complaint(w)
    clock.advance(hours=1)
    req = await _dial(w)
    assert req.flow == "complaint_followup"
    turns = await _answer(w, req, ["2", "4"])
    complaint = await _one(db, Complaint)
    assert complaint.id == complaint_id
    assert complaint.state == "reopened" and complaint.verdict == "dissatisfied"
    assert complaint.severity == "major"
    digits = [m for t in turns for m in t.media if isinstance(m, act.SayDigits)]
    assert digits[0].digits == complaint.ticket
    assert any(isinstance(m, act.Say) and m.prompt_id == "followup_thanks_no"
               for m in turns[-1].media)
    callback = await _one(db, Callback)
    assert (callback.state, callback.disposition) == ("completed", "dissatisfied")
    contact = await _one(db, Contact, Contact.subject == "callback:complaint_followup")
    assert contact.complaint_id == complaint_id and "service grade: D" in (contact.summary or "")


async def test_a_satisfied_follow_up_closes_the_complaint(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    w = await _world(db, settings, clock)
    await _resolved_complaint(w)
    clock.advance(hours=1)
    await _answer(w, await _dial(w), ["1", "1"])
    complaint = await _one(db, Complaint)
    assert complaint.state == "closed" and complaint.verdict == "satisfied"
    callback = await _one(db, Callback)
    assert callback.disposition == "satisfied"


# --- survey verification -------------------------------------------------------------------


async def test_a_verification_not_correct_disputes_the_survey_with_the_customers_grades(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    w = await _world(db, settings, clock)
    survey_id = await _survey_to_verify(w)
    req = await _dial(w)
    assert req.flow == "survey_verification"
    turns = await _answer(w, req, ["2", "1", "3", "3", "4", "1"])
    question = next(m for m in turns[0].media if isinstance(m, act.Gather))
    assert question.prompt_ids[1:7] == ("item_timeliness", "grade_A", "item_repair_quality",
                                        "grade_A", "item_attitude", "grade_B")
    survey = await _one(db, Survey)
    assert survey.verification == "disputed"
    assert (survey.timeliness, survey.quality, survey.attitude) == ("A", "A", "B")  # form kept
    audits = await _audit_notes(db, survey_id)
    assert any("timeliness C, repair_quality C, attitude D" in note for note in audits)
    callback = await _one(db, Callback)
    assert (callback.state, callback.disposition) == ("completed", "disputed")
    await _one(db, Contact, Contact.subject == "callback:survey_verification")


async def test_a_verification_correct_verifies_the_survey(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    w = await _world(db, settings, clock)
    await _survey_to_verify(w)
    await _answer(w, await _dial(w), ["1"])
    survey = await _one(db, Survey)
    assert survey.verification == "verified"
    callback = await _one(db, Callback)
    assert (callback.state, callback.disposition) == ("completed", "confirmed")
    contact = await _one(db, Contact, Contact.subject == "callback:survey_verification")
    assert contact.disposition == "confirmed"


async def _audit_notes(db: Database, survey_id: int) -> list[str]:
    async with db.sessions() as session:
        rows = await session.scalars(select(SurveyAudit).where(SurveyAudit.survey_id == survey_id))
        return [str((row.after or {}).get("note")) for row in rows]


# --- registry ------------------------------------------------------------------------------


def test_every_callback_kind_but_campaigns_has_its_flow_registered() -> None:
    wanted: Callable[[CallbackKind], bool] = lambda kind: kind is not CallbackKind.CAMPAIGN  # noqa: E731
    missing = {DEFAULT_FLOWS[k] for k in DEFAULT_FLOWS if wanted(k)} - set(FLOWS)
    assert missing == set()
