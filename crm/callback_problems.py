"""Problems found on a post-repair callback (seed 000 §3.2): which callbacks must become
complaints for after-sales, and what about.

Rule 1: a callback finds a problem when the customer's survey for the job has a
D or E on any item (automated flow or a staffed call keying the grades), or
when the customer complained during the call (disposition ``complaint``,
``dissatisfied`` or ``problem``, set by the flow or the callback agent).
Rule 2: the complaint's category is the worst-graded item's (timeliness,
repair quality, attitude; E before D, in that item order), else ``other``.
Rule 3: unreached callbacks (no answer, hung up) find nothing: they are
reported as unreached, never as problems.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from crm.enums import ComplaintCategory, Grade

PROBLEM_GRADES = (Grade.E, Grade.D)
SPOKEN_COMPLAINT = frozenset({"complaint", "dissatisfied", "problem"})
ITEM_CATEGORIES: Mapping[str, ComplaintCategory] = {
    "timeliness": ComplaintCategory.TIMELINESS,
    "quality": ComplaintCategory.REPAIR_QUALITY,
    "attitude": ComplaintCategory.ATTITUDE,
}


@dataclass(frozen=True, slots=True)
class CallbackProblem:
    category: ComplaintCategory
    summary: str  # one line for the complaint's description


def callback_problem(
    disposition: str | None, feedback: str | None, grades: Mapping[str, str | None]
) -> CallbackProblem | None:
    """The problem a completed post-repair callback found, or None (see the rules)."""
    bad = {item: Grade(g) for item, g in grades.items() if g in {x.value for x in PROBLEM_GRADES}}
    spoken = (disposition or "").strip().lower() in SPOKEN_COMPLAINT
    if not bad and not spoken:
        return None
    category = ComplaintCategory.OTHER
    for grade in PROBLEM_GRADES:
        worst = [item for item in ITEM_CATEGORIES if bad.get(item) == grade]
        if worst:
            category = ITEM_CATEGORIES[worst[0]]
            break
    parts = []
    if bad:
        parts.append("survey grades " + ", ".join(f"{item} {g}" for item, g in bad.items()))
    if spoken:
        parts.append(f"complaint during the call ({disposition})")
    if feedback:
        parts.append(f"customer said: {feedback.strip()}")
    return CallbackProblem(category, "post-repair callback: " + "; ".join(parts))
