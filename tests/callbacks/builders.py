"""Rows the callback tests need, written straight through a session."""

from __future__ import annotations

from datetime import UTC, datetime

from callcenter.storage.engine import Database
from callcenter.storage.tables import Callback, Complaint, Survey
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import CallbackKind
from crm.services.callback_ports import CallbackRecord, NewCallback
from tests import factories


async def complaint(
    db: Database, customer_id: int, *, severity: str = "ordinary",
    resolved_at: datetime | None = datetime(2026, 5, 18, 1, 0, tzinfo=UTC), ticket: str = "C-1",
) -> Complaint:
    (row,) = await factories.add(db, Complaint(
        ticket=ticket, customer_id=customer_id, channel="phone_ivr", category="repair_quality",
        severity=severity, major=severity == "major", state="resolved" if resolved_at else "new",
        opened_at=datetime(2026, 5, 16, 1, 0, tzinfo=UTC), resolved_at=resolved_at))
    return row  # type: ignore[no-any-return]


async def survey(db: Database, *, department_id: int | None, customer_id: int | None,
                 surveyed_at: datetime, source: str = "agent",
                 arrived_at: datetime | None = None) -> Survey:
    """A complete survey; it reached us (``created_at``) at ``arrived_at``, default when taken."""
    (row,) = await factories.add(db, Survey(
        department_id=department_id, customer_id=customer_id, surveyed_at=surveyed_at,
        created_at=arrived_at or surveyed_at,
        source=source, timeliness="A", quality="A", attitude="B", complete=True,
        verification="first_hand" if source == "ivr" else "pending"))
    return row  # type: ignore[no-any-return]


async def callback_row(db: Database, callback_id: int) -> Callback:
    async with db.sessions() as session:
        row = await session.get(Callback, callback_id)
        assert row is not None
        return row


async def new_callback(
    uow: SqlUnitOfWork, *, phone: str = "+8613800138000", tz: str = "Asia/Shanghai",
    due: datetime, deadline: datetime | None = None, key: str | None = None,
    kind: CallbackKind = CallbackKind.POST_REPAIR, priority: int = 2,
    campaign_id: int | None = None, customer_id: int | None = None,
    window: tuple[str, str] = ("09:00", "20:00"),
) -> CallbackRecord:
    async with uow:
        record, _ = await uow.callbacks.add(NewCallback(
            source_key=key or f"test:{phone}:{due.isoformat()}", kind=kind, phone=phone,
            timezone=tz, priority=priority, due_at=due, deadline_at=deadline,
            next_attempt_at=due, campaign_id=campaign_id, customer_id=customer_id,
            window_start=window[0], window_end=window[1]))
        await uow.commit()
        return record
