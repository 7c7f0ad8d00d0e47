"""CPU-heavy work off the event loop, a bounded number at a time.

The event loop serves calls (Twilio webhooks, FastAGI) and pages together, so
nothing that burns CPU for more than a few milliseconds runs on it. Guarantees:
- `CpuPool.run(fn, *args)` runs `fn` in one of CPU_WORKERS threads: for C
  work that releases the GIL (argon2 password hashing). At most that many run
  at once; the others wait without blocking the loop. The threads run at a
  lower CPU priority (nice +10) than the loop's, so a busy machine serves the
  loop first.
- `CpuPool.run_in_process(fn, *args)` runs a module-level `fn` in one of
  CPU_WORKERS worker processes (spawned once per service process, niced):
  for work that holds the GIL (pandas, matplotlib charts and PDF pages,
  openpyxl), which a thread would still share with the loop.
- `CpuPool.run_with_database(url, fn, *args)` runs a module-level
  `async fn(db, *args)` (a report: database reads, scoring, rendering) in such
  a process, on its own event loop with its own connections to the database.
  `in_worker(app, fn, *args)` is that on the app's database.
- `fn` may be named as ``"package.module:function"``: it is imported in the
  worker only, so the serving process never loads pandas, numpy, matplotlib
  or openpyxl (importing pandas alone holds the loop 0.3-1 s; a test reads
  the serving process's memory map for them).
- `IoThreads(name, size)`: blocking client libraries (the Twilio REST client,
  smtplib) each in their own bounded threads, never the loop's default
  executor, which resolves host names (`getaddrinfo`) for every outgoing
  connection: a carrier or mail server that stops answering holds its own
  threads (each call has a timeout), not DNS for the database and the rest.
- One `CpuPool` per app (`CPU_POOL`), with its own worker processes, shut
  down with the app: jobs still running are ended then (SIGTERM stops the
  service at once, not when the last report is done). A worker process
  whose service process died exits within PARENT_CHECK_S. A dead worker
  process (out of memory) fails only the jobs it held; the next job gets a
  fresh pool.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import multiprocessing
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from aiohttp import web

from callcenter.appkeys import CPU_POOL, DB
from callcenter.storage.engine import Database

T = TypeVar("T")
NICENESS = 10


def _lower_priority() -> None:
    """Nice this thread (Linux schedules threads one by one) or process; elsewhere a no-op."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
    except (AttributeError, OSError):
        pass


def _worker_init() -> None:
    """In each worker process: a lower priority, and an exit as soon as the service process
    is gone (a killed parent would otherwise leave its idle workers waiting for ever: each
    holds both ends of its job queue's pipe, so it never reads an end of file)."""
    _lower_priority()
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


PARENT_CHECK_S = 1.0
STOP_WAIT_S = 2.0


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what waits, end the worker processes now (a job still running ends with them)."""
    workers = list((getattr(pool, "_processes", None) or {}).values())  # no public handle (3.11)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        process.terminate()
    for process in workers:
        process.join(STOP_WAIT_S)


def _resolve(fn: Callable[..., T] | str) -> Callable[..., T]:
    if not isinstance(fn, str):
        return fn
    module, _, name = fn.partition(":")
    found: Callable[..., T] = getattr(importlib.import_module(module), name)
    return found


def _call(fn: Callable[..., T] | str, *args: Any, **kwargs: Any) -> T:
    return _resolve(fn)(*args, **kwargs)


def _with_database(url: str, fn: Callable[..., Awaitable[T]] | str, *args: Any, **kwargs: Any) -> T:
    """In a worker process: open the database, run `fn(db, *args)` on a fresh loop, close."""
    job = _resolve(fn)

    async def main() -> T:
        db = Database.open(url, pool_size=2)
        try:
            return await job(db, *args, **kwargs)
        finally:
            await db.close()

    return asyncio.run(main())


class CpuPool:
    """Bounded worker threads and processes for CPU-heavy calls."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cpu",
                                            initializer=_lower_priority)
        self._processes: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _process_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("the service is stopping: no new CPU-heavy job")
            if self._processes is None:
                self._processes = ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_worker_init)
            return self._processes

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._processes is pool:
                self._processes = None
        _stop(pool)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def run_in_process(self, fn: Callable[..., T] | str, *args: Any, **kwargs: Any) -> T:
        pool = self._process_pool()
        try:
            return await asyncio.get_running_loop().run_in_executor(
                pool, functools.partial(_call, fn, *args, **kwargs))
        except BrokenProcessPool:
            self._drop(pool)
            raise

    async def run_with_database(self, url: str, fn: Callable[..., Awaitable[T]] | str,
                                *args: Any, **kwargs: Any) -> T:
        return await self.run_in_process(_with_database, url, fn, *args, **kwargs)

    def close(self) -> None:
        """The app stops: threads and worker processes end now, running jobs with them (a
        service told to stop must not wait minutes for a report nobody will receive)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            pool, self._processes, self._closed = self._processes, None, True
        if pool is not None:
            _stop(pool)


class IoThreads:
    """At most `size` blocking calls of one kind at once, in threads of their own."""

    def __init__(self, name: str, size: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def cpu_pool(app: web.Application) -> CpuPool:
    return app[CPU_POOL]


async def in_worker(app: web.Application, fn: Callable[..., Awaitable[T]] | str,
                    *args: Any, **kwargs: Any) -> T:
    """`fn(db, *args, **kwargs)` in a worker process, on the app's database."""
    return await app[CPU_POOL].run_with_database(app[DB].url, fn, *args, **kwargs)


async def cpu_pool_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    app[CPU_POOL].close()


async def cpu_pool_shutdown(app: web.Application) -> None:
    """`on_shutdown`: before the server waits for the requests in flight, so a request
    waiting for a report ends now (an error) instead of holding the stop until it is done."""
    app[CPU_POOL].close()
