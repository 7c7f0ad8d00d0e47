"""A staff row as the domain sees the person acting: `identity_of(staff, org) -> Identity`.

Below the web package and the screen-pop (both read staff rows); roles go
through `crm.access.parse_roles` (odd spellings folded, unknown names grant nothing).
The department rule (`crm.identity`) is resolved here from the department tree
(`org_chart`): the departments below the person's, and whether theirs answers
the hotline (`HOTLINE_DEPARTMENTS`).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.storage.tables import Department, Staff
from crm.access import normal_text, parse_roles
from crm.identity import Identity, OrgChart


async def org_chart(session: AsyncSession, hotline_codes: frozenset[str]) -> OrgChart:
    """The department tree as it is now, with the departments that answer the hotline
    (`HOTLINE_DEPARTMENTS`, codes compared in one spelling): one small read."""
    rows = (await session.execute(select(Department.id, Department.parent_id, Department.code))).all()
    return OrgChart({r.id: r.parent_id for r in rows},
                    frozenset(r.id for r in rows if normal_text(r.code) in hotline_codes))


def identity_of(staff: Staff, org: OrgChart | None = None) -> Identity:
    """Who `staff` is; with `org`, their department rule resolved (the departments below
    theirs, whether they answer the hotline). Without it: their own department only."""
    chart = org if org is not None else OrgChart({})
    return chart.identity(staff.id, staff.username, staff.name, parse_roles(staff.roles),
                          staff.department_id)
