"""Column types that keep stored data honest on SQLite and PostgreSQL alike.

Guarantee: a `UTCDateTime` column only ever stores timezone-aware instants,
converted to UTC, and always gives back aware UTC datetimes, on both engines.
A naive datetime is refused at bind time with `NaiveDatetimeError`, before it
can reach the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class NaiveDatetimeError(ValueError):
    """A datetime without tzinfo was about to be stored."""


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetime stored in UTC (TIMESTAMPTZ on PostgreSQL, ISO text on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise NaiveDatetimeError(
                f"naive datetime {value.isoformat()} refused: pass an aware datetime, "
                "e.g. datetime.now(UTC) or dt.replace(tzinfo=ZoneInfo('Asia/Shanghai'))"
            )
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite has no time zone type: store naive UTC, restore tz on the way out.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
