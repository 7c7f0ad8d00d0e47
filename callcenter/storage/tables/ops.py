"""Operational tables: agent presence, job-loop locks, rate limits, report runs, spool imports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.storage.tables.base import Base
from callcenter.storage.types import utcnow


class AgentState(Base):
    """Presence of an agent and the call currently offered to them (for reconnects)."""

    __tablename__ = "agent_states"
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="not_ready")
    reason: Mapped[str | None] = mapped_column(String(40))  # the not-ready reason
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    current_offer: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AgentStateSpan(Base):
    """One stretch of time an agent spent in one state (the state-time report's rows).

    Every change of state or reason closes the agent's open span and opens the
    next one, in the same transaction; the open span has no end.
    """

    __tablename__ = "agent_state_spans"
    __table_args__ = (Index("ix_agent_state_spans_staff_open", "staff_id", "ended_at"),
                      Index("ix_agent_state_spans_started_at", "started_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(40))
    carrier_call_id: Mapped[str | None] = mapped_column(String(80))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


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


class MailDelivery(Base):
    """One e-mail the service sent (a report, an escalation notice): what, to whom, when.

    `key` is unique ("report:weekly:2026-W21:all", "escalation:12:2"): the process
    that inserts it sends it; a failed one is claimed again on a later pass.
    """

    __tablename__ = "mail_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # report | escalation
    subject: Mapped[str] = mapped_column(String(300))
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    attachments: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(12))  # sending | sent | failed
    attempts: Mapped[int] = mapped_column(default=0)
    at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)


class AccessRefusal(Base):
    """Append-only: one refused attempt (who, what, on which row, why); nothing else changed."""

    __tablename__ = "access_refusals"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    staff_id: Mapped[int | None] = mapped_column(index=True)  # no FK: an audit row never fails
    actor: Mapped[str] = mapped_column(String(80))  # "staff:12", "anonymous", "cli:root"
    action: Mapped[str] = mapped_column(String(80))  # "survey.verify", "POST /api/complaints"
    subject: Mapped[str | None] = mapped_column(String(80))  # "survey:12", "complaint:7"
    reason: Mapped[str] = mapped_column(Text)
