"""The state-time report: how each agent's day was spent, from the stored state spans.

Input: one row per span (``staff_id``, ``staff_name``, ``department_id``,
``state``, ``reason``, ``carrier_call_id``, ``started_at``, ``ended_at``; aware
UTC, an open span already closed at "now" by the loader).

Guarantees:
- A span is cut at local midnight (the centre's time zone): each part counts
  on its own day, so a shift across midnight is never lost or counted twice.
- Per agent per day: seconds logged in (every state but logged_out), ready,
  not ready (in total and per reason), ringing, talk (on a call, hold
  excluded), hold, wrap-up; calls handled (distinct calls with talk) and the
  agent's AHT = (talk + hold + wrap-up) / calls handled, the kpi.md formula.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

__all__ = ["AgentDay", "state_time"]

_BUCKET = {"ready": "ready_s", "not_ready": "not_ready_s", "ringing": "ringing_s",
           "on_call": "talk_s", "hold": "hold_s", "wrap_up": "wrap_up_s"}


@dataclass
class AgentDay:
    day: date
    staff_id: int
    staff_name: str
    department_id: int | None
    logged_in_s: float = 0.0
    ready_s: float = 0.0
    not_ready_s: float = 0.0
    ringing_s: float = 0.0
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrap_up_s: float = 0.0
    not_ready_by_reason: dict[str, float] = field(default_factory=dict)
    calls: set[str] = field(default_factory=set)

    @property
    def handled(self) -> int:
        return len(self.calls)

    @property
    def aht_s(self) -> float | None:
        if not self.calls:
            return None
        return (self.talk_s + self.hold_s + self.wrap_up_s) / len(self.calls)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "calls"}
        out["day"] = self.day.isoformat()
        for key in ("logged_in_s", "ready_s", "not_ready_s", "ringing_s", "talk_s", "hold_s",
                    "wrap_up_s"):
            out[key] = round(out[key], 1)
        out["not_ready_by_reason"] = {k: round(v, 1) for k, v in sorted(self.not_ready_by_reason.items())}
        out["handled"] = self.handled
        out["aht_s"] = None if self.aht_s is None else round(self.aht_s, 1)
        return out


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _pieces(start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[date, float]]:
    """(local day, seconds) of [start, end), cut at local midnights."""
    out = []
    day = start.astimezone(zone).date()
    while start < end:
        cut = min(end, _midnight(day + timedelta(days=1), zone))
        out.append((day, (cut - start).total_seconds()))
        start, day = cut, day + timedelta(days=1)
    return out


def state_time(spans: pd.DataFrame, first: date, last: date, tz: str) -> list[AgentDay]:
    """Per agent per local day in [first, last], sorted by day then agent name."""
    zone = ZoneInfo(tz)
    lo, hi = _midnight(first, zone), _midnight(last + timedelta(days=1), zone)
    days: dict[tuple[date, int], AgentDay] = {}
    reasons: dict[tuple[date, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in spans.itertuples(index=False):
        start = max(pd.Timestamp(row.started_at).to_pydatetime(), lo)
        end = min(pd.Timestamp(row.ended_at).to_pydatetime(), hi)
        if end <= start:
            continue
        for day, seconds in _pieces(start, end, zone):
            key = (day, int(row.staff_id))
            agent = days.get(key)
            if agent is None:
                dept = None if pd.isna(row.department_id) else int(row.department_id)
                agent = days[key] = AgentDay(day, int(row.staff_id), str(row.staff_name), dept)
            if row.state == "logged_out":
                continue
            agent.logged_in_s += seconds
            bucket = _BUCKET.get(str(row.state))
            if bucket is not None:
                setattr(agent, bucket, getattr(agent, bucket) + seconds)
            if row.state == "not_ready":
                reasons[key][str(row.reason or "other")] += seconds
            if row.state in ("on_call", "hold") and isinstance(row.carrier_call_id, str):
                agent.calls.add(row.carrier_call_id)
    for key, agent in days.items():
        agent.not_ready_by_reason = dict(reasons.get(key, {}))
    return sorted(days.values(), key=lambda a: (a.day, a.staff_name, a.staff_id))
