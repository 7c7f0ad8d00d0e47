"""Published supervision figures are frozen; reruns are versions with a diff (issue 14 item 6)."""

from __future__ import annotations

import pytest
import sqlalchemy
from sqlalchemy import func, select, update

from callcenter.reporting import builders, publication, runs, schedule, versions
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import AccessRefusal, ReportVersion, Survey
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import Role
from crm.identity import Identity, PermissionDenied
from crm.services import surveys as survey_service
from reports.periods import Month
from tests import factories

from . import helpers
from .helpers import local, raw_surveys, shop

MAY, APRIL = Month(2026, 5), Month(2026, 4)
ON_THE_5TH = local("2026-06-05 08:00")


def _department(payload_or_figures: dict, department_id: int) -> dict:  # type: ignore[type-arg]
    supervision = payload_or_figures.get("supervision", payload_or_figures)
    return next(d for d in supervision["departments"] if d["department_id"] == department_id)


async def _versions(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ReportVersion)) or 0)


async def test_publishing_stores_the_figures_and_a_rerun_makes_a_draft_with_the_reason(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 2)  # 6 points each
    first = await publication.publish(db, settings, MAY, s.supervisor_identity, ON_THE_5TH)
    assert first.version == 1 and first.published_by == f"staff:{s.supervisor.id}"
    (late,) = await factories.add(db, Survey(
        department_id=s.department_id, staff_id=s.technician.id, surveyed_at=local("2026-05-30 09:00"),
        source="ivr", verification="first_hand", complete=True, timeliness="E", quality="E",
        attitude="E", created_at=local("2026-06-07 10:00")))
    draft, made = await publication.make_version(db, settings, MAY, local("2026-06-08 09:00"),
                                                 "staff:99")
    assert made and draft.version == 2 and draft.published_at is None
    assert draft.diff is not None and draft.diff["against"] == 1
    assert draft.diff["reasons"] == {"late survey": 1}
    assert [c["survey_id"] for c in draft.diff["surveys"]] == [late.id]
    moved = {f["figure"]: (f["before"], f["after"]) for f in draft.diff["figures"]}
    assert moved["surveys counted"] == (2, 3) and moved["average"] == ("6", "2")
    published = await versions.published_version(db, str(MAY))
    assert published is not None and published.version == 1
    assert _department(published.figures, s.department_id)["satisfaction"]["average"] == "6"


async def test_a_rerun_with_nothing_changed_adds_no_version(db: Database, settings: Settings) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAB", local("2026-05-10 09:00"), 3)
    await publication.publish(db, settings, MAY, s.supervisor_identity, ON_THE_5TH)
    again, made = await publication.make_version(db, settings, MAY, ON_THE_5TH, "staff:1")
    assert not made and again.version == 1
    assert await _versions(db) == 1


