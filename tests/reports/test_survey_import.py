"""`callcenter import surveys FILE.csv`: validated rows, through save_survey / verify_survey."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from callcenter.cli import main
from callcenter.reporting.survey_import import import_surveys
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import ServiceJob, Survey, SurveyAudit
from tests import factories

from .helpers import shop

GOOD = """job,timeliness,quality,attitude,surveyed_at,source,verified,verified_by,note
J-1,A,1,B,2026-05-03,paper,yes,sup-svc-n,纸质表
J-2,5,E,D,2026-05-04 14:20,ivr,,,
J-3,B,B,,2026-05-05,agent,no,,only two answers
"""
BAD = GOOD + """J-404,A,A,A,2026-05-06,paper,no,,
J-1,F,A,A,2026-05-06,paper,no,,
J-2,A,A,A,,paper,maybe,,
J-3,A,A,A,2026-05-07,paper,yes,tech-svc-n,
"""


async def _jobs(db: Database) -> None:
    s = await shop(db)
    for reference in ("J-1", "J-2", "J-3"):
        await factories.job(db, s.customer_id, reference, technician_id=s.technician.id,
                            department_id=s.department_id,
                            completed_at=datetime(2026, 5, 2, 1, tzinfo=UTC))
    # serviced after the surveys below were taken, and not serviced at all
    await factories.job(db, s.customer_id, "J-LATER", technician_id=s.technician.id,
                        department_id=s.department_id,
                        completed_at=datetime(2026, 5, 20, 1, tzinfo=UTC))
    await factories.add(db, ServiceJob(reference="J-OPEN", customer_id=s.customer_id,
                                       department_id=s.department_id, completed_at=None))


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "surveys.csv"
    path.write_text(text, encoding="utf-8")
    return path


async def test_a_clean_file_is_stored_and_verified_through_the_use_cases(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    await _jobs(db)
    report = await import_surveys(db, _file(tmp_path, GOOD), settings=settings)
    assert report["written"] and report["created"] == 3 and report["verified"] == 1
    async with db.sessions() as session:
        rows = (await session.scalars(select(Survey).order_by(Survey.id))).all()
        actions = (await session.scalars(select(SurveyAudit.action).order_by(SurveyAudit.id))).all()
    # an imported IVR survey is not first-hand: the file cannot show the number it came from
    assert [(r.verification, r.complete) for r in rows] == [
        ("verified", True), ("pending", True), ("pending", False)]
    assert "withheld or unknown number" in (rows[1].pending_reason or "")
    assert rows[0].department_id is not None and rows[0].staff_id is not None
    assert actions == ["created", "verified", "created", "created"]


async def test_every_bad_row_is_reported_and_nothing_is_written(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    await _jobs(db)
    report = await import_surveys(db, _file(tmp_path, BAD), settings=settings)
    assert not report["written"] and report["created"] == 0
    reasons = {bad["line"]: " ".join(bad["reasons"]) for bad in report["bad"]}
    assert sorted(reasons) == [5, 6, 7, 8]
    assert "no service job with reference 'J-404'" in reasons[5]
    assert "timeliness" in reasons[6]
    assert "surveyed_at: required" in reasons[7] and "verified" in reasons[7]
    assert "only a supervisor" in reasons[8]
    async with db.sessions() as session:
        assert (await session.scalars(select(Survey))).all() == []


async def test_skip_bad_imports_the_good_rows_and_a_rerun_adds_nothing(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    await _jobs(db)
    path = _file(tmp_path, BAD)
    first = await import_surveys(db, path, skip_bad=True, settings=settings)
    again = await import_surveys(db, path, skip_bad=True, settings=settings)
    assert first["created"] == 3 and first["skipped"] == 4
    assert again["created"] == 0 and again["already_imported"] == 3
    assert [b["line"] for b in again["bad"]][:3] == [2, 3, 4]
    assert all(b["reasons"][0].startswith("already imported") for b in again["bad"][:3])


async def test_a_duplicate_import_is_an_error_per_row_and_writes_nothing(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    await _jobs(db)
    assert (await import_surveys(db, _file(tmp_path, GOOD), settings=settings))["written"]
    again = await import_surveys(db, _file(tmp_path, GOOD + "J-1,B,B,B,2026-05-09,paper,no,,\n"),
                                 settings=settings)
    assert not again["written"] and again["created"] == 0
    assert [b["line"] for b in again["bad"]] == [2, 3, 4]
    assert all(b["reasons"][0].startswith("already imported: survey ") for b in again["bad"])
    async with db.sessions() as session:
        assert len((await session.scalars(select(Survey))).all()) == 3  # the new row too: none


async def test_the_same_survey_twice_in_one_file_is_refused_with_the_first_line(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    await _jobs(db)
    text = GOOD + "J-1,A,1,B,2026-05-03,paper,no,,\n"
    report = await import_surveys(db, _file(tmp_path, text), settings=settings)
    assert not report["written"]
    assert report["bad"] == [{"line": 5, "reasons": [
        "duplicate of line 2: the same job, time and source"]}]


async def test_a_survey_of_a_job_not_serviced_yet_or_dated_in_the_future_is_refused(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    await _jobs(db)
    text = GOOD + ("J-LATER,A,A,A,2026-05-10,paper,no,,\n"
                   "J-OPEN,A,A,A,2026-05-10,paper,no,,\n"
                   "J-1,A,A,A,2026-07-01 10:00,paper,no,,\n")
    report = await import_surveys(db, _file(tmp_path, text), settings=settings,
                                  now=datetime(2026, 6, 1, tzinfo=UTC))
    assert not report["written"]
    reasons = {b["line"]: b["reasons"] for b in report["bad"]}
    assert reasons == {
        5: ["surveyed_at: 2026-05-10 12:00 is before job 'J-LATER' was completed "
            "(2026-05-20 09:00)"],
        6: ["job: 'J-OPEN' is not completed yet: a survey rates a finished repair"],
        7: ["surveyed_at: 2026-07-01 10:00 is in the future"],
    }
    async with db.sessions() as session:
        assert (await session.scalars(select(Survey))).all() == []


def test_the_cli_lists_each_bad_row(db_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    async def prepare() -> None:
        database = Database.open(db_url)
        try:
            await _jobs(database)
        finally:
            await database.close()

    asyncio.run(prepare())
    code = main(["--database-url", db_url, "import", "surveys", str(_file(tmp_path, BAD))])
    err = capsys.readouterr().err
    assert code == 1
    assert "line 5:" in err and "line 8:" in err
