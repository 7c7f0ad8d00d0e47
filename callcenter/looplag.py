"""How long the event loop was kept from running anything else: the loop-lag monitor.

The loop serves calls (Twilio webhooks, FastAGI, AMI) and pages together, so
one request that holds it (pandas, a chart, a long JSON dump, a blocking
call) delays every call of the process by as long. Guarantees:
- Every app runs one `LoopLag` task (`LOOP_LAG`), started and stopped with
  the app: it sleeps `INTERVAL_S` at a time and takes how much later than
  asked it woke up as the time the loop was blocked.
- `/metrics` shows `callcenter_event_loop_lag_seconds` (histogram of the
  samples) and `callcenter_event_loop_lag_max_seconds` (the longest since the
  process started): alert on the second above a few hundred milliseconds.
- `LoopLag.worst` is the longest block since the last `reset()` (tests
  measure what one request did to the loop with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.heap import GC_PAUSES
from callcenter.metrics import REGISTRY

INTERVAL_S = 0.02
LAG = REGISTRY.histogram("callcenter_event_loop_lag_seconds",
                         "how much later than asked the loop-lag probe woke up (the loop was busy)")
LAG_MAX = REGISTRY.gauge("callcenter_event_loop_lag_max_seconds",
                         "the longest time the event loop was blocked since the process started")


class LoopLag:
    """A task measuring how late the loop wakes it: the longest block, since start and reset."""

    def __init__(self, interval_s: float = INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.worst = 0.0
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    def reset(self) -> None:
        self.worst = 0.0
        self.samples = 0

    async def _run(self) -> None:
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(self.interval_s)
            lag = max(0.0, time.perf_counter() - asked - self.interval_s)
            self.samples += 1
            if lag > self.worst:
                self.worst = lag
            LAG.observe(lag)
            if lag > LAG_MAX.get():
                LAG_MAX.set(lag)
            GC_PAUSES.publish()

    def start(self) -> None:
        if self._task is None:
            GC_PAUSES.install()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


LOOP_LAG = web.AppKey("loop_lag", LoopLag)


async def loop_lag_ctx(app: web.Application) -> AsyncIterator[None]:
    app[LOOP_LAG].start()
    yield
    await app[LOOP_LAG].stop()
