"""`callcenter import surveys FILE.csv`: validated rows, through save_survey / verify_survey."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from callcenter.cli import main
from callcenter.reporting.survey_import import import_surveys
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Survey, SurveyAudit
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
                            department_id=s.department_id)


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
    assert [(r.verification, r.complete) for r in rows] == [
        ("verified", True), ("first_hand", True), ("pending", False)]
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
    assert "not an active supervisor" in reasons[8]
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
