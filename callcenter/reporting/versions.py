"""Stored versions of a month's supervision figures (``report_versions``): reads and writes.

Guarantees: versions of one (kind, period, scope) are numbered 1, 2, ... by
the unique key, so two processes never store the same number; a published
row is never updated again (database triggers refuse it); "the published
version" of a month is its highest-numbered published one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from callcenter.storage.engine import Database
from callcenter.storage.tables import ReportVersion

__all__ = ["StoredVersion", "all_versions", "published_version", "latest_version", "add_version",
           "mark_published", "published_periods", "KIND"]

KIND = "supervision"


@dataclass(frozen=True)
class StoredVersion:
    id: int
    period: str
    version: int
    made_at: datetime
    made_by: str
    reason: str
    figures: dict[str, Any]
    surveys: dict[str, Any]
    diff: dict[str, Any] | None
    published_at: datetime | None
    published_by: str | None

    def to_dict(self, current_published: int | None = None) -> dict[str, Any]:
        status = "draft" if self.published_at is None else (
            "published" if self.version == current_published else "superseded")
        return {"version": self.version, "status": status, "made_at": self.made_at.isoformat(),
                "made_by": self.made_by, "reason": self.reason, "diff": self.diff,
                "published_at": None if self.published_at is None else self.published_at.isoformat(),
                "published_by": self.published_by, "figures": self.figures}


def _stored(row: ReportVersion) -> StoredVersion:
    return StoredVersion(row.id, row.period, row.version, row.made_at, row.made_by, row.reason,
                         dict(row.figures or {}), dict(row.surveys or {}),
                         None if row.diff is None else dict(row.diff), row.published_at,
                         row.published_by)


def _of(period: str, scope: str) -> Any:
    return (ReportVersion.kind == KIND) & (ReportVersion.period == period) & (ReportVersion.scope == scope)


async def all_versions(db: Database, period: str, scope: str = "all") -> list[StoredVersion]:
    async with db.sessions() as session:
        rows = await session.scalars(select(ReportVersion).where(_of(period, scope))
                                     .order_by(ReportVersion.version))
        return [_stored(r) for r in rows]


async def published_version(db: Database, period: str, scope: str = "all") -> StoredVersion | None:
    async with db.sessions() as session:
        row = await session.scalar(select(ReportVersion).where(
            _of(period, scope), ReportVersion.published_at.is_not(None))
            .order_by(ReportVersion.version.desc()).limit(1))
        return None if row is None else _stored(row)


async def latest_version(db: Database, period: str, scope: str = "all") -> StoredVersion | None:
    async with db.sessions() as session:
        row = await session.scalar(select(ReportVersion).where(_of(period, scope))
                                   .order_by(ReportVersion.version.desc()).limit(1))
        return None if row is None else _stored(row)


async def published_periods(db: Database, scope: str = "all") -> list[str]:
    """Every period with a published version, oldest first."""
    async with db.sessions() as session:
        rows = await session.scalars(
            select(ReportVersion.period).where(
                ReportVersion.kind == KIND, ReportVersion.scope == scope,
                ReportVersion.published_at.is_not(None)).distinct().order_by(ReportVersion.period))
        return list(rows)


async def add_version(db: Database, period: str, values: dict[str, Any],
                      scope: str = "all") -> StoredVersion | None:
    """Store the next version number; None when another process stored that number first."""
    async with db.sessions() as session:
        number = await session.scalar(select(func.max(ReportVersion.version)).where(_of(period, scope)))
        row = ReportVersion(kind=KIND, period=period, scope=scope, version=(number or 0) + 1,
                            **values)
        session.add(row)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            return None
        return _stored(row)


async def mark_published(db: Database, period: str, version: int, at: datetime, by: str,
                         scope: str = "all") -> bool:
    """Publish a draft; False when it was published already (or does not exist)."""
    async with db.sessions() as session:
        result = await session.execute(
            update(ReportVersion).where(_of(period, scope), ReportVersion.version == version,
                                        ReportVersion.published_at.is_(None))
            .values(published_at=at, published_by=by))
        await session.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]