async def test_the_previous_months_average_is_read_from_its_published_version(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-04-10 09:00"), 2)  # April average 6
    await raw_surveys(db, s, "BBB", local("2026-05-10 09:00"), 2)  # May average 3
    await publication.publish(db, settings, APRIL, s.supervisor_identity, local("2026-05-05 08:00"))
    await raw_surveys(db, s, "EEE", local("2026-04-20 09:00"), 2)  # April surveys after publishing
    payload = await builders.supervision(db, settings, MAY)
    satisfaction = _department(payload, s.department_id)["satisfaction"]
    assert satisfaction["previous_average"] == "6"  # not (12 - 12) / 4 = 0
    assert satisfaction["delta"] == "-3" and satisfaction["outcome"] == "penalty"
    assert payload["previous_month"] == {"month": "2026-04", "source": "published", "version": 1}


async def test_without_a_published_previous_month_the_average_is_computed_and_says_so(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-04-10 09:00"), 2)
    payload = await builders.supervision(db, settings, MAY)
    assert payload["previous_month"]["source"] == "computed"
    assert _department(payload, s.department_id)["satisfaction"]["previous_average"] == "6"


@pytest.mark.parametrize(("roles", "in_scored_department"), [
    (["manager"], True), (["agent"], True), (["technician"], True), (["callback_staff"], False),
    (["admin"], False), (["supervisor"], True)])
async def test_only_a_supervisor_from_outside_the_scored_departments_publishes(
    db: Database, settings: Settings, roles: list[str], in_scored_department: bool
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 1)
    department = s.department_id if in_scored_department else None
    person = await factories.staff(db, "someone", roles, department)
    actor = Identity(person.id, person.username, person.name, frozenset(Role(r) for r in roles),
                     department)
    with pytest.raises(PermissionDenied):
        await publication.publish(db, settings, MAY, actor, ON_THE_5TH)
    assert await _versions(db) == 0
    async with db.sessions() as session:
        (refusal,) = (await session.scalars(select(AccessRefusal))).all()
    assert (refusal.staff_id, refusal.action, refusal.subject) == (
        person.id, "report.publish", "supervision:2026-05")


async def test_only_the_latest_version_can_be_published(db: Database, settings: Settings) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 1)
    await publication.make_version(db, settings, MAY, ON_THE_5TH, "staff:1")
    await raw_surveys(db, s, "CCC", local("2026-05-11 09:00"), 1)
    await publication.make_version(db, settings, MAY, ON_THE_5TH, "staff:1")
    with pytest.raises(publication.VersionConflict):
        await publication.publish(db, settings, MAY, s.supervisor_identity, ON_THE_5TH, version=1)
    published = await publication.publish(db, settings, MAY, s.supervisor_identity, ON_THE_5TH,
                                          version=2)
    assert published.version == 2


async def test_the_database_refuses_to_change_or_delete_a_published_version(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 1)
    await publication.publish(db, settings, MAY, s.supervisor_identity, ON_THE_5TH)
    for statement in (update(ReportVersion).values(figures={}),
                      sqlalchemy.delete(ReportVersion)):
        async with db.sessions() as session:
            with pytest.raises(sqlalchemy.exc.DBAPIError):
                await session.execute(statement)
                await session.commit()
    published = await versions.published_version(db, str(MAY))
    assert published is not None and published.figures["supervision"]["departments"]


async def test_the_scheduled_run_on_the_5th_publishes_the_previous_month_once(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAB", local("2026-05-20 09:00"), 4)
    await schedule.make_due_reports(db, settings, ON_THE_5TH, "loop-1")
    await schedule.make_due_reports(db, settings, local("2026-06-05 09:00"), "loop-2")
    (version,) = await versions.all_versions(db, str(MAY))
    assert version.published_by == "schedule:loop-1"
    assert version.reason.startswith("first version")


async def test_a_survey_arriving_after_its_month_was_published_goes_into_a_correction_of_that_month(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 2)
    await raw_surveys(db, s, "BBB", local("2026-06-10 09:00"), 2)
    await publication.publish(db, settings, MAY, s.supervisor_identity, ON_THE_5TH)
    june_before = await builders.supervision(db, settings, Month(2026, 6))
    await factories.add(db, Survey(
        department_id=s.department_id, staff_id=s.technician.id, surveyed_at=local("2026-05-28 09:00"),
        source="ivr", verification="first_hand", complete=True, timeliness="C", quality="C",
        attitude="C", created_at=local("2026-06-12 10:00")))
    (correction,) = await publication.correct_published_months(db, settings,
                                                                local("2026-06-12 11:00"), "loop")
    assert correction.period == "2026-05" and correction.published_at is None
    assert correction.reason == "correction: 1 late survey"
    assert await publication.correct_published_months(db, settings, local("2026-06-12 12:00"),
                                                       "loop") == []
    june_after = await builders.supervision(db, settings, Month(2026, 6))
    june = _department(june_after, s.department_id)["satisfaction"]
    assert june["surveys"] == _department(june_before, s.department_id)["satisfaction"]["surveys"]
    assert june["previous_average"] == "6"  # May as published, the correction not yet published


async def test_a_june_survey_about_a_may_job_after_may_was_published_corrects_may_not_june(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 2)
    await publication.publish(db, settings, MAY, s.supervisor_identity, ON_THE_5TH)
    job = await factories.job(db, s.customer_id, "J-MAY-LATE", technician_id=s.technician.id,
                              department_id=s.department_id, completed_at=local("2026-05-31 17:00"))
    (late,) = await factories.add(db, Survey(
        job_id=job.id, department_id=s.department_id, staff_id=s.technician.id,
        surveyed_at=local("2026-06-09 10:00"), source="ivr", verification="first_hand",
        complete=True, timeliness="D", quality="D", attitude="D",
        created_at=local("2026-06-09 10:00")))
    (correction,) = await publication.correct_published_months(db, settings,
                                                                local("2026-06-09 11:00"), "loop")
    assert correction.period == "2026-05"
    assert [c["survey_id"] for c in correction.diff["surveys"]] == [late.id]  # type: ignore[index]
    june = await builders.supervision(db, settings, Month(2026, 6))
    assert _department(june, s.department_id)["satisfaction"]["surveys"]["counted"] == 0


async def test_rerunning_the_report_by_hand_adds_a_draft_and_leaves_the_published_figures(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 2)
    await publication.publish(db, settings, MAY, s.supervisor_identity, ON_THE_5TH)
    await raw_surveys(db, s, "CCC", local("2026-05-12 09:00"), 2)
    await runs.run_report(db, settings, "supervision", "2026-05", now=local("2026-06-09 09:00"),
                          generated_by="cli:ops")
    first, second = await versions.all_versions(db, str(MAY))
    assert first.published_at is not None and second.published_at is None
    assert second.made_by == "cli:ops" and second.reason == "rerun by cli:ops: 2 late survey"
    assert _department(first.figures, s.department_id)["satisfaction"]["average"] == "6"


async def test_the_trend_shows_a_published_month_as_published(db: Database, settings: Settings) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-04-10 09:00"), 2)
    await publication.publish(db, settings, APRIL, s.supervisor_identity, local("2026-05-05 08:00"))
    await raw_surveys(db, s, "EEE", local("2026-04-11 09:00"), 2)
    payload = await builders.supervision(db, settings, MAY)
    april = next(t for t in payload["trend"] if t["month"] == "2026-04")
    assert april["published_version"] == 1
    assert april["departments"][str(s.department_id)]["average"] == "6"


async def test_a_verification_and_a_correction_after_publishing_are_named_in_the_correction(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 1)
    await raw_surveys(db, s, "BBB", local("2026-05-11 09:00"), 1, verification="pending",
                      source="paper")
    await raw_surveys(db, s, "CCC", local("2026-05-12 09:00"), 1)
    await publication.publish(db, settings, MAY, s.supervisor_identity, ON_THE_5TH)
    async with db.sessions() as session:
        paper, third = (await session.scalars(
            select(Survey.id).where(Survey.source == "paper").union_all(
                select(Survey.id).where(Survey.timeliness == "C")))).all()
    later = local("2026-06-08 10:00")
    await survey_service.verify_survey(paper, True, s.supervisor_identity, later, SqlUnitOfWork(db))
    await survey_service.correct_survey(third, helpers.grades("EEE"), s.supervisor_identity, later,
                                        SqlUnitOfWork(db), reason="customer said E on the call")
    (correction,) = await publication.correct_published_months(db, settings, later, "loop")
    assert correction.diff is not None
    assert correction.diff["reasons"] == {"correction": 1, "verification": 1}
    by_survey = {c["survey_id"]: c for c in correction.diff["surveys"]}
    assert by_survey[paper]["reason"] == "verification"
    assert by_survey[third]["reason"] == "correction"
    moved = {f["figure"]: (f["before"], f["after"]) for f in correction.diff["figures"]}
    assert moved["surveys counted"] == (2, 3) and moved["points"] == (6, 3)


async def test_a_change_that_moves_no_figure_makes_no_correction_and_later_changes_still_do(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 1, verification="verified",
                      source="paper")
    await publication.publish(db, settings, MAY, s.supervisor_identity, ON_THE_5TH)
    async with db.sessions() as session:
        survey_id = await session.scalar(select(Survey.id))
    assert survey_id is not None
    later = local("2026-06-08 10:00")
    await survey_service.correct_survey(survey_id, helpers.grades("AAA"), s.supervisor_identity,
                                        later, SqlUnitOfWork(db), reason="re-checked: as keyed")
    assert await publication.correct_published_months(db, settings, later, "loop") == []
    assert await publication.correct_published_months(db, settings, later, "loop") == []
    await survey_service.correct_survey(survey_id, helpers.grades("CCC"), s.supervisor_identity,
                                        later, SqlUnitOfWork(db), reason="customer said C")
    (correction,) = await publication.correct_published_months(db, settings, later, "loop")
    assert correction.diff is not None and correction.diff["reasons"] == {"correction": 1}
