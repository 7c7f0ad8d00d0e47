"""Satisfaction surveys (001) with their append-only audit, and leads (004)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
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
