"""CPU-heavy work off the event loop, a bounded number at a time.

The event loop serves calls (Twilio webhooks, FastAGI) and pages together, so
nothing that burns CPU for more than a few milliseconds runs on it: password
hashing (argon2 releases the GIL), report building and rendering (pandas,
matplotlib, openpyxl). Guarantees:
- `CpuPool.run(fn, *args)` runs `fn` in one of `CPU_WORKERS` threads; at most
  that many run at once, the others wait their turn without blocking the loop.
- The pool's threads run at a lower CPU priority (nice +10) than the event
  loop's thread, so on a busy machine the kernel serves the loop first.
- One pool per app (`CPU_POOL`), made by the app factory and shut down with
  the app; `cpu_pool(app)` is how request handlers reach it.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")
NICENESS = 10


class CpuPool:
    """A bounded pool of worker threads for CPU-heavy calls."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cpu",
                                            initializer=_lower_priority)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _lower_priority() -> None:
    """Nice this worker thread (Linux schedules threads one by one; elsewhere: no-op)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
    except (AttributeError, OSError):
        pass


CPU_POOL = web.AppKey("cpu_pool", CpuPool)


def cpu_pool(app: web.Application) -> CpuPool:
    return app[CPU_POOL]


async def cpu_pool_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    app[CPU_POOL].close()
