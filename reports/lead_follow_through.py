"""The service head's follow-through on leads (seed 004: 加大对售服部门主管的执行情况考核).

One row per department (the named follow-up person's department; its manager
is the service head held to account), for a report window:

- ``found``: leads recorded in the window;
- ``follow_ups_due``: follow-up dates falling in the window (and already past
  at ``as_of``): those answered by a follow-up, plus those of unfinished leads
  still waiting;
- ``on_time``: answered no later than ``grace`` after the date; ``late``:
  answered after that; ``missed``: not answered at all by ``as_of``;
- ``follow_through``: ``on_time / follow_ups_due`` (None when nothing was due);
- ``proposals_signed``: configuration proposals the head signed in the window;
- ``won`` / ``credits_earned``: leads won in the window and the finders' credits
  they earned; ``credits_payable``: credits of the department not paid yet.

Pure: plain rows in, rows out; no clock (``as_of`` is passed in).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

DEFAULT_GRACE = timedelta(days=1)


@dataclass
class FollowThrough:
    department_id: int | None
    head_id: int | None
    found: int = 0
    follow_ups_due: int = 0
    on_time: int = 0
    late: int = 0
    missed: int = 0
    proposals_signed: int = 0
    won: int = 0
    credits_earned: Decimal = Decimal(0)
    credits_payable: Decimal = Decimal(0)

    @property
    def follow_through(self) -> float | None:
        return None if not self.follow_ups_due else round(self.on_time / self.follow_ups_due, 4)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["credits_earned"] = str(self.credits_earned)
        out["credits_payable"] = str(self.credits_payable)
        out["follow_through"] = self.follow_through
        return out


def _within(value: datetime | None, start: datetime, end: datetime) -> bool:
    return value is not None and start <= value < end


def follow_through(
    leads: Iterable[Mapping[str, Any]], follow_ups: Iterable[Mapping[str, Any]], *,
    start: datetime, end: datetime, as_of: datetime, grace: timedelta = DEFAULT_GRACE,
) -> list[FollowThrough]:
    """Rows per department, by department id (None last).

    ``leads``: lead_id, department_id, head_id, state, created_at, follow_up_at,
    won_at, proposal_signed_at, credit_amount, credit_paid_at.
    ``follow_ups``: lead_id, due_at, done_at (the department is the lead's).
    """
    rows: dict[int | None, FollowThrough] = {}
    by_lead: dict[int, Mapping[str, Any]] = {}
    until = min(end, as_of)

    def row(lead: Mapping[str, Any]) -> FollowThrough:
        key = lead["department_id"]
        if key not in rows:
            rows[key] = FollowThrough(key, lead["head_id"])
        return rows[key]

    for lead in leads:
        by_lead[lead["lead_id"]] = lead
        r = row(lead)
        r.found += _within(lead["created_at"], start, end)
        r.proposals_signed += _within(lead["proposal_signed_at"], start, end)
        if _within(lead["won_at"], start, end):
            r.won += 1
            r.credits_earned += Decimal(lead["credit_amount"] or 0)
        if lead["credit_amount"] is not None and lead["credit_paid_at"] is None:
            r.credits_payable += Decimal(lead["credit_amount"])
        if lead["state"] in ("open", "contacted", "quoted") and _within(lead["follow_up_at"], start, until):
            r.follow_ups_due += 1
            r.missed += 1
    for done in follow_ups:
        answered = by_lead.get(done["lead_id"])
        if answered is None or not _within(done["due_at"], start, until):
            continue
        r = row(answered)
        r.follow_ups_due += 1
        if done["done_at"] <= done["due_at"] + grace:
            r.on_time += 1
        else:
            r.late += 1
    return sorted(rows.values(), key=lambda r: (r.department_id is None, r.department_id or 0))
