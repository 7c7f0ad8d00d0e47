"""Callbacks made in bulk: campaign lists (survey verification samples are drawn by
`crm.services.verification_samples`).

Guarantees:
- `parse_campaign_csv` checks every row before anything is written and
  reports every bad line; `upload_campaign` writes the campaign and one
  callback per distinct number (re-uploading the same list adds nothing).
  Numbers on the do-not-call list are stored and cancelled, never dialled.
- A list holds at most `MAX_CAMPAIGN_ROWS` numbers (a longer one is refused
  whole, before any number is checked); they are stored `CHUNK` at a time,
  one insert and one do-not-call check per chunk, in one transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from crm.access import CAMPAIGN_UPLOADERS
from crm.call_windows import CallWindow, next_allowed_time
from crm.callbacks import priority_for
from crm.enums import CallbackKind
from crm.errors import InvalidCallWindow, InvalidPhoneNumber
from crm.identity import Identity
from crm.phones import normalize_phone
from crm.records import BadRow
from crm.services.callback_ports import NewCallback
from crm.services.callbacks import CannotSchedule, _create_many
from crm.services.refusals import check_role

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

Clock = Callable[[], datetime]
#: numbers stored per statement when a campaign is uploaded
CHUNK = 500
#: numbers one campaign list may hold; a longer list is refused before any is checked
MAX_CAMPAIGN_ROWS = 10_000


# --- campaigns ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignRow:
    line: int
    phone: str
    customer_reference: str | None
    name: str


@dataclass
class ParsedCampaign:
    rows: list[CampaignRow] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)


def parse_window(text: str) -> CallWindow:
    """'09:00-20:00' -> a call window, refused if it overlaps the quiet hours."""
    try:
        start, end = (time.fromisoformat(p.strip()) for p in text.split("-"))
    except ValueError as exc:
        raise InvalidCallWindow(f"window must look like 09:00-20:00, got {text!r}") from exc
    return CallWindow(start, end).checked()


def parse_campaign_csv(text: str, default_region: str = "CN") -> ParsedCampaign:
    """Columns: phone (required), customer_reference (optional), name (optional)."""
    parsed = ParsedCampaign()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None or "phone" not in [f.strip() for f in reader.fieldnames]:
        parsed.bad.append(BadRow(1, ["header must name a 'phone' column"]))
        return parsed
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        if line - 1 > MAX_CAMPAIGN_ROWS:
            parsed.rows.clear()
            parsed.bad[:] = [BadRow(line, [f"the list holds more than {MAX_CAMPAIGN_ROWS} numbers; "
                                           "split it into several campaigns"])]
            return parsed
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        try:
            phone = normalize_phone(row.get("phone", ""), default_region)
        except InvalidPhoneNumber as exc:
            parsed.bad.append(BadRow(line, [f"phone: {exc}"]))
            continue
        if phone in seen:
            continue
        seen.add(phone)
        parsed.rows.append(CampaignRow(line, phone, row.get("customer_reference") or None,
                                       row.get("name", "")))
    return parsed


async def upload_campaign(
    name: str, flow: str, window: CallWindow, rows: list[CampaignRow], uow: UnitOfWork,
    clock: Clock, default_tz: str = "Asia/Shanghai", max_concurrent: int = 5,
    deadline: datetime | None = None, identity: Identity | None = None,
) -> tuple[int, int]:
    """The campaign and its callbacks; returns (campaign id, callbacks created or found).
    A campaign is uploaded by a manager (`identity`; None: the system); a refusal is audited."""
    if not name.strip() or not flow.strip():
        raise CannotSchedule("a campaign needs a name and a flow")
    if max_concurrent < 1:
        raise CannotSchedule("max_concurrent must be at least 1")
    now = clock()
    kind = CallbackKind.CAMPAIGN
    async with uow:
        await check_role(uow, identity, CAMPAIGN_UPLOADERS, "campaign.upload", f"campaign:{name}"[:80], now)
        repo = uow.callbacks
        campaign = await repo.add_campaign(name.strip(), flow.strip(), f"{window.start:%H:%M}",
                                           f"{window.end:%H:%M}", max_concurrent)
        for i in range(0, len(rows), CHUNK):
            news = []
            for row in rows[i:i + CHUNK]:
                contact = (await repo.customer_by_reference(row.customer_reference)
                           if row.customer_reference else None)
                tz = contact.timezone if contact else default_tz
                news.append((NewCallback(
                    source_key=f"campaign:{campaign.id}:{row.phone}", kind=kind, phone=row.phone,
                    timezone=tz, priority=priority_for(kind), due_at=now, deadline_at=deadline,
                    next_attempt_at=next_allowed_time(now, ZoneInfo(tz), window),
                    window_start=campaign.window_start, window_end=campaign.window_end,
                    customer_id=contact.customer_id if contact else None, campaign_id=campaign.id,
                    data={"flow": campaign.flow, "name": row.name},
                ), bool(contact and contact.do_not_call)))
            await _create_many(repo, news, now)
        await uow.commit()
    return campaign.id, len(rows)
