"""`Dispatcher`: one worker's loop of dispatch passes and sweeps.

Guarantees: a pass never dials a callback another worker holds (see
`crm.services.callback_dispatch`); a sweep runs at most every
`sweep_every`, and always before the loop reports itself idle, so callbacks
left by a dead worker are reconciled by the survivors. Cancelling the task
stops it between steps; every dial already sent is committed first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select

from callcenter.clock import Clock, system_clock
from callcenter.storage.engine import Database
from callcenter.storage.tables import Callback
from callcenter.storage.uow import SqlUnitOfWork
from crm.callbacks import FINAL_STATES
from crm.services.callback_dispatch import DispatchConfig, SweepReport, dispatch_once, sweep
from crm.services.callback_ports import Dialer
from crm.services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class Dispatcher:
    db: Database
    dialer: Dialer
    config: DispatchConfig
    clock: Clock = system_clock
    reconcilers: Mapping[str, Dialer] = field(default_factory=dict)  # carrier -> dialer
    tick: float = 1.0  # seconds to wait when there was nothing to dial
    sweep_every: timedelta = timedelta(seconds=5)
    dialled: int = 0

    def __post_init__(self) -> None:
        self._last_sweep: datetime | None = None
        self.reconcilers = {self.dialer.carrier: self.dialer, **self.reconcilers}

    @property
    def uow(self) -> Callable[[], UnitOfWork]:
        return lambda: SqlUnitOfWork(self.db)  # type: ignore[return-value]

    async def dispatch(self) -> int:
        sent = await dispatch_once(self.uow, self.dialer, self.clock, self.config)
        self.dialled += sent
        return sent

    async def sweep(self) -> SweepReport:
        self._last_sweep = self.clock()
        report = await sweep(self.uow, self.reconcilers, self.clock, self.config)
        if report.total:
            log.info("callback sweep: %s", report)
        return report

    async def open_callbacks(self) -> int:
        async with self.db.sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(Callback)
                .where(Callback.state.not_in([str(s) for s in FINAL_STATES])))
        return int(count or 0)

    async def step(self) -> int:
        """One dispatch pass, plus a sweep when due; returns dials sent plus rows swept."""
        sent = await self.dispatch()
        now = self.clock()
        if self._last_sweep is None or now - self._last_sweep >= self.sweep_every:
            sent += (await self.sweep()).total
        return sent

    async def run_forever(self) -> None:
        while True:
            try:
                busy = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatcher pass failed (database unreachable?); retrying")
                busy = 0
            if not busy:
                await asyncio.sleep(self.tick)

    async def run_until_idle(self, settle: Callable[[], Awaitable[object]] | None = None) -> int:
        """Run until no callback is open any more (tests, batch runs); returns dials sent."""
        while True:
            busy = await self.step()
            if not busy:
                if settle is not None:
                    await settle()
                if await self.open_callbacks() == 0:
                    return self.dialled
                await asyncio.sleep(self.tick)
