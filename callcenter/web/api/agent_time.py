"""`GET /api/reports/agent-time`: how each agent's days were spent, from the stored state spans.

Supervisors see every agent; a manager sees the agents of their own department (and
below it). Days are local days of the centre (`TIMEZONE`), at most 31 at a time.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field, model_validator
from sqlalchemy import select

from callcenter.appkeys import DB
from callcenter.screenpop.spans import load_spans
from callcenter.storage.tables import Staff
from callcenter.web.api.routing import ApiCall, api
from callcenter.web.api.schemas import In
from callcenter.web.edge import EARLIEST, LATEST
from crm.enums import Role
from reports.periods import Granularity, report_window

MAX_DAYS = 31


class AgentTimeQuery(In):
    from_: date = Field(alias="from", ge=EARLIEST, le=LATEST, description="first local day")
    to: date = Field(ge=EARLIEST, le=LATEST, description="last local day (inclusive)")

    @model_validator(mode="after")
    def _span(self) -> AgentTimeQuery:
        if self.to < self.from_:
            raise ValueError("'to' is before 'from'")
        if (self.to - self.from_).days >= MAX_DAYS:
            raise ValueError(f"at most {MAX_DAYS} days at a time")
        return self


@api("GET", "/api/reports/agent-time", summary="State-time report: per agent per day, seconds "
     "ready, not ready (by reason), ringing, talk, hold and wrap-up, calls handled and AHT",
     roles=(Role.SUPERVISOR, Role.MANAGER), tag="reports", query=AgentTimeQuery,
     response=dict[str, Any])
async def agent_time(call: ApiCall) -> dict[str, Any]:
    # pandas: loaded by the first report asked for, not by every worker
    from callcenter.reporting.builders import readable_departments
    from reports.agent_time import state_time

    q: AgentTimeQuery = call.query
    tz = call.settings.timezone
    start = report_window(Granularity.DAY, q.from_, tz).start_utc
    end = report_window(Granularity.DAY, q.to, tz).end_utc
    # the rule of the operational reports: a manager's own department and those below it
    # (a manager on the hotline reads every customer, not every department's figures)
    departments = await readable_departments(call.request.app[DB], call.identity)
    staff_ids = None
    if departments is not None:  # a manager: the agents of the departments they may see
        async with call.request.app[DB].sessions() as session:
            staff_ids = list(await session.scalars(
                select(Staff.id).where(Staff.department_id.in_(departments or {-1}))))
    spans = await load_spans(call.request.app[DB], start, end, call.now(), staff_ids)
    days = state_time(spans, q.from_, q.to, tz)
    return {"from": q.from_.isoformat(), "to": q.to.isoformat(), "time_zone": tz,
            "agents": [d.to_dict() for d in days]}
