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
- With `stall_s` (LOOP_STALL_LOG_MS) above 0, a block longer than that is
  logged (WARNING) twice, once each: while it lasts, by a watchdog thread,
  with the stack the loop's thread is running (what holds it; not seen when C
  code or the garbage collector keeps the interpreter until the block is
  over), and when it ends, with how long it lasted and how much of it the
  garbage collector took (`callcenter.heap`). The watchdog wakes every
  `stall_s / 4`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.appkeys import LOOP_LAG
from callcenter.heap import GC_PAUSES
from callcenter.metrics import REGISTRY

log = logging.getLogger(__name__)

INTERVAL_S = 0.02
LAG = REGISTRY.histogram("callcenter_event_loop_lag_seconds",
                         "how much later than asked the loop-lag probe woke up (the loop was busy)")
LAG_MAX = REGISTRY.gauge("callcenter_event_loop_lag_max_seconds",
                         "the longest time the event loop was blocked since the process started")


class LoopLag:
    """A task measuring how late the loop wakes it: the longest block, since start and reset."""

    def __init__(self, interval_s: float = INTERVAL_S, stall_s: float = 0.0) -> None:
        self.interval_s = interval_s
        self.stall_s = stall_s
        self.worst = 0.0
        self.samples = 0
        self._task: asyncio.Task[None] | None = None
        self._asked = time.perf_counter()  # when the probe last went to sleep
        self._loop_thread = 0
        self._seen = 0.0  # the `_asked` of the last block the watchdog logged
        self._watchdog: threading.Thread | None = None
        self._stopping = threading.Event()

    def reset(self) -> None:
        self.worst = 0.0
        self.samples = 0

    async def _run(self) -> None:
        while True:
            asked = self._asked = time.perf_counter()
            collecting = GC_PAUSES.total_s
            await asyncio.sleep(self.interval_s)
            lag = max(0.0, time.perf_counter() - asked - self.interval_s)
            self.samples += 1
            if lag > self.worst:
                self.worst = lag
            LAG.observe(lag)
            if lag > LAG_MAX.get():
                LAG_MAX.set(lag)
            GC_PAUSES.publish()
            if self.stall_s and lag > self.stall_s:
                log.warning("the event loop was blocked %.0f ms, %.0f ms of it collecting garbage",
                            lag * 1000, (GC_PAUSES.total_s - collecting) * 1000)

    def _watch(self) -> None:
        """The watchdog thread: the loop's stack, once per block longer than `stall_s`."""
        while not self._stopping.wait(self.stall_s / 4):
            asked = self._asked
            late = time.perf_counter() - asked - self.interval_s
            if late <= self.stall_s or asked == self._seen:
                continue
            frame = sys._current_frames().get(self._loop_thread)
            stack = "".join(traceback.format_stack(frame)) if frame is not None else "(no frame)"
            if self._asked != asked:
                continue  # the block was over by the time the interpreter let us look
            self._seen = asked
            log.warning("the event loop has been blocked for %.0f ms so far; it is running:\n%s",
                        late * 1000, stack)

    def start(self) -> None:
        if self._task is None:
            GC_PAUSES.install()
            self._loop_thread = threading.get_ident()
            self._asked = time.perf_counter()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")
            if self.stall_s > 0:
                self._stopping.clear()
                self._watchdog = threading.Thread(target=self._watch, name="loop-watchdog",
                                                  daemon=True)
                self._watchdog.start()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._watchdog is not None:
            self._stopping.set()
            self._watchdog.join()
            self._watchdog = None


async def loop_lag_ctx(app: web.Application) -> AsyncIterator[None]:
    app[LOOP_LAG].start()
    yield
    await app[LOOP_LAG].stop()
