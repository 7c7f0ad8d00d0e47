"""First contact resolution (FCR) per report window (kpi.md).

Guarantees:

* The subject of a contact is its complaint when it has one, else its
  category; a contact with neither is not classified and is only counted.
* Contacts of one customer on one subject form one issue as long as each
  follows the previous one within ``window_days`` (gap <= window). A later
  contact after a longer gap opens a new issue.
* An issue is resolved at first contact when it has a single contact. When
  ``as_of`` is given, a single-contact issue whose window has not yet passed
  (first contact + window > as_of) is "open" and left out of the ratio.
* FCR = resolved at first contact / (resolved + repeated); an issue is
  reported in the window of its first contact; no issue -> ``None``.

Columns: ``customer_id``, ``started_at`` (tz-aware UTC), ``complaint_id``
(nullable), ``category`` (nullable).
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

__all__ = ["CONTACT_COLUMNS", "FcrResult", "first_contact_resolution"]

CONTACT_COLUMNS = ("customer_id", "started_at", "complaint_id", "category")


@dataclass(frozen=True)
class FcrResult:
    """JSON: ``window``, ``window_days``, ``issues``, ``resolved_first_contact``,
    ``repeated``, ``open``, ``unclassified_contacts``, ``fcr`` (0..1 or null)."""

    window: ReportWindow
    window_days: int
    issues: int
    resolved_first_contact: int
    repeated: int
    open: int
    unclassified_contacts: int

    @property
    def fcr(self) -> float | None:
        return ratio(self.resolved_first_contact, self.resolved_first_contact + self.repeated)

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.to_dict(),
            "window_days": self.window_days,
            "issues": self.issues,
            "resolved_first_contact": self.resolved_first_contact,
            "repeated": self.repeated,
            "open": self.open,
            "unclassified_contacts": self.unclassified_contacts,
            "fcr": self.fcr,
        }


def _subjects(contacts: pd.DataFrame) -> pd.Series:
    complaint = "complaint:" + contacts["complaint_id"].astype("string")
    category = "category:" + contacts["category"].astype("string")
    return complaint.fillna(category)


def first_contact_resolution(
    contacts: pd.DataFrame,
    bucketing: Bucketing,
    tz: str | ZoneInfo,
    window_days: int = 7,
    as_of: datetime | None = None,
) -> list[FcrResult]:
    """FCR per window of the issues' first contacts, sorted by window."""
    missing = [c for c in CONTACT_COLUMNS if c not in contacts.columns]
    if missing:
        raise ValueError(f"contacts frame lacks columns {missing}; expected {list(CONTACT_COLUMNS)}")
    frame = pd.DataFrame({
        "customer": contacts["customer_id"],
        "subject": _subjects(contacts),
        "at": contacts["started_at"],
        "window": window_key_column(contacts["started_at"], bucketing, tz),
    })
    unclassified = frame.loc[frame["subject"].isna()].groupby("window").size()
    frame = frame.loc[frame["subject"].notna()].sort_values(
        ["customer", "subject", "at"], kind="stable")
    same_thread = (frame["customer"].eq(frame["customer"].shift())
                   & frame["subject"].eq(frame["subject"].shift()))
    gap = frame["at"] - frame["at"].shift()
    limit = pd.Timedelta(days=window_days)
    frame["issue"] = (~(same_thread & (gap <= limit))).cumsum()
    issues = frame.groupby("issue").agg(
        first=("at", "first"), contacts=("at", "size"), window=("window", "first"))
    single = issues["contacts"].eq(1)
    if as_of is not None:
        still_open = single & (issues["first"] + limit > pd.Timestamp(as_of))
    else:
        still_open = pd.Series(False, index=issues.index)
    issues["resolved"] = single & ~still_open
    issues["repeated"] = ~single
    issues["open"] = still_open
    issues["issues"] = 1
    sums = issues.groupby("window")[["issues", "resolved", "repeated", "open"]].sum()
    windows = sorted(set(sums.index) | set(unclassified.index))
    results = []
    for key in windows:
        row = sums.loc[key] if key in sums.index else None

        def count(name: str, row: Any = row) -> int:
            return 0 if row is None else int(row[name])

        results.append(FcrResult(
            window_for_key(key, bucketing, tz), window_days, count("issues"),
            count("resolved"), count("repeated"), count("open"),
            int(unclassified.get(key, np.int64(0))),
        ))
    return results
