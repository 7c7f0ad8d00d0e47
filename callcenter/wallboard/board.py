"""What the wallboard shows, read from the stored rows at one moment.

Guarantees:
- `today` is exactly the daily report's centre-wide call KPIs for the local
  day (`builders.day_call_kpis`, the same loader and `reports.kpi` code), so
  the wallboard equals the report run at the same moment.
- Callers waiting per queue: inbound calls queued and neither answered nor
  ended, started in the last day; the oldest queued time is sent, and the
  browser counts the longest wait up from it between updates.
- Agents by state: active staff with a stored state, counted per state and
  per not-ready reason (logged out and never-logged-in agents are not shown).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import AgentState, Call, Staff
from reports.periods import Granularity, report_window

__all__ = ["AGENT_STATES", "live", "snapshot", "today"]

AGENT_STATES = ("ready", "ringing", "on_call", "hold", "wrap_up", "not_ready")


def _local_day(settings: Settings, now: datetime) -> date:
    return now.astimezone(ZoneInfo(settings.timezone)).date()


async def live(db: Database, now: datetime) -> dict[str, Any]:
    """Waiting callers per queue and agents by state (cheap: two grouped reads)."""
    async with db.sessions() as session:
        waiting = (await session.execute(
            select(Call.queue, func.count(Call.id), func.min(Call.queued_at))
            .where(Call.direction == "inbound", Call.queued_at.is_not(None),
                   Call.answered_at.is_(None), Call.ended_at.is_(None),
                   Call.started_at >= now - timedelta(days=1))
            .group_by(Call.queue).order_by(Call.queue)
        )).all()
        states = (await session.execute(
            select(AgentState.status, AgentState.reason, func.count())
            .join(Staff, Staff.id == AgentState.staff_id).where(Staff.active.is_(True))
            .group_by(AgentState.status, AgentState.reason)
        )).all()
    agents: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for status, reason, count in states:
        if status == "logged_out":
            continue
        agents[status] += count
        if status == "not_ready":
            reasons[reason or "other"] += count
    queues = []
    for queue, count, oldest in waiting:
        queues.append({"queue": queue or "", "waiting": int(count),
                       "oldest_queued_at": oldest.isoformat() if oldest else None,
                       "longest_wait_s": round((now - oldest).total_seconds(), 1) if oldest else 0.0})
    return {
        "queues": queues,
        "waiting": sum(q["waiting"] for q in queues),
        "agents": {state: agents.get(state, 0) for state in AGENT_STATES},
        "not_ready_by_reason": dict(sorted(reasons.items())),
    }


async def today(db: Database, settings: Settings, now: datetime) -> dict[str, Any] | None:
    """Today's centre-wide KPIs, as the daily report computes them (None: no calls yet)."""
    from callcenter.reporting.builders import day_call_kpis  # pandas: loaded when a board asks

    kpis = await day_call_kpis(db, settings, _local_day(settings, now))
    return kpis[0].to_dict() if kpis else None


_FRESH: Any = object()


async def snapshot(db: Database, settings: Settings, now: datetime,
                   kpis: dict[str, Any] | None | Any = _FRESH) -> dict[str, Any]:
    """The whole board; `kpis` passes today's KPIs already read (else they are read now)."""
    day = _local_day(settings, now)
    window = report_window(Granularity.DAY, day, settings.timezone)
    if kpis is _FRESH:
        kpis = await today(db, settings, now)
    return {"type": "wallboard", "as_of": now.isoformat(), "day": day.isoformat(),
            "window": window.to_dict(), **await live(db, now), "today": kpis}
