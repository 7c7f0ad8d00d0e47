"""`callcenter report publish|versions`: a supervisor publishes from the command line, nobody else."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from callcenter.cli import main
from callcenter.storage.engine import Database
from tests import factories

from .helpers import local, raw_surveys, shop


@pytest.fixture
def stored(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    async def prepare() -> None:
        database = Database.open(db_url)
        try:
            s = await shop(database, "SVC")
            await raw_surveys(database, s, "ABC", local("2026-05-10 09:00"), 3)
            await factories.staff(database, "boss", ["manager"], s.department_id)
        finally:
            await database.close()

    asyncio.run(prepare())
    monkeypatch.setenv("REPORTS_DIR", str(tmp_path / "kept"))
    return db_url


def test_a_supervisor_publishes_a_month_and_lists_its_versions(
    stored: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--database-url", stored, "report", "publish", "--month", "2026-05",
                 "--as", "sup-svc"]) == 0
    published = json.loads(capsys.readouterr().out)
    assert published["version"] == 1 and published["published_by"].startswith("staff:")
    assert main(["--database-url", stored, "report", "versions", "--month", "2026-05"]) == 0
    (version,) = json.loads(capsys.readouterr().out)
    assert version["status"] == "published" and version["diff"] is None


@pytest.mark.parametrize("username", ["boss", "tech-svc", "nobody"])
def test_anyone_but_a_supervisor_is_refused_and_nothing_is_published(
    stored: str, username: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--database-url", stored, "report", "publish", "--month", "2026-05",
                 "--as", username]) == 2
    assert "not published" in capsys.readouterr().err
    assert main(["--database-url", stored, "report", "versions", "--month", "2026-05"]) == 0
    assert json.loads(capsys.readouterr().out) == []
