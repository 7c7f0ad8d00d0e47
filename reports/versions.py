"""What changed between two versions of a month's supervision figures, and why.

A published month is frozen; a rerun is a new version whose diff against the
published one lists (1) every department figure that moved, before and after,
and (2) the surveys behind the move with their reason, found by the caller
(`callcenter.reporting.publication.survey_changes`):

* ``late survey``: it reached us after the published version was made;
* ``verification``: its verification state changed (verified, disputed);
* ``correction``: its grades were corrected by a supervisor.

Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

__all__ = ["department_figures", "previous_averages", "version_diff"]

#: the department figures a diff compares, as (name, path into the department's JSON)
_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("surveys counted", ("satisfaction", "surveys", "counted")),
    ("verified", ("satisfaction", "surveys", "verified")),
    ("pending verification", ("satisfaction", "surveys", "excluded", "pending_verification")),
    ("disputed", ("satisfaction", "surveys", "excluded", "disputed")),
    ("points", ("satisfaction", "points")),
    ("average", ("satisfaction", "average")),
    ("previous average", ("satisfaction", "previous_average")),
    ("outcome", ("satisfaction", "outcome")),
    ("satisfaction amount", ("satisfaction", "amount")),
    ("extra amount", ("satisfaction", "extra_amount")),
    ("complaints", ("complaints", "complaints")),
    ("complaint amount", ("complaints", "amount")),
    ("total amount", ("total_amount",)),
)


def _get(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def department_figures(supervision: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{department id: {figure name: value}}`` of a supervision report's JSON."""
    return {str(d["department_id"]): {name: _get(d, path) for name, path in _FIELDS}
            for d in supervision.get("departments", [])}


def previous_averages(supervision: Mapping[str, Any]) -> dict[int | str, Fraction]:
    """The exact average (points / counted) per department of a published month."""
    averages: dict[int | str, Fraction] = {}
    for d in supervision.get("departments", []):
        counted = _get(d, ("satisfaction", "surveys", "counted"))
        points = _get(d, ("satisfaction", "points"))
        if counted:
            averages[d["department_id"]] = Fraction(int(points), int(counted))
    return averages


def version_diff(against: int | None, old_figures: Mapping[str, Any] | None,
                 new_figures: Mapping[str, Any], surveys: list[dict[str, Any]],
                 reasons: Mapping[str, int]) -> dict[str, Any]:
    """The diff of a new version against version ``against`` (None: nothing published):
    every department figure that moved, and the surveys behind it (``surveys``: each
    with ``survey_id``, ``reason``, ``before``, ``after``; ``reasons``: count per reason)."""
    old = department_figures(old_figures or {})
    new = department_figures(new_figures)
    figures = []
    for dept in sorted(set(old) | set(new), key=str):
        for name, _ in _FIELDS:
            a = old.get(dept, {}).get(name)
            b = new.get(dept, {}).get(name)
            if a != b:
                figures.append({"department_id": dept, "figure": name, "before": a, "after": b})
    return {"against": against, "figures": figures, "surveys": list(surveys),
            "reasons": dict(sorted(reasons.items()))}
