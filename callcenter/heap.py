"""What the garbage collector walks while the event loop waits.

A full (generation 2) collection stops every thread of the process, the loop's
too, for as long as it takes to visit every object it tracks: ~0.15 s per
million here. CPython starts one by itself whenever a quarter more objects
survived since the last one, in whatever request happens to allocate then, so
a big heap stalls the calls at random (a full test run, 12 million objects:
2 s, during a campaign upload). Guarantees:
- While an app runs, every object that existed when it finished starting
  (modules, tables, IVR flows, prompts: ~150k in `callcenter serve`; in a
  process that hosts the app, all it held before) is out of the collector's
  sight (`gc.freeze`): full collections walk only what was made since, a few
  thousand objects after hours of calls and 10,000-number campaign lists
  (a few ms instead of 150-250 ms, or seconds in a bigger host process).
  The young garbage is collected first; once the last app of the process
  stops, the objects are handed back to the collector (`gc.unfreeze`).
  Freezing and thawing are O(1).
- Every collection's pause, on any thread, is timed: the histogram
  `callcenter_gc_pause_seconds{generation}` on `/metrics` (a growing
  generation-2 pause is a heap growing since start-up), and `GC_PAUSES.total_s`
  the seconds spent collecting since the process started (the loop-lag
  monitor tells how much of a block was collecting).
"""

from __future__ import annotations

import collections
import gc
import threading
import time
from typing import Any

from aiohttp import web

from callcenter.metrics import REGISTRY

PAUSE = REGISTRY.histogram(
    "callcenter_gc_pause_seconds",
    "how long one garbage collection stopped the process (every thread, the event loop's too)")


class GcPauses:
    """Times every collection through `gc.callbacks` (whichever thread runs it)."""

    def __init__(self) -> None:
        self.total_s = 0.0
        self.longest_s = {0: 0.0, 1: 0.0, 2: 0.0}
        self._started = 0.0
        self._unpublished: collections.deque[tuple[int, float]] = collections.deque(maxlen=10_000)
        self._installed = False
        self._lock = threading.Lock()

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        # runs inside the collection, with the interpreter held: no allocation worth naming
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        generation = int(info["generation"])
        self.total_s += took
        if took > self.longest_s[generation]:
            self.longest_s[generation] = took
        self._unpublished.append((generation, took))  # deque.append: safe from any thread

    def install(self) -> None:
        with self._lock:
            if not self._installed:
                gc.callbacks.append(self._callback)
                self._installed = True

    def publish(self) -> None:
        """Onto `/metrics`, from the event loop (the registry is the loop's only)."""
        while self._unpublished:
            generation, took = self._unpublished.popleft()
            PAUSE.observe(took, generation=str(generation))


GC_PAUSES = GcPauses()
_frozen_by: set[int] = set()  # the apps of this process running with the heap frozen (ids)


async def freeze_startup_objects(app: web.Application) -> None:
    """`on_startup`, after every feature's start-up: the young garbage collected, what is
    left frozen for the app's life."""
    GC_PAUSES.install()
    gc.collect(1)
    gc.freeze()
    _frozen_by.add(id(app))


async def thaw_startup_objects(app: web.Application) -> None:
    """`on_cleanup`: once the last app of the process stopped, its objects can be collected
    (an app whose start-up failed before freezing thaws nothing)."""
    if id(app) not in _frozen_by:
        return
    _frozen_by.discard(id(app))
    if not _frozen_by:
        gc.unfreeze()


def setup(app: web.Application) -> None:
    """Last in `create_app`: runs after every other start-up hook."""
    app.on_startup.append(freeze_startup_objects)
    app.on_cleanup.append(thaw_startup_objects)
