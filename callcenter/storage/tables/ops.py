"""Operational tables: agent presence, job-loop locks, rate limits, report runs, spool imports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.storage.tables.base import Base
from callcenter.storage.types import utcnow


class AgentState(Base):
    """Presence of an agent and the call currently offered to them (for reconnects)."""

    __tablename__ = "agent_states"
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="not_ready")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    current_offer: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class JobLock(Base):
    """Lease on a named periodic job, so one process runs it at a time."""

    __tablename__ = "job_locks"
    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]


class RateEvent(Base):
    """One hit against a rate-limited key (public complaint form: per IP and per phone)."""

    __tablename__ = "rate_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), index=True)
    at: Mapped[datetime] = mapped_column(index=True)


class ReportRun(Base):
    """A generated report, kept with the settings it used; one per kind, period and scope."""

    __tablename__ = "report_runs"
    __table_args__ = (UniqueConstraint("kind", "period", "scope"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    period: Mapped[str] = mapped_column(String(20))  # 2026-05, 2026-W21, 2026-05-18
    scope: Mapped[str] = mapped_column(String(40), default="all")
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    generated_by: Mapped[str] = mapped_column(String(80))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    files: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(12), default="done")
    error: Mapped[str | None] = mapped_column(Text)


class SpoolImport(Base):
    """A complaint left by the classic AGI fallback, imported once."""

    __tablename__ = "spool_imports"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
