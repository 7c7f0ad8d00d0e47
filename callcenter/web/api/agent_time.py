"""`GET /api/reports/agent-time`: how each agent's days were spent, from the stored state spans.

Supervisors see every agent; a manager sees the agents of their own department (and
below it). Days are local days of the centre (`TIMEZONE`), at most 31 at a time.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field, model_validator
from sqlalchemy import select

from callcenter.appkeys import DB
from callcenter.offload import in_worker
from callcenter.reporting.scope import Departments, readable_departments
from callcenter.screenpop.spans import load_spans
from callcenter.storage.engine import Database
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
    q: AgentTimeQuery = call.query
    # the rule of the operational reports: a manager's own department and those below it
    # (a manager on the hotline reads every customer, not every department's figures)
    departments = await readable_departments(call.request.app[DB], call.identity)
    # the spans and pandas: a worker process (a month of spans holds a loop for seconds)
    return await in_worker(call.request.app, agent_time_report, call.settings.timezone,
                           q.from_, q.to, call.now(), departments)


async def agent_time_report(db: Database, tz: str, first: date, last: date, now: datetime,
                            departments: Departments) -> dict[str, Any]:
    """The report's body, read and computed in a worker process (`callcenter.offload`)."""
    from reports.agent_time import state_time  # pandas: in the worker process only

    start = report_window(Granularity.DAY, first, tz).start_utc
    end = report_window(Granularity.DAY, last, tz).end_utc
    staff_ids = None
    if departments is not None:  # a manager: the agents of the departments they may see
        async with db.sessions() as session:
            staff_ids = list(await session.scalars(
                select(Staff.id).where(Staff.department_id.in_(departments or {-1}))))
    spans = await load_spans(db, start, end, now, staff_ids)
    days = state_time(spans, first, last, tz)
    return {"from": first.isoformat(), "to": last.isoformat(), "time_zone": tz,
            "agents": [d.to_dict() for d in days]}
