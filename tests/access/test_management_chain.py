"""A department above the scored one (its management chain) has a stake in the score (001).

The region (HQ) manages the scored department (SVC) and shares its reward or fine, so a
supervisor placed in the region is not "outside the department": verifying a survey of
SVC, publishing the month's figures, recording a complaint's verdict and completing a
survey call are refused to them and stored, exactly as for SVC's own staff. A department
marked as a supervision department (监察部) keeps no stake even when it sits above the
scored one; inside the scored department nobody is exempt. Both engines; the route-level
attempts by the same people are in test_survey_supervision, test_complaint_verdict and
test_scored_department_sway (the `region_*` people of tests.access.people).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from callcenter.reporting import publication
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.imports import import_csv
from callcenter.storage.tables import AccessRefusal, Department, ReportVersion, Survey
from callcenter.storage.uow import SqlUnitOfWork
from crm.access import scored_scope
from crm.enums import Grade, Role, SurveySource
from crm.identity import Identity, PermissionDenied
from crm.services.surveys import SaveSurvey, save_survey, verify_survey
from reports.periods import Month
from tests import factories

TAKEN = datetime(2026, 5, 17, 6, 0, tzinfo=UTC)
ON_THE_5TH = datetime(2026, 6, 5, 0, 0, tzinfo=UTC)
ALL_A = {"timeliness": Grade.A, "quality": Grade.A, "attitude": Grade.A}


class Region:
    """HQ <- SVC <- SVC-N (scored), HQ <- SUP; a supervisor in HQ and one in SUP."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def build(self) -> Region:
        db = self.db
        self.hq = await factories.department(db, "HQ")
        self.svc = await factories.department(db, "SVC", parent_id=self.hq.id)
        self.north = await factories.department(db, "SVC-N", parent_id=self.svc.id)
        self.sup = await factories.department(db, "SUP", parent_id=self.hq.id)
        tech = await factories.staff(db, "tech", ["technician"], self.north.id)
        customer = await factories.customer(db)
        self.job = await factories.job(db, customer.id, "J-1", department_id=self.north.id,
                                       technician_id=tech.id,
                                       completed_at=datetime(2026, 5, 16, 8, 0, tzinfo=UTC))
        self.region_supervisor = await self._supervisor("region-sup", self.hq.id)
        self.outside_supervisor = await self._supervisor("sup", self.sup.id)
        return self

    async def _supervisor(self, username: str, department_id: int) -> Identity:
        row = await factories.staff(self.db, username, ["supervisor"], department_id)
        return Identity(row.id, row.username, row.name, frozenset({Role.SUPERVISOR}), department_id)

    async def paper_survey(self, minutes: int = 0) -> int:
        saved = await save_survey(SaveSurvey(self.job.id, SurveySource.PAPER, ALL_A,
                                             TAKEN.replace(minute=minutes)), SqlUnitOfWork(self.db))
        return saved.id

    async def mark_supervision(self, department_id: int) -> None:
        async with self.db.sessions() as session:
            await session.execute(update(Department).where(Department.id == department_id)
                                  .values(supervision=True))
            await session.commit()

    async def refusals(self) -> list[AccessRefusal]:
        async with self.db.sessions() as session:
            return list((await session.scalars(select(AccessRefusal))).all())

    async def verification(self, survey_id: int) -> str:
        async with self.db.sessions() as session:
            row = await session.get(Survey, survey_id)
            assert row is not None
            return row.verification


@pytest.fixture
async def region(db: Database) -> Region:
    return await Region(db).build()


async def test_a_supervisor_of_the_region_above_the_scored_department_may_not_verify_its_survey(
    region: Region,
) -> None:
    survey_id = await region.paper_survey()
    with pytest.raises(PermissionDenied, match="manages"):
        await verify_survey(survey_id, True, region.region_supervisor, TAKEN, SqlUnitOfWork(region.db))
    assert await region.verification(survey_id) == "pending"
    (refusal,) = await region.refusals()
    assert (refusal.staff_id, refusal.action, refusal.subject) == (
        region.region_supervisor.staff_id, "survey.verify", f"survey:{survey_id}")


async def test_the_supervision_department_verifies_the_survey(region: Region) -> None:
    survey_id = await region.paper_survey()
    await verify_survey(survey_id, True, region.outside_supervisor, TAKEN, SqlUnitOfWork(region.db))
    assert await region.verification(survey_id) == "verified"


async def test_a_supervisor_of_a_supervision_department_above_the_scored_one_verifies(
    region: Region,
) -> None:
    await region.mark_supervision(region.hq.id)  # the centre itself is the 监察部 here
    survey_id = await region.paper_survey()
    await verify_survey(survey_id, True, region.region_supervisor, TAKEN, SqlUnitOfWork(region.db))
    assert await region.verification(survey_id) == "verified"
    assert await region.refusals() == []


async def test_a_supervisor_of_the_region_may_not_publish_the_months_figures(
    region: Region, settings: Settings,
) -> None:
    await region.paper_survey()
    with pytest.raises(PermissionDenied, match="manages"):
        await publication.publish(region.db, settings, Month(2026, 5), region.region_supervisor,
                                  ON_THE_5TH)
    async with region.db.sessions() as session:
        assert (await session.scalars(select(ReportVersion))).all() == []
    (refusal,) = await region.refusals()
    assert (refusal.action, refusal.subject) == ("report.publish", "supervision:2026-05")


def test_a_supervision_department_inside_the_scored_department_keeps_its_stake() -> None:
    parents = {1: None, 2: 1, 3: 2, 4: 1}  # 1 HQ <- 2 SVC <- 3 (a 监察 team inside SVC); 4 SUP
    scope = scored_scope([2], parents, supervision={3, 4, 1})
    assert (scope.stake(3), scope.stake(1), scope.stake(4), scope.stake(None)) == (
        "inside", None, None, None)
    assert scored_scope([2], parents).stake(1) == "above"


def test_a_cycle_in_the_department_tree_ends_the_chain() -> None:
    scope = scored_scope([2], {1: 2, 2: 1})
    assert (scope.stake(2), scope.stake(1)) == ("inside", "inside")


async def test_the_departments_file_marks_the_supervision_department_and_a_later_file_keeps_it(
    db: Database, tmp_path: Path,
) -> None:
    marked = tmp_path / "departments.csv"
    marked.write_text("code,name,parent,supervision\nHQ,Centre,,\nSUP,监察部,HQ,是\n"
                      "SVC,Service,HQ,no\n", encoding="utf-8")
    again = tmp_path / "again.csv"
    again.write_text("code,name,parent\nSUP,监察部 Supervision,HQ\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,parent,supervision\nSVC,Service,HQ,maybe\n", encoding="utf-8")
    await import_csv(db, "departments", marked)
    await import_csv(db, "departments", again)
    report = await import_csv(db, "departments", bad)
    async with db.sessions() as session:
        rows = dict((await session.execute(select(Department.code, Department.supervision))).all())
    assert rows == {"HQ": False, "SUP": True, "SVC": False}
    assert not report.written
    assert [b.reasons for b in report.bad] == [["supervision: supervision 'maybe' is not yes or no"]]
