"""Customer satisfaction (CSAT) per report window, centre-wide or per staff member.

Guarantees (kpi.md "CSAT", domain.md):

* Only verified, complete surveys count, decided by exactly the same rule as
  the supervision score (`reports.survey_frame.survey_buckets`); excluded
  surveys are counted per reason.
* CSAT (top-2-box) = surveys whose every item is A or B / counted surveys.
* Item means are on the keypad scale of domain.md: 1 = A (very satisfied)
  ... 5 = E (very dissatisfied), so *lower is better*; the JSON says so in
  ``scale``.
* A survey belongs to the window in which ``surveyed_at`` falls (centre's
  time zone). No counted survey -> ratios and means are ``None``.

Columns: ``surveyed_at`` (tz-aware UTC), ``timeliness``, ``quality``,
``attitude`` (points -2..2 or letters A..E), ``source``, ``verification``,
``complete``; ``staff_id`` when ``by_staff``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from crm.surveys import ITEMS
from reports.kpi import ratio
from reports.periods import Bucketing, ReportWindow, window_for_key, window_key_column
from reports.survey_frame import DISPUTED, INCOMPLETE, PENDING, python_id, survey_buckets

__all__ = ["CSAT_COLUMNS", "KEYPAD_SCALE", "CsatResult", "csat"]

CSAT_COLUMNS = ("surveyed_at", *ITEMS, "source", "verification", "complete")
KEYPAD_SCALE = "1=A (very satisfied) .. 5=E (very dissatisfied); lower is better"


@dataclass(frozen=True)
class CsatResult:
    """JSON: ``window``, ``staff_id`` (null centre-wide), ``surveys`` (counted),
    ``top_two_box``, ``csat`` (0..1), ``item_means`` {timeliness, quality,
    attitude} with ``scale``, ``excluded`` {incomplete, pending_verification,
    disputed}."""

    window: ReportWindow
    staff_id: Any
    surveys: int
    top_two_box: int
    timeliness_points: int
    quality_points: int
    attitude_points: int
    incomplete: int
    pending_verification: int
    disputed: int

    @property
    def csat(self) -> float | None:
        return ratio(self.top_two_box, self.surveys)

    def keypad_mean(self, item: str) -> float | None:
        """Mean of one item on the 1..5 keypad scale (points p -> 3 - p)."""
        points = getattr(self, f"{item}_points")
        return None if not self.surveys else 3 - points / self.surveys

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.to_dict(),
            "staff_id": self.staff_id,
            "surveys": self.surveys,
            "top_two_box": self.top_two_box,
            "csat": self.csat,
            "item_means": {item: self.keypad_mean(item) for item in ITEMS},
            "scale": KEYPAD_SCALE,
            "excluded": {
                "incomplete": self.incomplete,
                "pending_verification": self.pending_verification,
                "disputed": self.disputed,
            },
        }


def csat(
    surveys: pd.DataFrame, bucketing: Bucketing, tz: str | ZoneInfo, by_staff: bool = False
) -> list[CsatResult]:
    """CSAT per window (and per staff member), sorted by window then staff."""
    needed = CSAT_COLUMNS + (("staff_id",) if by_staff else ())
    missing = [c for c in needed if c not in surveys.columns]
    if missing:
        raise ValueError(f"surveys frame lacks columns {missing}; expected {list(needed)}")
    buckets = survey_buckets(surveys)
    counted = buckets.counted
    top_two = counted & (buckets.timeliness >= 1) & (buckets.quality >= 1) & (buckets.attitude >= 1)
    frame = pd.DataFrame({
        "surveys": counted,
        "top_two_box": top_two,
        "timeliness_points": np.where(counted, buckets.timeliness, 0).astype(np.int64),
        "quality_points": np.where(counted, buckets.quality, 0).astype(np.int64),
        "attitude_points": np.where(counted, buckets.attitude, 0).astype(np.int64),
        "incomplete": buckets.mask(INCOMPLETE),
        "pending_verification": buckets.mask(PENDING),
        "disputed": buckets.mask(DISPUTED),
    }, index=surveys.index)
    frame["__window"] = window_key_column(surveys["surveyed_at"], bucketing, tz)
    frame["__staff"] = surveys["staff_id"] if by_staff else 0
    sums = frame.groupby(["__window", "__staff"], sort=True, dropna=False).sum()
    results = []
    for (window_key, staff), values in sums.iterrows():
        results.append(CsatResult(
            window_for_key(window_key, bucketing, tz),
            python_id(staff) if by_staff else None,
            *(int(values[name]) for name in (
                "surveys", "top_two_box", "timeliness_points", "quality_points",
                "attitude_points", "incomplete", "pending_verification", "disputed")),
        ))
    return results
