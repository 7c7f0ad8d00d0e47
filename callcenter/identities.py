"""A staff row as the domain sees the person acting: `identity_of(staff, org) -> Identity`.

Below the web package and the screen-pop (both read staff rows); roles go
through `crm.access.parse_roles` (odd spellings folded, unknown names grant nothing).
The department rule (`crm.identity`) is resolved here from the department tree
(`org_chart`): the departments below the person's, and whether theirs answers
the hotline (`HOTLINE_DEPARTMENTS`).
"""

from __future__ import annotations

import time
import weakref

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.storage.tables import Department, Staff
from crm.access import normal_text, parse_roles
from crm.identity import Identity, OrgChart

ORG_CHART_TTL_S = 5.0
"""How long a process reuses the department tree it read (per database engine): a moved or
new department reaches the department rule within this many seconds; no read per request."""
_CHARTS: weakref.WeakKeyDictionary[object, dict[frozenset[str], tuple[float, OrgChart]]] = (
    weakref.WeakKeyDictionary())


async def org_chart(session: AsyncSession, hotline_codes: frozenset[str]) -> OrgChart:
    """The department tree, with the departments that answer the hotline
    (`HOTLINE_DEPARTMENTS`, codes compared in one spelling): one small read, reused for
    `ORG_CHART_TTL_S` by every request of the process on the same database."""
    engine = session.bind
    kept = _CHARTS.get(engine, {}).get(hotline_codes) if engine is not None else None
    now = time.monotonic()
    if kept is not None and now - kept[0] < ORG_CHART_TTL_S:
        return kept[1]
    rows = (await session.execute(select(Department.id, Department.parent_id, Department.code))).all()
    chart = OrgChart({r.id: r.parent_id for r in rows},
                     frozenset(r.id for r in rows if normal_text(r.code) in hotline_codes))
    if engine is not None:
        _CHARTS.setdefault(engine, {})[hotline_codes] = (now, chart)
    return chart


def identity_of(staff: Staff, org: OrgChart | None = None) -> Identity:
    """Who `staff` is; with `org`, their department rule resolved (the departments below
    theirs, whether they answer the hotline). Without it: their own department only."""
    chart = org if org is not None else OrgChart({})
    return chart.identity(staff.id, staff.username, staff.name, parse_roles(staff.roles),
                          staff.department_id)
