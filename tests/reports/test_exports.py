"""Every export format opens and shows the same figures as the JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from callcenter.reporting import builders, exports, runs
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from reports.periods import Month

from .helpers import complaints, local, raw_surveys, shop


@pytest.fixture
async def payload(db: Database, settings: Settings) -> dict:
    s = await shop(db)
    await raw_surveys(db, s, "AAC", local("2026-05-10 09:00"), 10)
    await raw_surveys(db, s, "ABC", local("2026-04-10 09:00"), 2)
    await complaints(db, s, 7, local("2026-05-11 09:00"))
    return await builders.supervision(db, settings, Month(2026, 5))


def test_the_xlsx_opens_with_one_formatted_sheet_per_table(payload: dict) -> None:
    book = load_workbook(io.BytesIO(exports.to_xlsx(payload)))
    assert book.sheetnames == ["Summary", "Awards", "Satisfaction", "Staff", "Trend", "Charts"]
    awards = book["Awards"]
    assert awards["A1"].value == "department" and awards["A1"].font.bold
    assert awards.freeze_panes == "A2"
    assert awards["C2"].value == 1000 and awards["H2"].value == -3000  # reward, band 6-10
    assert book["Charts"]._images, "the charts sheet holds the chart images"


def test_the_pdf_reads_back_with_the_headline(payload: dict) -> None:
    reader = PdfReader(io.BytesIO(exports.to_pdf(payload)))
    first = reader.pages[0].extract_text()
    assert "Supervision report 2026-05" in first and "average 4" in first
    assert len(reader.pages) >= 4  # headline, two charts, tables


def test_the_html_carries_both_charts_inline(payload: dict) -> None:
    page = exports.to_html(payload).decode()
    assert '<figure id="chart-trend"><svg' in page and '<figure id="chart-complaints"><svg' in page
    assert "<script" not in page and "<link" not in page and 'src="http' not in page


def test_the_csv_is_the_awards_table(payload: dict) -> None:
    text = exports.to_csv(payload).decode("utf-8-sig").splitlines()
    assert text[0].startswith("department,outcome,amount")
    assert text[1].split(",")[:3] == ["SVC-N", "reward", "1000"]


def test_the_json_is_the_payload(payload: dict) -> None:
    assert json.loads(exports.to_json(payload)) == json.loads(json.dumps(payload, default=str))


async def test_a_run_keeps_its_files_and_row_and_a_rerun_replaces_them(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 1)
    now = local("2026-06-05 08:00")
    first = await runs.run_report(db, settings, "supervision", "2026-05", now=now,
                                  generated_by="test", formats=("json", "html", "pdf"))
    assert first is not None
    assert first.files == [f"supervision/supervision-2026-05-all.{f}" for f in ("json", "html", "pdf")]
    assert all((Path(settings.reports_dir) / f).stat().st_size > 0 for f in first.files)
    await raw_surveys(db, s, "EEE", local("2026-05-11 09:00"), 1)
    again = await runs.run_report(db, settings, "supervision", "2026-05", now=now,
                                  generated_by="test")
    stored = await runs.latest_run(db, "supervision", "2026-05")
    assert again is not None and stored is not None and stored.id == first.id
    assert stored.payload["supervision"]["departments"][0]["satisfaction"]["points"] == 0
    assert stored.payload["settings"]["supervision"]["reward"] == "1000"
