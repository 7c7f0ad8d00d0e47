"""Supervision records that must not move once made: verification draws and report versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.storage.tables.base import Base
from callcenter.storage.types import utcnow


class VerificationDraw(Base):
    """One period's verification sample (`crm.sampling`), drawn once; ``departments`` holds
    per department how many surveys awaited verification and how many were drawn."""

    __tablename__ = "verification_draws"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(40), unique=True)  # week:2026-05-04..2026-05-10
    cadence: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[datetime] = mapped_column(index=True)
    period_end: Mapped[datetime]
    drawn_at: Mapped[datetime] = mapped_column(default=utcnow)
    percentage: Mapped[str] = mapped_column(String(12))
    minimum: Mapped[int] = mapped_column(Integer)
    departments: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class VerificationSampleSurvey(Base):
    """A survey drawn for verification; a survey is drawn at most once, and stays drawn."""

    __tablename__ = "verification_sample_surveys"
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("verification_draws.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))


class ReportVersion(Base):
    """A numbered version of a month's supervision figures. A published version is frozen
    (database triggers refuse changing or deleting it); a rerun adds a draft with its diff
    against the published one, which a supervisor publishes."""

    __tablename__ = "report_versions"
    __table_args__ = (UniqueConstraint("kind", "period", "scope", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    period: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(String(40), default="all")
    version: Mapped[int] = mapped_column(Integer)
    made_at: Mapped[datetime] = mapped_column(default=utcnow)
    made_by: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(Text)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    surveys: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    diff: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    published_at: Mapped[datetime | None]
    published_by: Mapped[str | None] = mapped_column(String(80))
