"""SQL implementation of `CallRepository` (crm.services.calls)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.storage.tables import Call, CallEvent, Contact
from crm.calls import CallRecord
from crm.enums import CallDisposition, ContactKind, Direction
from crm.services.calls import CallEventIn, StartCall


def to_record(row: Call) -> CallRecord:
    return CallRecord(
        id=row.id, carrier=row.carrier, carrier_call_id=row.carrier_call_id,
        direction=Direction(row.direction), from_number=row.from_number, to_number=row.to_number,
        customer_id=row.customer_id, agent_id=row.agent_id, queue=row.queue,
        started_at=row.started_at, queued_at=row.queued_at, answered_at=row.answered_at,
        ended_at=row.ended_at, disposition=CallDisposition(row.disposition),
        carrier_status=row.carrier_status, status_rank=row.status_rank, ivr_path=row.ivr_path,
        ivr_state=row.ivr_state, ivr_version=row.ivr_version, language=row.language,
        callback_attempt_id=row.callback_attempt_id,
    )


class SqlCallRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, call_id: int) -> CallRecord | None:
        row = await self.session.get(Call, call_id, populate_existing=True)
        return to_record(row) if row else None

    async def by_carrier_id(self, carrier: str, carrier_call_id: str) -> CallRecord | None:
        row = await self.session.scalar(
            select(Call).where(Call.carrier == carrier, Call.carrier_call_id == carrier_call_id)
            .execution_options(populate_existing=True)
        )
        return to_record(row) if row else None

    async def add(self, cmd: StartCall) -> CallRecord | None:
        row = Call(
            carrier=cmd.carrier.value, carrier_call_id=cmd.carrier_call_id,
            direction=cmd.direction.value, from_number=cmd.from_number, to_number=cmd.to_number,
            customer_id=cmd.customer_id, started_at=cmd.at, language=cmd.language,
            callback_attempt_id=cmd.callback_attempt_id,
            disposition=CallDisposition.IN_PROGRESS.value, status_rank=0,
        )
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return None
        return to_record(row)

    async def update(self, call_id: int, **values: Any) -> None:
        await self.session.execute(update(Call).where(Call.id == call_id).values(**values))

    async def add_event(self, call_id: int, event: CallEventIn) -> bool:
        if event.dedupe_key is not None:
            seen = await self.session.scalar(
                select(CallEvent.id).where(
                    CallEvent.call_id == call_id, CallEvent.dedupe_key == event.dedupe_key
                )
            )
            if seen is not None:
                return False
        try:
            async with self.session.begin_nested():
                self.session.add(CallEvent(
                    call_id=call_id, at=event.at, kind=event.kind, node=event.node,
                    detail=event.detail, dedupe_key=event.dedupe_key,
                ))
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def save_ivr_state(self, call_id: int, state: str, expected_version: int) -> bool:
        result = await self.session.execute(
            update(Call)
            .where(Call.id == call_id, Call.ivr_version == expected_version)
            .values(ivr_state=state, ivr_version=expected_version + 1)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def add_call_contact(self, call: CallRecord, at: datetime) -> None:
        if call.customer_id is None:
            return
        exists = await self.session.scalar(select(Contact.id).where(Contact.call_id == call.id))
        if exists is not None:
            return
        summary = f"{call.direction.value} call, {call.disposition.value}"
        if call.ivr_path:
            summary += f", IVR {call.ivr_path}"
        self.session.add(Contact(
            customer_id=call.customer_id, kind=ContactKind.CALL.value, at=call.started_at,
            call_id=call.id, staff_id=call.agent_id, disposition=call.disposition.value,
            summary=summary,
        ))
        await self.session.flush()

    async def events(self, call_id: int) -> list[CallEventIn]:
        rows = await self.session.scalars(
            select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.at, CallEvent.id)
        )
        return [CallEventIn(r.at, r.kind, r.node, r.detail, r.dedupe_key) for r in rows]
