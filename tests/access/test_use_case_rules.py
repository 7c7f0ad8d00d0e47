"""The checks live in the use cases: called directly, with no route in front, a person
without the role or outside the department is refused, nothing is written and the
refusal is stored. And the names that decide access are read in one spelling.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from callcenter.storage.tables import AccessRefusal, Complaint, Customer, Lead, ServiceJob, Survey
from callcenter.storage.uow import SqlUnitOfWork
from crm.access import (
    InvalidChoice,
    normal_text,
    parse_decision,
    parse_id,
    parse_role,
    parse_roles,
)
from crm.enums import ComplaintCategory, ComplaintChannel, Grade, Role, SurveySource
from crm.identity import Identity, PermissionDenied
from crm.records import Known, RowError, parse_staff
from crm.services.callbacks import record_verification
from crm.services.complaints import Actor, OpenComplaint, open_complaint
from crm.services.customers import CustomerDraft, JobRecord, add_job, create_customer
from crm.services.leads import NewLead, record_latent_need
from crm.services.surveys import SaveSurvey, correct_survey, save_survey, verify_survey
from tests import factories

AT = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)


# -- one spelling -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["supervisor", " Supervisor ", "SUPERVISOR", "ｓｕｐｅｒｖｉｓｏｒ",
                                  "super\u200bvisor", "supervisor\n"])
def test_a_role_name_in_any_spelling_is_that_role(text: str) -> None:
    assert parse_role(text) is Role.SUPERVISOR


@pytest.mark.parametrize("text", ["sup\u0435rvisor", "аdmin", "superviser", "admin!", ""])
def test_a_lookalike_or_unknown_role_name_is_no_role(text: str) -> None:
    with pytest.raises(InvalidChoice):
        parse_role(text)
    assert parse_roles([text]) == frozenset()


def test_roles_read_from_a_staff_row_grant_only_what_they_name() -> None:
    assert parse_roles([" Callback-Staff", "ＡＤＭＩＮ", "\u0430dmin", None]) == {  # type: ignore[list-item]
        Role.CALLBACK_STAFF, Role.ADMIN}


def test_ids_and_decisions_typed_by_people() -> None:
    assert parse_id("１２", "id") == 12 and parse_id(" 007 ", "id") == 7 and parse_id(5, "id") == 5
    for bad in ("1e3", "-1", "0", "Ⅻ", "\u0661\u0662", str(2**31), "12x", True):
        with pytest.raises(InvalidChoice):
            parse_id(bad, "id")
    assert parse_decision("ＶＥＲＩＦＹ") is True and parse_decision("有异议") is False
    with pytest.raises(InvalidChoice):
        parse_decision("v\u0435rify")
    assert normal_text("  Ｓ\u200bVC   North ") == "svc north"


def test_a_staff_import_reads_roles_in_one_spelling_and_refuses_lookalikes() -> None:
    known = Known(departments={"SUP"})
    row = {"username": "feng", "name": "冯", "department": "SUP", "roles": " Supervisor ；Callback-Staff"}
    assert parse_staff(row, known).roles == (Role.SUPERVISOR, Role.CALLBACK_STAFF)
    with pytest.raises(RowError):
        parse_staff({**row, "roles": "sup\u0435rvisor"}, known)


# -- checked in the use case, refusals stored ------------------------------------------------


async def _count(db: Database, table: type) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


def _person(staff_id: int, role: str, department_id: int | None) -> Identity:
    return Identity(staff_id, f"p{staff_id}", f"p{staff_id}", frozenset({Role(role)}), department_id)


async def test_use_cases_refuse_the_wrong_role_store_the_refusal_and_write_nothing(
    db: Database,
) -> None:
    svc = await factories.department(db, "SVC")
    sup = await factories.department(db, "SUP")
    technician = await factories.staff(db, "tech", ["technician"], svc.id)
    keyer = await factories.staff(db, "keyer", ["agent"], svc.id)
    customer = await factories.customer(db, department_id=svc.id)
    job = await factories.job(db, customer.id, "J-1", department_id=svc.id,
                              technician_id=technician.id)
    survey = await save_survey(SaveSurvey(job.id, SurveySource.AGENT, {
        "timeliness": Grade.A, "quality": Grade.A, "attitude": Grade.A}, AT, entered_by=keyer.id),
        SqlUnitOfWork(db))
    tech = _person(technician.id, "technician", svc.id)
    attempts = [
        (create_customer(CustomerDraft("new", ("13900139000",)), SqlUnitOfWork(db),
                         default_region="CN", identity=tech), Customer, 1),
        (add_job(JobRecord(None, "J-2", customer.id), SqlUnitOfWork(db),
                 identity=_person(90, "callback_staff", None)), ServiceJob, 1),
        (record_latent_need(NewLead(customer.id, "a boiler", 2, technician.id, None),
                            SqlUnitOfWork(db), at=AT, identity=_person(91, "supervisor", sup.id)),
         Lead, 0),
        (open_complaint(OpenComplaint(customer.id, ComplaintChannel.AGENT,
                                      ComplaintCategory.ATTITUDE, "rude", actor=Actor.of(tech)),
                        SqlUnitOfWork(db), clock=FixedClock(AT)), Complaint, 0),
        (verify_survey(survey.id, True, _person(92, "admin", None), AT, SqlUnitOfWork(db)),
         Survey, 1),
        (verify_survey(survey.id, True, Identity(keyer.id, "keyer", "k", frozenset(
            {Role.SUPERVISOR}), sup.id), AT, SqlUnitOfWork(db)), Survey, 1),  # keyed it in
        (correct_survey(survey.id, {"attitude": Grade.E}, _person(93, "supervisor", svc.id), AT,
                        SqlUnitOfWork(db), reason="call"), Survey, 1),
        (record_verification(survey.id, False, SqlUnitOfWork(db), FixedClock(AT)), Survey, 1),
    ]
    for n, (attempt, table, rows) in enumerate(attempts, start=1):
        with pytest.raises(PermissionDenied):
            await attempt
        assert await _count(db, table) == rows, table
        assert await _count(db, AccessRefusal) == n
    async with db.sessions() as session:
        stored = await session.get(Survey, survey.id)
        refusals = (await session.scalars(select(AccessRefusal).order_by(AccessRefusal.id))).all()
    assert stored is not None and stored.verification == "pending" and stored.attitude == "A"
    assert [r.action for r in refusals] == [
        "customer.create", "job.add", "lead.record", "complaint.open", "survey.verify",
        "survey.verify", "survey.correct", "survey.dispute"]
    assert refusals[0].staff_id == technician.id and refusals[0].subject is None
    assert refusals[-1].actor == "verification-call" and refusals[-1].subject == f"survey:{survey.id}"


async def test_another_departments_manager_cannot_work_a_complaint_and_the_attempt_is_kept(
    db: Database,
) -> None:
    from crm.services.complaints import (
        ComplaintStep,
        assign_complaint,
        resolve_complaint,
        start_complaint,
    )

    svc = await factories.department(db, "SVC")
    other = await factories.department(db, "OTHER")
    manager = await factories.staff(db, "boss-other", ["manager"], other.id)
    customer = await factories.customer(db, department_id=svc.id)
    job = await factories.job(db, customer.id, "J-1", department_id=svc.id)
    clock = FixedClock(AT)
    opened = await open_complaint(OpenComplaint(customer.id, ComplaintChannel.AGENT,
                                                ComplaintCategory.ATTITUDE, "rude", job_id=job.id),
                                  SqlUnitOfWork(db), clock=clock)
    outsider = Actor.of(_person(manager.id, "manager", other.id))
    step = ComplaintStep(opened.complaint_id, outsider, "done")
    for attempt in (assign_complaint(opened.complaint_id, manager.id, outsider, SqlUnitOfWork(db),
                                     clock=clock),
                    start_complaint(step, SqlUnitOfWork(db), clock=clock),
                    resolve_complaint(step, SqlUnitOfWork(db), clock=clock)):
        with pytest.raises(PermissionDenied):
            await attempt
    async with db.sessions() as session:
        row = await session.get(Complaint, opened.complaint_id)
        actions = (await session.scalars(select(AccessRefusal.action).order_by(AccessRefusal.id))).all()
    assert row is not None and row.state == "new" and row.owner_id is None
    assert actions == ["complaint.assign", "complaint.start", "complaint.resolve"]
