"""Who can take a call right now, kept in memory so a caller's turn costs no query.

Guarantees:
- Refreshed after every committed agent state change in this process (a
  screen-pop state listener) and every `REFRESH_S` seconds (changes made in
  other processes): at most that stale.
- `can_take(carrier)`: on Twilio a call reaches agents only when one is ready
  (the dial rings the ready agents, `ready_clients`); on Asterisk when an
  agent is logged in to the queue and not paused (ready, ringing, on a call,
  on hold): the queue holds the caller until one frees up.
- `ready_clients`: the Twilio client identities (usernames) of ready agents,
  longest-ready first, at most `MAX_CLIENTS` (a Twilio <Dial> rings 10).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from callcenter.storage.engine import Database
from callcenter.storage.tables import AgentState, Staff

__all__ = ["AgentAvailability"]

log = logging.getLogger(__name__)
REFRESH_S = 2.0
#: the name of the task that refreshes every `REFRESH_S` (a bench tells its statements apart)
TASK_NAME = "agent-availability"
MAX_CLIENTS = 10
_IN_QUEUE = ("ready", "ringing", "on_call", "hold")


class AgentAvailability:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.ready_clients: tuple[str, ...] = ()
        self.in_queue = 0
        self._task: asyncio.Task[None] | None = None

    def can_take(self, carrier: str) -> bool:
        return bool(self.ready_clients) if carrier == "twilio" else self.in_queue > 0

    async def refresh(self) -> None:
        try:
            async with self.db.sessions() as session:
                # autocommit: one round trip, no BEGIN / ROLLBACK around the one read
                await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
                rows = (await session.execute(
                    select(Staff.username, AgentState.status)
                    .join(Staff, Staff.id == AgentState.staff_id)
                    .where(Staff.active.is_(True), AgentState.status.in_(_IN_QUEUE))
                    .order_by(AgentState.updated_at, Staff.id)
                )).all()
        except SQLAlchemyError as exc:  # keep the last known figures
            log.warning("agent availability not refreshed: %s", exc)
            return
        self.ready_clients = tuple(u for u, status in rows if status == "ready")[:MAX_CLIENTS]
        self.in_queue = len(rows)

    async def on_state(self, _staff_id: int, _status: str, _reason: str | None) -> None:
        await self.refresh()

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            await self.refresh()

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.get_running_loop().create_task(
            self._refresh_forever(), name=TASK_NAME)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
