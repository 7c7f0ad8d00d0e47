"""The CJK font that charts and PDF exports draw Chinese names with.

Customers, staff and departments have Chinese names; matplotlib's own font
(DejaVu Sans) has no CJK glyphs and draws them as empty boxes. The project's
set-up installs Debian's ``fonts-noto-cjk`` (``make test`` / ``make demo`` and
the service image).

Guarantee: :func:`configure` puts the first CJK family found ahead of
matplotlib's default in ``font.sans-serif``, so every figure falls back to it
for the characters DejaVu lacks. matplotlib keeps a font list cached from the
first run; fonts installed after that are not in it, so the system's CJK files
are added to the running font manager when the cached list has none.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path

import matplotlib.font_manager as fm
import matplotlib.pyplot as plt

__all__ = ["PREFERRED", "cjk_family", "configure", "has_glyphs"]

log = logging.getLogger(__name__)

#: Families tried in order (simplified Chinese faces first).
PREFERRED = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "Noto Sans CJK JP", "Droid Sans Fallback", "Microsoft YaHei")
_CJK_FILE = re.compile(r"(?i)(cjk|wqy|wenquanyi|droidsansfallback|sourcehansans)")


def _known() -> set[str]:
    return {f.name for f in fm.fontManager.ttflist}


def _first(known: set[str]) -> str | None:
    return next((name for name in PREFERRED if name in known), None)


@cache
def cjk_family() -> str | None:
    """The CJK family charts use, or None when the machine has none (logged once)."""
    family = _first(_known())
    if family is None:  # the cached list predates the font package: add the files now
        for path in fm.findSystemFonts():
            if _CJK_FILE.search(Path(path).name):
                try:
                    fm.fontManager.addfont(path)
                except (OSError, RuntimeError):  # a broken file must not stop the report
                    log.debug("skipping unreadable font %s", path)
        family = _first(_known())
    if family is None:
        log.warning("no CJK font installed: Chinese text in charts and PDFs shows as boxes "
                    "(install Debian's fonts-noto-cjk)")
    return family


def configure() -> str | None:
    """Put the CJK family first in matplotlib's sans-serif list; returns it."""
    family = cjk_family()
    fallbacks = ["DejaVu Sans"]
    plt.rcParams["font.family"] = ["sans-serif"]
    plt.rcParams["font.sans-serif"] = ([family] if family else []) + fallbacks
    return family


def has_glyphs(text: str, family: str | None = None) -> bool:
    """Whether the font matplotlib picks for ``family`` draws every character of ``text``."""
    from matplotlib.ft2font import FT2Font

    prop = fm.FontProperties(family=family or plt.rcParams["font.sans-serif"][0])
    font = FT2Font(fm.findfont(prop, fallback_to_default=False))
    return all(font.get_char_index(ord(ch)) != 0 for ch in text if not ch.isspace())
