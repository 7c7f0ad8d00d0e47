"""`callcenter report ...` writes the chosen format and keeps the run."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from callcenter.cli import main
from callcenter.storage.engine import Database

from .helpers import local, raw_surveys, shop


@pytest.fixture
def stored(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    async def prepare() -> None:
        database = Database.open(db_url)
        try:
            s = await shop(database)
            await raw_surveys(database, s, "ABC", local("2026-05-10 09:00"), 3)
        finally:
            await database.close()

    asyncio.run(prepare())
    monkeypatch.setenv("REPORTS_DIR", str(tmp_path / "kept"))
    return db_url


def test_the_supervision_command_writes_an_xlsx_and_keeps_the_json(
    stored: str, tmp_path: Path
) -> None:
    target = tmp_path / "may.xlsx"
    code = main(["--database-url", stored, "report", "supervision", "--month", "2026-05",
                 "--format", "xlsx", "-o", str(target)])
    assert code == 0
    sheet = load_workbook(target)["Satisfaction"]
    average = [cell.value for cell in sheet[1]].index("average")
    assert sheet[2][average].value == 3  # average of ABC
    kept = json.loads((tmp_path / "kept" / "supervision" / "supervision-2026-05-all.json").read_text())
    assert kept["supervision"]["departments"][0]["satisfaction"]["surveys"]["counted"] == 3


def test_an_unknown_department_is_a_clear_error(stored: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--database-url", stored, "report", "supervision", "--month", "2026-05",
                 "--department", "NOPE"])
    assert code == 2 and "no department with code or id 'NOPE'" in capsys.readouterr().err


def test_the_kpi_command_prints_json(stored: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--database-url", stored, "report", "kpi", "--from", "2026-05-01",
                 "--to", "2026-05-31", "-o", "-"])
    body = json.loads(capsys.readouterr().out)
    assert code == 0 and body["kind"] == "kpi" and body["csat"][0]["surveys"] == 3
