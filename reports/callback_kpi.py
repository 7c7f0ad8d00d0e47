"""Callback KPIs per report window (kpi.md "Callback KPIs", domain.md 000).

Guarantees:

* A callback is reported in the window in which it was created.
* Placed within deadline: its first attempt was made at or before ``due_at``
  (3 days after a repair, or the promised window, as computed by crm).
  A callback never attempted is overdue once ``due_at`` has passed; with
  ``as_of`` given, one not yet due is "not yet due" and left out of the
  on-time share (without ``as_of`` every unplaced callback is overdue).
* on-time share = placed on time / (callbacks - not yet due);
  reach rate = reached / attempted (at least one attempt);
  attempts per reached callback = attempts of reached callbacks / reached.
  Zero denominators give ``None``.

Columns: ``created_at``, ``due_at``, ``first_attempt_at`` (tz-aware UTC; null
when never attempted), ``attempts`` (int), ``reached`` (bool); ``kind`` when
``by_kind``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from reports.kpi import ratio
from reports.periods import Bucketing, ReportWindow, window_for_key, window_key_column

__all__ = ["CALLBACK_COLUMNS", "CallbackKpis", "callback_kpis"]

CALLBACK_COLUMNS = ("created_at", "due_at", "first_attempt_at", "attempts", "reached")
_COUNTS = ("callbacks", "placed_on_time", "placed_late", "overdue_not_placed", "not_yet_due",
           "attempted", "reached", "attempts", "attempts_of_reached")


@dataclass(frozen=True)
class CallbackKpis:
    """JSON: ``window``, ``kind`` (null when not split), the counts ``callbacks``,
    ``placed_on_time``, ``placed_late``, ``overdue_not_placed``, ``not_yet_due``,
    ``attempted``, ``reached``, ``attempts``, ``attempts_of_reached``, and
    ``on_time_share``, ``reach_rate``, ``attempts_per_reached``."""

    window: ReportWindow
    kind: str | None
    callbacks: int
    placed_on_time: int
    placed_late: int
    overdue_not_placed: int
    not_yet_due: int
    attempted: int
    reached: int
    attempts: int
    attempts_of_reached: int

    @property
    def on_time_share(self) -> float | None:
        return ratio(self.placed_on_time, self.callbacks - self.not_yet_due)

    @property
    def reach_rate(self) -> float | None:
        return ratio(self.reached, self.attempted)

    @property
    def attempts_per_reached(self) -> float | None:
        return ratio(self.attempts_of_reached, self.reached)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"window": self.window.to_dict(), "kind": self.kind}
        data.update({name: getattr(self, name) for name in _COUNTS})
        data.update(on_time_share=self.on_time_share, reach_rate=self.reach_rate,
                    attempts_per_reached=self.attempts_per_reached)
        return data


def callback_kpis(
    callbacks: pd.DataFrame,
    bucketing: Bucketing,
    tz: str | ZoneInfo,
    as_of: datetime | None = None,
    by_kind: bool = False,
) -> list[CallbackKpis]:
    """Callback KPIs per window of creation (and per kind), sorted."""
    needed = CALLBACK_COLUMNS + (("kind",) if by_kind else ())
    missing = [c for c in needed if c not in callbacks.columns]
    if missing:
        raise ValueError(f"callbacks frame lacks columns {missing}; expected {list(needed)}")
    placed = callbacks["first_attempt_at"].notna().to_numpy(np.bool_)
    on_time = (callbacks["first_attempt_at"] <= callbacks["due_at"]).to_numpy(np.bool_) & placed
    if as_of is None:
        not_yet_due = np.zeros(len(callbacks), dtype=np.bool_)
    else:
        not_yet_due = ~placed & (callbacks["due_at"] > pd.Timestamp(as_of)).to_numpy(np.bool_)
    attempts = callbacks["attempts"].fillna(0).to_numpy(np.int64)
    reached = callbacks["reached"].fillna(False).to_numpy(np.bool_)
    frame = pd.DataFrame({
        "callbacks": 1,
        "placed_on_time": on_time,
        "placed_late": placed & ~on_time,
        "overdue_not_placed": ~placed & ~not_yet_due,
        "not_yet_due": not_yet_due,
        "attempted": attempts > 0,
        "reached": reached,
        "attempts": attempts,
        "attempts_of_reached": np.where(reached, attempts, 0),
    }, index=callbacks.index)
    frame["__window"] = window_key_column(callbacks["created_at"], bucketing, tz)
    frame["__kind"] = callbacks["kind"].astype("string") if by_kind else ""
    sums = frame.groupby(["__window", "__kind"], sort=True, dropna=False).sum()
    return [
        CallbackKpis(
            window_for_key(window_key, bucketing, tz),
            str(kind) if by_kind and not pd.isna(kind) else None,
            *(int(values[name]) for name in _COUNTS),
        )
        for (window_key, kind), values in sums.iterrows()
    ]
