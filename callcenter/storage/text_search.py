"""Free-text look-ups shared by the repositories: LIKE patterns that match only what was typed.

Guarantees:
- `contains` escapes ``%``, ``_`` and the escape character, so a typed ``%``
  matches a percent sign, never every row.
- `phone_digits` turns any spelling of a number ("138 0013 8000",
  "+86-138...", "010 1234 5678") into the digits to find inside a stored
  E.164 number; the national trunk prefix 0 is dropped, so a number typed as
  dialled at home still matches. Fewer than 4 digits: no phone match.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func

ESCAPE = "\\"
MIN_PHONE_DIGITS = 4


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """``column`` contains ``text`` (case-insensitive), wildcards in ``text`` taken literally."""
    escaped = text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    return func.lower(column).like(f"%{escaped.lower()}%", escape=ESCAPE)  # type: ignore[no-any-return]


def phone_digits(text: str) -> str | None:
    digits = "".join(ch for ch in text if ch.isdigit()).lstrip("0")
    return digits if len(digits) >= MIN_PHONE_DIGITS else None
