"""The dispatcher dials only inside the callee's local window, in their own zone, across DST."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from callcenter.callbacks.loop import Dispatcher
from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import CallbackState
from crm.services.callback_dispatch import DispatchConfig
from tests.callbacks import builders
from tests.callbacks.fake_carrier import ScriptedCarrier

Uow = Callable[[], SqlUnitOfWork]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def dial_at(db: Database, uow: Uow, tz: str, now: datetime) -> tuple[bool, datetime]:
    """Schedule one callback due `now` for a customer in `tz`; (dialled?, next attempt time)."""
    clock = FixedClock(now)
    cb = await builders.new_callback(uow(), tz=tz, due=now)
    carrier = ScriptedCarrier()
    await Dispatcher(db, carrier, DispatchConfig(worker="w"), clock=clock).dispatch()
    async with uow() as u:
        row = await u.callbacks.get(cb.id)
    assert row is not None
    if not carrier.dials:
        assert row.state is CallbackState.SCHEDULED
    return bool(carrier.dials), row.next_attempt_at


@pytest.mark.parametrize(
    ("tz", "now", "dialled", "next_try"),
    [
        # Shanghai (UTC+8, no DST): 09:00 opens, 20:00 closes
        ("Asia/Shanghai", utc(2026, 5, 18, 0, 59, 59), False, utc(2026, 5, 18, 1, 0)),
        ("Asia/Shanghai", utc(2026, 5, 18, 1, 0), True, None),
        ("Asia/Shanghai", utc(2026, 5, 18, 11, 59, 59), True, None),
        ("Asia/Shanghai", utc(2026, 5, 18, 12, 0), False, utc(2026, 5, 19, 1, 0)),
        # New York in summer (EDT, UTC-4)
        ("America/New_York", utc(2026, 5, 18, 12, 59), False, utc(2026, 5, 18, 13, 0)),
        ("America/New_York", utc(2026, 5, 18, 13, 0), True, None),
        ("America/New_York", utc(2026, 5, 18, 23, 59), True, None),
        ("America/New_York", utc(2026, 5, 19, 0, 0), False, utc(2026, 5, 19, 13, 0)),
        # the same instant is 10:00 in Shanghai but 22:00 (quiet hours) in New York
        ("America/New_York", utc(2026, 5, 18, 2, 0), False, utc(2026, 5, 18, 13, 0)),
        # spring forward (8 March 2026): 20:30 EST on the 7th -> 09:00 EDT on the 8th
        ("America/New_York", utc(2026, 3, 8, 1, 30), False, utc(2026, 3, 8, 13, 0)),
        ("America/New_York", utc(2026, 3, 8, 12, 59), False, utc(2026, 3, 8, 13, 0)),
        # fall back (1 November 2026): 08:30 EST -> 09:00 EST is 14:00 UTC, not 13:00
        ("America/New_York", utc(2026, 11, 1, 13, 30), False, utc(2026, 11, 1, 14, 0)),
        ("America/New_York", utc(2026, 11, 1, 14, 0), True, None),
    ],
)
async def test_callee_is_dialled_only_inside_their_local_window(
    db: Database, uow: Uow, tz: str, now: datetime, dialled: bool, next_try: datetime | None
) -> None:
    was_dialled, next_at = await dial_at(db, uow, tz, now)
    assert was_dialled is dialled
    if next_try is not None:
        assert next_at == next_try
