"""Outbound callbacks (000), their attempts, and campaigns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.storage.tables.base import Base, Timestamps
from callcenter.storage.types import utcnow


class Campaign(Base, Timestamps):
    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    flow: Mapped[str] = mapped_column(String(40))
    window_start: Mapped[str] = mapped_column(String(5), default="09:00")
    window_end: Mapped[str] = mapped_column(String(5), default="20:00")
    max_concurrent: Mapped[int] = mapped_column(Integer, default=5)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Callback(Base, Timestamps):
    """A call we owe a customer. `source_key` makes every automatic source idempotent."""

    __tablename__ = "callbacks"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    state: Mapped[str] = mapped_column(String(12), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    phone: Mapped[str] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=100)  # lower first
    due_at: Mapped[datetime] = mapped_column(index=True)  # earliest time to call
    deadline_at: Mapped[datetime | None] = mapped_column(index=True)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    window_start: Mapped[str] = mapped_column(String(5), default="09:00")
    window_end: Mapped[str] = mapped_column(String(5), default="20:00")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("service_jobs.id"))
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id"))
    requested_call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    assigned_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claim_expires_at: Mapped[datetime | None] = mapped_column(index=True)
    current_attempt_id: Mapped[str | None] = mapped_column(String(40))
    disposition: Mapped[str | None] = mapped_column(String(40))
    feedback: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None]
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CallbackAttempt(Base):
    """One dial. Its id is ours, sent to the carrier (ChannelId / status callback) before dialling."""

    __tablename__ = "callback_attempts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, 3...
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    worker: Mapped[str] = mapped_column(String(80))
    carrier: Mapped[str] = mapped_column(String(16))
    carrier_call_id: Mapped[str | None] = mapped_column(String(80), index=True)
    result: Mapped[str | None] = mapped_column(String(20))
    ended_at: Mapped[datetime | None]
    detail: Mapped[str | None] = mapped_column(Text)
