"""Spoken digits: turn what a speech recogniser heard into keypad keys.

Guarantee: :func:`spoken_keys` returns only characters of ``0-9*#`` (maybe
none), so a ``Speech`` event is handled exactly like the keys it names.
"""

from __future__ import annotations

import re

_WORDS = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "star": "*",
    "hash": "#",
    "pound": "#",
}
_CHARS = {
    "零": "0",
    "〇": "0",
    "一": "1",
    "幺": "1",
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
    "星": "*",
    "井": "#",
}
_WORD_RE = re.compile(r"[a-z]+")


def spoken_keys(text: str) -> str:
    """``"one"`` -> ``"1"``, ``"我选二"`` -> ``"2"``, ``"星号"`` -> ``"*"``."""
    lowered = _WORD_RE.sub(lambda m: _WORDS.get(m.group(0), " "), text.lower())
    return "".join(_CHARS.get(ch, ch) for ch in lowered if _CHARS.get(ch, ch) in "0123456789*#")
