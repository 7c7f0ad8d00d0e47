"""Calls (one row per customer call, keyed by the carrier's id), their timeline, contacts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.storage.tables.base import Base
from callcenter.storage.types import utcnow


class Call(Base):
    """One customer call. Asterisk: keyed by Linkedid; Twilio: by the parent CallSid."""

    __tablename__ = "calls"
    __table_args__ = (UniqueConstraint("carrier", "carrier_call_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    carrier: Mapped[str] = mapped_column(String(16))
    carrier_call_id: Mapped[str] = mapped_column(String(80))
    direction: Mapped[str] = mapped_column(String(10))
    from_number: Mapped[str | None] = mapped_column(String(40))
    to_number: Mapped[str | None] = mapped_column(String(40))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    queue: Mapped[str | None] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(index=True)
    queued_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]  # agent answer (inbound) / callee answer (outbound)
    ended_at: Mapped[datetime | None]
    disposition: Mapped[str] = mapped_column(String(20), default="in_progress", index=True)
    carrier_status: Mapped[str | None] = mapped_column(String(20))  # last carrier status seen
    status_rank: Mapped[int] = mapped_column(Integer, default=0)  # for out-of-order callbacks
    duration_s: Mapped[float | None] = mapped_column(Float)
    hold_s: Mapped[float] = mapped_column(Float, default=0.0)
    wrapup_s: Mapped[float] = mapped_column(Float, default=0.0)
    ivr_path: Mapped[str | None] = mapped_column(Text)  # e.g. "main>complaint>category"
    ivr_state: Mapped[str | None] = mapped_column(Text)  # serialised IVR session (JSON)
    ivr_version: Mapped[int] = mapped_column(Integer, default=0)  # optimistic lock on ivr_state
    language: Mapped[str | None] = mapped_column(String(10))
    recording_url: Mapped[str | None] = mapped_column(Text)
    callback_attempt_id: Mapped[str | None] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CallEvent(Base):
    """The call's timeline: carrier events and IVR steps. `dedupe_key` makes replays harmless."""

    __tablename__ = "call_events"
    __table_args__ = (UniqueConstraint("call_id", "dedupe_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))  # e.g. ivr_step, status, queue_enter, agent_connect
    node: Mapped[str | None] = mapped_column(String(80))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(120))


class Contact(Base):
    """Every contact with a customer (000): call, visit, note, form."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("service_jobs.id"))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    subject: Mapped[str | None] = mapped_column(String(80))  # category, for FCR
    disposition: Mapped[str | None] = mapped_column(String(40))
    summary: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CallSegment(Base):
    """One queue a call went through (kpi.md: per-queue figures count segments).

    ``outcome``: ``open`` while queued or talking, then ``answered`` (the call ended
    after an agent answered here), ``abandoned``, ``timeout`` (left the queue
    unanswered) or ``transferred`` (joined another queue; answered or not, see
    ``answered_at``)."""

    __tablename__ = "call_segments"
    __table_args__ = (UniqueConstraint("call_id", "queue", "entered_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    queue: Mapped[str] = mapped_column(String(80))
    entered_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    outcome: Mapped[str] = mapped_column(String(16), default="open")
