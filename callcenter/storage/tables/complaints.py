"""Complaints (002, 000): one owner, tracked states, append-only history, escalations."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.storage.tables.base import Base, Timestamps
from callcenter.storage.types import utcnow


class Complaint(Base, Timestamps):
    __tablename__ = "complaints"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(12))
    category: Mapped[str] = mapped_column(String(20), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    recording_url: Mapped[str | None] = mapped_column(Text)
    compensation_claimed: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    severity: Mapped[str] = mapped_column(String(10), default="ordinary", index=True)
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    major_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    emotional: Mapped[bool] = mapped_column(Boolean, default=False)
    contradictory_answers: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("service_jobs.id"))
    #: the job whose department and technician it is charged to (the one it names, else the
    #: customer's last job in the window, `crm.complaint_rules` Rule 5), fixed at filing
    charged_job_id: Mapped[int | None] = mapped_column(ForeignKey("service_jobs.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    state: Mapped[str] = mapped_column(String(12), default="new", index=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(index=True)
    respond_due_at: Mapped[datetime | None]
    resolve_due_at: Mapped[datetime | None] = mapped_column(index=True)
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    last_escalated_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    verdict: Mapped[str | None] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    acknowledged_at: Mapped[datetime | None]
    respond_escalated_at: Mapped[datetime | None]
    disrespected: Mapped[bool] = mapped_column(Boolean, default=False)
    product: Mapped[str | None] = mapped_column(String(120), index=True)
    site: Mapped[str | None] = mapped_column(String(200), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("complaint_groups.id"), index=True)
    #: the number a public-form complaint gave (nobody heard the caller); it counts in the
    #: supervision complaint count only once confirmed (`crm.complaint_rules`)
    reported_number: Mapped[str | None] = mapped_column(String(20))
    number_confirmed_at: Mapped[datetime | None]
    number_confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class ComplaintGroup(Base):
    """A group complaint (群体性投诉, 002): several customers about one job, product or site."""

    __tablename__ = "complaint_groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(220))  # "job:12", "product:...", "site:..."
    raised_at: Mapped[datetime]


class ComplaintHistory(Base):
    """Append-only: who, when, from, to, note (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "complaint_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    actor_label: Mapped[str] = mapped_column(String(80))  # "staff:12", "ivr", "job-loop"
    action: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str | None] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(Text)


class ComplaintEscalation(Base):
    """One row per escalation level reached: the unique key makes each happen once."""

    __tablename__ = "complaint_escalations"
    __table_args__ = (UniqueConstraint("complaint_id", "level"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    state_then: Mapped[str] = mapped_column(String(12))
    cause: Mapped[str] = mapped_column(String(10), default="resolve")  # respond | resolve


class Notification(Base):
    """Something a staff member must be told (owner assigned, escalation reached them)."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    read_at: Mapped[datetime | None]
