"""Rows for the service head's lead follow-through figure (`reports.lead_follow_through`).

A lead belongs to its follow-up person's department; that department's
manager is the head. Follow-up rows come with the lead they answered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from callcenter.storage.engine import Database
from callcenter.storage.tables import Department, Lead, LeadFollowUp, Staff


async def load_lead_rows(db: Database, start: datetime, end: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(leads, follow-ups) relevant to the window [start, end)."""
    follower = aliased(Staff)
    query = (
        select(Lead.id, follower.department_id, Department.manager_id, Lead.state, Lead.created_at,
               Lead.follow_up_at, Lead.won_at, Lead.proposal_signed_at, Lead.credit_amount,
               Lead.credit_paid_at)
        .outerjoin(follower, follower.id == Lead.assigned_to_id)
        .outerjoin(Department, Department.id == follower.department_id)
        .where(or_(Lead.state.in_(["open", "contacted", "quoted"]), Lead.created_at >= start,
                   Lead.won_at >= start, Lead.credit_paid_at.is_(None),
                   Lead.id.in_(select(LeadFollowUp.lead_id).where(LeadFollowUp.due_at >= start))))
    )
    async with db.sessions() as session:
        leads = [
            {"lead_id": r[0], "department_id": r[1], "head_id": r[2], "state": r[3], "created_at": r[4],
             "follow_up_at": r[5], "won_at": r[6], "proposal_signed_at": r[7], "credit_amount": r[8],
             "credit_paid_at": r[9]}
            for r in (await session.execute(query)).all()
        ]
        done = [
            {"lead_id": r[0], "due_at": r[1], "done_at": r[2]}
            for r in (await session.execute(
                select(LeadFollowUp.lead_id, LeadFollowUp.due_at, LeadFollowUp.done_at)
                .where(LeadFollowUp.due_at >= start, LeadFollowUp.due_at < end))).all()
        ]
    return leads, done
