"""Confirming the number of a public-form complaint (`crm.complaint_rules` Rule 4).

Guarantees:
- `confirm_complaint_number` is done by an agent, callback staff member or
  supervisor (`NUMBER_CONFIRMERS`; a refusal is stored and changes nothing),
  on a complaint from an unconfirmed channel; it stamps who and when once
  (confirming again changes nothing) and writes a history row, so the
  complaint counts in the supervision complaint count from then on.
- A complaint from any other channel needs no confirmation (`NothingToConfirm`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from crm.complaint_rules import NUMBER_CONFIRMERS, UNCONFIRMED_CHANNELS
from crm.errors import CrmError, UnknownComplaint, aware_utc
from crm.identity import Identity
from crm.services.complaint_ports import HistoryRow
from crm.services.refusals import check_role

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

__all__ = ["NothingToConfirm", "confirm_complaint_number"]


class NothingToConfirm(CrmError):
    http_status = 409


async def confirm_complaint_number(
    complaint_id: int, uow: UnitOfWork, *, at: datetime, identity: Identity, note: str = "",
) -> datetime:
    """Confirm that the complaint's number is the complainer's; returns when it was confirmed."""
    at = aware_utc(at, "at")
    async with uow:
        await check_role(uow, identity, NUMBER_CONFIRMERS, "complaint.confirm_number",
                         f"complaint:{complaint_id}", at)
        record = await uow.complaints.get(complaint_id)
        if record is None:
            raise UnknownComplaint(f"no complaint with id {complaint_id}")
        if record.channel not in UNCONFIRMED_CHANNELS:
            raise NothingToConfirm(
                f"complaint {record.ticket} came by {record.channel}: its caller was heard, "
                "there is no number to confirm")
        stamped = await uow.complaints.confirm_number(complaint_id, identity.staff_id, at)
        if stamped == at:
            await uow.complaints.add_history(HistoryRow(
                complaint_id, at, identity.label, "confirm_number", record.state, record.state,
                note or "the complainer's number was confirmed", identity.staff_id))
        await uow.commit()
        return stamped
