"""Surveys on both engines: first-hand vs pending, verification by supervisors only, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from callcenter.storage.tables import Callback, Survey, SurveyAudit
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import Grade, Role, SurveySource, SurveyVerification
from crm.identity import Identity, PermissionDenied
from crm.services import surveys
from crm.services.callbacks import record_verification
from crm.services.verification_samples import draw_verification_samples
from crm.surveys import InvalidGrade, parse_grade
from tests import factories

T0 = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)
AGENT = Identity(98, "agent-wu", "吴小姐", frozenset({Role.AGENT}))
ALL_A = {"timeliness": Grade.A, "quality": Grade.A, "attitude": Grade.A}


async def _job(db: Database) -> int:
    dep = await factories.department(db, "SVC-N")
    tech = await factories.staff(db, "tech-li", ["technician"], dep.id)
    cust = await factories.customer(db)
    job = await factories.job(db, cust.id, "J-9", technician_id=tech.id, department_id=dep.id)
    return job.id


def test_keypad_one_is_a_and_five_is_e() -> None:
    assert parse_grade("1") is Grade.A and parse_grade(5) is Grade.E and parse_grade("c") is Grade.C
    with pytest.raises(InvalidGrade):
        parse_grade("6")


CUSTOMER_NUMBER = "+8613800138000"  # factories.customer's phone


async def test_an_ivr_survey_is_first_hand_and_takes_department_and_technician_from_the_job(db: Database) -> None:
    job_id = await _job(db)
    saved = await surveys.save_survey(surveys.SaveSurvey(
        job_id, SurveySource.IVR, ALL_A, T0, number=CUSTOMER_NUMBER), SqlUnitOfWork(db))
    assert saved.verification == SurveyVerification.FIRST_HAND and saved.complete
    assert saved.pending_reason is None
    assert saved.department_id is not None and saved.staff_id is not None
    assert saved.counts_in_score and saved.points == 6


async def test_an_ivr_survey_keyed_from_a_strangers_number_is_pending_with_the_reason(
        db: Database) -> None:
    job_id = await _job(db)
    saved = await surveys.save_survey(surveys.SaveSurvey(
        job_id, SurveySource.IVR, ALL_A, T0, number="+8613999990000"), SqlUnitOfWork(db))
    assert saved.verification == SurveyVerification.PENDING and not saved.counts_in_score
    assert saved.pending_reason == (
        "IVR survey keyed for job J-9 from +86139****0000, which is not a number on that "
        "job's customer record")
    async with db.sessions() as session:
        audit = await session.scalar(select(SurveyAudit).where(SurveyAudit.survey_id == saved.id))
    assert audit is not None and audit.after["pending_reason"] == saved.pending_reason


async def test_a_callback_survey_placed_to_a_withheld_number_is_pending(db: Database) -> None:
    job_id = await _job(db)
    saved = await surveys.save_survey(surveys.SaveSurvey(
        job_id, SurveySource.CALLBACK, ALL_A, T0, number=None), SqlUnitOfWork(db))
    assert saved.verification == SurveyVerification.PENDING
    assert "withheld or unknown number" in (saved.pending_reason or "")


async def test_a_survey_with_two_answers_is_kept_but_incomplete(db: Database) -> None:
    job_id = await _job(db)
    saved = await surveys.save_survey(
        surveys.SaveSurvey(job_id, SurveySource.IVR, {"timeliness": Grade.B, "quality": Grade.C}, T0),
        SqlUnitOfWork(db),
    )
    assert not saved.complete and not saved.counts_in_score and saved.attitude is None


async def test_an_agent_keyed_survey_counts_only_once_a_supervisor_verifies_it(db: Database) -> None:
    job_id = await _job(db)
    saved = await surveys.save_survey(surveys.SaveSurvey(job_id, SurveySource.AGENT, ALL_A, T0), SqlUnitOfWork(db))
    assert saved.verification == SurveyVerification.PENDING and not saved.counts_in_score
    with pytest.raises(PermissionDenied):
        await surveys.verify_survey(saved.id, True, AGENT, T0, SqlUnitOfWork(db))
    inspector = await factories.staff(db, "inspector", ["supervisor"])
    supervisor = Identity(inspector.id, "inspector", "冯监察", frozenset({Role.SUPERVISOR}))
    verified = await surveys.verify_survey(saved.id, True, supervisor, T0, SqlUnitOfWork(db))
    assert verified.verification == SurveyVerification.VERIFIED and verified.counts_in_score
    async with db.sessions() as session:
        actions = (await session.scalars(select(SurveyAudit.action).order_by(SurveyAudit.id))).all()
    assert actions == ["created", "verified"]


async def test_a_customer_contradicting_the_form_on_a_callback_disputes_it(db: Database) -> None:
    job_id = await _job(db)
    saved = await surveys.save_survey(surveys.SaveSurvey(job_id, SurveySource.PAPER, ALL_A, T0), SqlUnitOfWork(db))
    clock = FixedClock(datetime.now(UTC) + timedelta(days=8))  # its arrival week has ended: drawn
    await draw_verification_samples(SqlUnitOfWork(db), clock)
    async with db.sessions() as session:
        cb_id = await session.scalar(select(Callback.id).where(Callback.survey_id == saved.id))
    assert await record_verification(saved.id, False, SqlUnitOfWork(db), clock,
                                     callback_id=cb_id) == "disputed"
    async with db.sessions() as session:
        survey = await session.get(Survey, saved.id)
    assert survey is not None and survey.verification == SurveyVerification.DISPUTED


async def test_the_survey_audit_can_not_be_rewritten(db: Database) -> None:
    job_id = await _job(db)
    await surveys.save_survey(surveys.SaveSurvey(job_id, SurveySource.AGENT, ALL_A, T0), SqlUnitOfWork(db))
    async with db.sessions() as session:
        with pytest.raises((DBAPIError, IntegrityError)):
            await session.execute(text("UPDATE survey_audit SET action = 'nothing happened'"))
            await session.commit()


async def test_the_caller_rates_their_latest_completed_job(db: Database) -> None:
    cust = await factories.customer(db)
    await factories.job(db, cust.id, "J-old", completed_at=datetime(2026, 5, 1, tzinfo=UTC))
    await factories.job(db, cust.id, "J-new", completed_at=datetime(2026, 5, 10, tzinfo=UTC))
    job = await surveys.find_job_for_caller(cust.id, None, SqlUnitOfWork(db))
    assert job is not None and job.reference == "J-new"
    assert await surveys.find_job_for_caller(cust.id, "J-404", SqlUnitOfWork(db)) is None


async def test_a_survey_of_a_job_not_completed_by_then_is_refused_and_nothing_is_stored(
        db: Database) -> None:
    from crm.surveys import JobNotServiced

    job_id = await _job(db)  # completed 2026-05-17 08:00 UTC
    early = datetime(2026, 5, 17, 7, 0, tzinfo=UTC)
    with pytest.raises(JobNotServiced, match="J-9 was not completed by"):
        await surveys.save_survey(surveys.SaveSurvey(job_id, SurveySource.PAPER, ALL_A, early),
                                  SqlUnitOfWork(db))
    async with db.sessions() as session:
        assert (await session.scalars(select(SurveyAudit))).all() == []
    assert await surveys.find_job_for_caller(None, "J-9", SqlUnitOfWork(db), at=early) is None
    assert await surveys.find_job_for_caller(None, "J-9", SqlUnitOfWork(db), at=T0) is not None
