"""What changed between two versions of a month's supervision figures, and why.

A published month is frozen; a rerun is a new version whose diff against the
published one lists (1) every department figure that moved, before and after,
and (2) every survey behind the move with its reason:

* ``late survey``: it reached us after the published version was made;
* ``verification``: its verification state changed (verified, disputed);
* ``correction``: its grades (or completeness) were corrected;
* ``moved``: it belongs to another department or month than before;
* ``added`` / ``removed``: any other survey that appeared or went.

Survey snapshots are ``{survey_id: {"department_id", "verification", "grades",
"complete", "arrived_at"}}`` (JSON keys are strings). Pure functions; no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

__all__ = ["department_figures", "previous_averages", "survey_changes", "version_diff"]

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


def _reason(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None,
            published_at: str | None) -> str:
    if before is None:
        assert after is not None
        late = published_at is not None and str(after.get("arrived_at") or "") > published_at
        return "late survey" if late else "added"
    if after is None:
        return "removed"
    if before.get("department_id") != after.get("department_id") or \
            before.get("month") != after.get("month"):
        return "moved"
    if before.get("grades") != after.get("grades") or before.get("complete") != after.get("complete"):
        return "correction"
    return "verification"


def survey_changes(before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]],
                   published_at: str | None) -> list[dict[str, Any]]:
    """One entry per survey that differs: ``survey_id``, ``reason``, ``before``, ``after``."""
    changes = []
    for key in sorted(set(before) | set(after), key=lambda k: int(k)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        changes.append({"survey_id": int(key), "reason": _reason(old, new, published_at),
                        "before": None if old is None else dict(old),
                        "after": None if new is None else dict(new)})
    return changes


def version_diff(against: int | None, old_figures: Mapping[str, Any] | None,
                 new_figures: Mapping[str, Any], old_surveys: Mapping[str, Mapping[str, Any]],
                 new_surveys: Mapping[str, Mapping[str, Any]],
                 published_at: str | None) -> dict[str, Any]:
    """The diff of a new version against version ``against`` (None: nothing published)."""
    old = department_figures(old_figures or {})
    new = department_figures(new_figures)
    figures = []
    for dept in sorted(set(old) | set(new), key=str):
        for name, _ in _FIELDS:
            a = old.get(dept, {}).get(name)
            b = new.get(dept, {}).get(name)
            if a != b:
                figures.append({"department_id": dept, "figure": name, "before": a, "after": b})
    surveys = survey_changes(old_surveys, new_surveys, published_at)
    return {"against": against, "figures": figures, "surveys": surveys,
            "reasons": dict(sorted(Counter(s["reason"] for s in surveys).items()))}
