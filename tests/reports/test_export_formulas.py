"""Exports never carry a formula: names that start like one are written as text.

Department codes, staff names and callers' words reach the report tables; a
spreadsheet must show them, never evaluate them (CSV and XLSX), and the PDF
must print them as typed.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from callcenter.reporting import builders, exports
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from reports.periods import Month

from .helpers import local, raw_surveys, shop

HOSTILE = [
    '=HYPERLINK("http://x.example","y")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.fixture
async def payload(db: Database, settings: Settings) -> dict:
    for code in HOSTILE:
        s = await shop(db, code)
        await raw_surveys(db, s, "AAB", local("2026-05-10 09:00"), 2)
    return await builders.supervision(db, settings, Month(2026, 5))


def test_csv_cells_that_start_like_a_formula_are_quoted_as_text(payload: dict) -> None:
    rows = list(csv.reader(io.StringIO(exports.to_csv(payload).decode("utf-8-sig"), newline="")))
    first_column = {row[0] for row in rows[1:]}
    assert first_column == {"'" + code for code in HOSTILE}
    for row in rows:
        for cell in row:
            assert not cell.startswith(exports.FORMULA_STARTS) or re.fullmatch(r"-?[0-9.]+", cell), cell


def test_csv_keeps_negative_amounts_as_numbers(payload: dict) -> None:
    assert exports.spreadsheet_text("-3000") == "-3000"
    assert exports.spreadsheet_text("-12.5") == "-12.5"
    assert exports.spreadsheet_text(-3000) == -3000
    assert exports.spreadsheet_text("-3000+1") == "'-3000+1"


def test_xlsx_writes_formula_like_names_as_string_cells(payload: dict) -> None:
    data = exports.to_xlsx(payload)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name), f"{name} holds a formula"
    book = load_workbook(io.BytesIO(data))
    read_back = {h.replace("\r", "\n") for h in HOSTILE}  # XML reads CR as LF
    seen = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value in read_back:
                    assert cell.data_type == "s" and cell.quotePrefix
                    seen.add(cell.value)
    assert seen == read_back


def test_html_escapes_formula_like_names(payload: dict) -> None:
    page = exports.to_html(payload).decode()
    assert "=HYPERLINK(&quot;http://x.example&quot;,&quot;y&quot;)" in page


async def test_a_dollar_sign_in_a_name_prints_in_the_pdf(db: Database, settings: Settings) -> None:
    s = await shop(db, "$\\frac$-SVC")
    await raw_surveys(db, s, "AAB", local("2026-05-10 09:00"), 2)
    payload = await builders.supervision(db, settings, Month(2026, 5))
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(exports.to_pdf(payload))).pages)
    assert "$\\frac$-SVC" in text
    assert exports.to_xlsx(payload) and exports.to_html(payload)
