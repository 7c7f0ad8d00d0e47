"""Where callers give up in the IVR: drop-outs by menu node per report window.

Guarantees (kpi.md):

* A drop-out is an ``ivr_only`` call the caller hung up inside the IVR
  (``ivr_hangup`` true); a call that finished its flow by keys is not one.
* Each drop-out is charged to exactly one node: the last step it reached
  (highest ``seq``); a drop-out with no recorded step is charged to node
  ``None``. Per window, node counts sum to ``hangups``.
* Calls are reported in the window in which they started.

Columns. ``calls``: ``call_id``, ``started_at`` (tz-aware UTC),
``disposition``, ``ivr_hangup`` (bool). ``steps``: ``call_id``, ``seq``
(order within the call), ``node``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from crm.enums import CallDisposition
from reports.kpi import ratio
from reports.periods import Bucketing, ReportWindow, window_for_key, window_key_column

__all__ = ["IVR_CALL_COLUMNS", "STEP_COLUMNS", "NodeDropouts", "IvrDropout", "ivr_dropout"]

IVR_CALL_COLUMNS = ("call_id", "started_at", "disposition", "ivr_hangup")
STEP_COLUMNS = ("call_id", "seq", "node")


@dataclass(frozen=True)
class NodeDropouts:
    node: str | None
    hangups: int


@dataclass(frozen=True)
class IvrDropout:
    """JSON: ``window``, ``ivr_only_calls``, ``hangups``, ``hangup_rate`` (of IVR-only
    calls), ``nodes``: [{``node``, ``hangups``, ``share`` of the window's hangups}],
    most drop-outs first."""

    window: ReportWindow
    ivr_only_calls: int
    hangups: int
    nodes: tuple[NodeDropouts, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.to_dict(),
            "ivr_only_calls": self.ivr_only_calls,
            "hangups": self.hangups,
            "hangup_rate": ratio(self.hangups, self.ivr_only_calls),
            "nodes": [
                {"node": n.node, "hangups": n.hangups, "share": ratio(n.hangups, self.hangups)}
                for n in self.nodes
            ],
        }


def ivr_dropout(
    calls: pd.DataFrame, steps: pd.DataFrame, bucketing: Bucketing, tz: str | ZoneInfo
) -> list[IvrDropout]:
    """IVR drop-outs per window and node, sorted by window."""
    for frame, columns, name in ((calls, IVR_CALL_COLUMNS, "calls"), (steps, STEP_COLUMNS, "steps")):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} frame lacks columns {missing}; expected {list(columns)}")
    ivr_only = calls.loc[calls["disposition"].astype("string") == str(CallDisposition.IVR_ONLY)]
    ivr_only = ivr_only.assign(__window=window_key_column(ivr_only["started_at"], bucketing, tz))
    hung_up = ivr_only.loc[ivr_only["ivr_hangup"].fillna(False).astype(bool)]
    last_node = (steps.sort_values(["call_id", "seq"], kind="stable")
                 .drop_duplicates("call_id", keep="last")
                 .set_index("call_id")["node"])
    nodes = hung_up["call_id"].map(last_node)
    per_node = (pd.DataFrame({"window": hung_up["__window"], "node": nodes})
                .groupby(["window", "node"], dropna=False).size())
    totals = ivr_only.groupby("__window").size()
    results = []
    for window_key, calls_in_window in totals.items():
        counts: list[NodeDropouts] = []
        if window_key in per_node.index.get_level_values(0):
            for node, n in per_node.loc[window_key].items():
                counts.append(NodeDropouts(None if pd.isna(node) else str(node), int(n)))
        counts.sort(key=lambda c: (-c.hangups, c.node is None, c.node or ""))
        results.append(IvrDropout(
            window_for_key(pd.Timestamp(window_key), bucketing, tz), int(calls_in_window),
            sum(c.hangups for c in counts), tuple(counts),
        ))
    return results
