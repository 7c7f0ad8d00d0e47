"""Chinese names in the PDF export and the chart images are drawn with a CJK font, not as boxes."""

from __future__ import annotations

import io
import re
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
from pypdf import PdfReader

from callcenter.reporting import builders, charts, exports, fonts
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from reports.periods import Month

from .helpers import local, raw_surveys, shop

NAME = "维修服务部"
TECH = "张师傅"


def _draw(text: str) -> np.ndarray:
    """The pixels matplotlib draws for ``text`` with the report fonts."""
    fig = plt.figure(figsize=(2, 0.6), dpi=80)
    fig.text(0.05, 0.3, text, fontsize=20)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba()).copy()
    plt.close(fig)
    return pixels


def test_the_report_fonts_start_with_a_cjk_family_that_has_the_glyphs() -> None:
    family = fonts.cjk_family()
    assert family is not None, "no CJK font: the project's set-up installs fonts-noto-cjk"
    assert plt.rcParams["font.sans-serif"][0] == family
    assert fonts.has_glyphs(NAME + TECH, family)
    assert not fonts.has_glyphs(NAME, "DejaVu Sans"), "the fallback font has no CJK glyphs"


def test_two_chinese_names_are_drawn_as_different_glyphs_not_the_same_box() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        first, second = _draw("张三"), _draw("李四")
    assert (first != second).any(), "different names drew identical pixels: fallback boxes"


@pytest.fixture
async def chinese_payload(db: Database, settings: Settings) -> dict:
    s = await shop(db, "SVC-ZH", name=NAME, tech_name=TECH)
    await raw_surveys(db, s, "AAB", local("2026-05-10 09:00"), 3)
    return await builders.supervision(db, settings, Month(2026, 5))


def test_the_pdf_embeds_the_cjk_font_and_reads_back_the_chinese_names(chinese_payload: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pdf = exports.to_pdf(chinese_payload)
    embedded = set(re.findall(rb"/BaseFont /([A-Za-z0-9+-]+)", pdf))
    assert any(b"CJK" in name for name in embedded), embedded
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert NAME in text and TECH in text


def test_the_chart_images_draw_the_chinese_department_name(chinese_payload: dict) -> None:
    with warnings.catch_warnings(), charts.closing(chinese_payload) as made:
        warnings.simplefilter("error")  # a glyph missing from every font would warn here
        svgs = [charts.svg(fig) for _, fig in made]
        pngs = [charts.png(fig) for _, fig in made]
    assert any(NAME in svg for svg in svgs), "the legend names the department"
    assert all(png.startswith(b"\x89PNG") for png in pngs)
