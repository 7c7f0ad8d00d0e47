"""Satisfaction surveys (001) with their append-only audit, and leads (004)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.storage.tables.base import Base, Timestamps
from callcenter.storage.types import utcnow


class Survey(Base, Timestamps):
    """One service job rated on timeliness, repair quality, attitude (grades A..E)."""

    __tablename__ = "surveys"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("service_jobs.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    surveyed_at: Mapped[datetime] = mapped_column(index=True)
    source: Mapped[str] = mapped_column(String(10))
    timeliness: Mapped[str | None] = mapped_column(String(1))
    quality: Mapped[str | None] = mapped_column(String(1))
    attitude: Mapped[str | None] = mapped_column(String(1))
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    verification: Mapped[str] = mapped_column(String(12), index=True)
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    verified_at: Mapped[datetime | None]
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    note: Mapped[str | None] = mapped_column(Text)
    #: why it waits for verification (keyed from a number not on the customer record...)
    pending_reason: Mapped[str | None] = mapped_column(Text)


class SurveyAudit(Base):
    """Append-only: every survey edit or verification (database triggers refuse changes)."""

    __tablename__ = "survey_audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    action: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Lead(Base, Timestamps):
    """An unmet need found at a visit or call (004), followed up until won or lost."""

    __tablename__ = "leads"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    found_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    equipment: Mapped[str | None] = mapped_column(Text)
    need: Mapped[str] = mapped_column(Text)
    demand_level: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12), default="open", index=True)
    follow_up_at: Mapped[datetime | None]
    won_at: Mapped[datetime | None]
    notes: Mapped[str | None] = mapped_column(Text)
    # the second form (004): the targeted configuration proposal, signed by the service head
    proposal: Mapped[str | None] = mapped_column(Text)
    proposal_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    proposal_at: Mapped[datetime | None]
    proposal_signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    proposal_signed_at: Mapped[datetime | None]
    # the finder's credit once won (payable until paid)
    order_value: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    credit_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    credit_paid_at: Mapped[datetime | None]
    reminded_for: Mapped[datetime | None]  # the follow-up date the follower was reminded of


class LeadFollowUp(Base):
    """A follow-up the named person made: which due date it answered, and when (004: 定期由专人与客户沟通)."""

    __tablename__ = "lead_follow_ups"
    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    done_at: Mapped[datetime] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(12))
