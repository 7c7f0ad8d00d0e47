"""`callcenter serve`: run the HTTP service (with FastAGI, AMI and the job loop).

Guarantees:

- `--workers N` (HTTP_WORKERS) runs N worker processes that all bind the same
  HTTP port with SO_REUSEPORT; the kernel spreads new connections over them.
  Only worker 0 runs the job loop and stands for the telephony lease
  (`callcenter.owner`: FastAGI, AMI and the callback dispatcher run in one
  process of the whole site at a time, even across hosts or compose replicas);
  the other workers serve HTTP only. With N = 1 (the default) the service runs in this process.
- SIGINT or SIGTERM to the parent stops every worker gracefully (SIGTERM,
  then SIGKILL after `STOP_GRACE_S`) and exits 0 when they all stopped
  cleanly. A worker that dies on its own is reported with its exit code; the
  parent then stops the others and exits 1. A worker whose parent vanishes
  stops itself.
- EVENT_LOOP picks the event loop of every worker (default `asyncio`): `uvloop` (the
  optional `fast` extra), `asyncio` (the standard loop) or `auto` (uvloop
  when it is installed). `/metrics` shows the loop a worker really runs.
- Unsafe configuration (a default or empty secret outside DEV_MODE,
  `callcenter.safe_config`) stops it before anything opens: one line per
  setting to change on stderr, exit code 2.
- Before serving, the database must answer and AMI (when on) must not refuse
  our login (`callcenter.preflight`); otherwise one line says which setting to
  change and the exit code is 2.
- `serve_http(...)` is the one way a worker runs the app; the benchmark's
  worker processes call it too.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import wait
from types import FrameType

from aiohttp import web

from callcenter.app import create_app
from callcenter.logs import setup_logging
from callcenter.preflight import startup_problem
from callcenter.safe_config import unsafe_settings
from callcenter.settings import Settings

log = logging.getLogger(__name__)

STOP_GRACE_S = 65.0
"""How long stopping workers get before SIGKILL: aiohttp's own 60 s shutdown timeout, and a bit."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "serve", help="run the service",
        description="Run the service. With --workers N, N processes share the HTTP port "
        "(SO_REUSEPORT); only the first runs the job loop, FastAGI and AMI, the others "
        "serve HTTP only. EVENT_LOOP=auto|asyncio|uvloop picks the event loop.",
    )
    parser.add_argument("--host", help="HTTP bind address (HTTP_HOST)")
    parser.add_argument("--port", type=int, help="HTTP port (HTTP_PORT)")
    parser.add_argument(
        "--workers", type=int,
        help="HTTP worker processes sharing the port (HTTP_WORKERS); only the first runs "
        "the job loop, FastAGI and AMI",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    host = args.host or settings.http_host
    port = args.port or settings.http_port
    workers = args.workers if args.workers is not None else settings.http_workers
    if workers < 1:
        print(f"--workers must be at least 1, got {workers}", file=sys.stderr)
        return 2
    refusals = unsafe_settings(settings)
    if refusals:
        for line in refusals:
            print(f"configuration error: {line}", file=sys.stderr)
        return 2
    try:
        resolve_event_loop(settings.event_loop)
    except RuntimeError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    problem = startup_problem(settings)
    if problem is not None:
        print(f"configuration error: {problem}", file=sys.stderr)
        return 2
    if workers == 1:
        serve_http(settings, host=host, port=port)
        return 0
    return supervise(settings, host=host, port=port, workers=workers)


def resolve_event_loop(choice: str) -> str:
    """`auto` | `asyncio` | `uvloop` -> the loop to run, `asyncio` or `uvloop`.

    Raises RuntimeError when `uvloop` is asked for but not installed.
    """
    if choice == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError as exc:
        if choice == "uvloop":
            raise RuntimeError(
                "EVENT_LOOP=uvloop but uvloop is not installed (pip install 'callcenter[fast]')"
            ) from exc
        return "asyncio"
    return "uvloop"


def new_event_loop(choice: str) -> asyncio.AbstractEventLoop:
    """A fresh event loop of the kind EVENT_LOOP `choice` resolves to."""
    if resolve_event_loop(choice) == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def serve_http(settings: Settings, *, host: str, port: int, reuse_port: bool = False) -> None:
    """Run the app in this process on `host:port` until SIGINT/SIGTERM, on EVENT_LOOP's loop."""
    loop = new_event_loop(settings.event_loop)
    log.info("serving on %s:%d (pid %d, %s loop)", host, port, os.getpid(),
             type(loop).__module__.split(".")[0])
    app = create_app(settings)  # freezes what start-up made (`callcenter.heap`)
    web.run_app(app, host=host, port=port, access_log=None, print=None,
                reuse_port=reuse_port or None, loop=loop)


def worker_settings(settings: Settings, index: int) -> Settings:
    """The settings of worker `index`: only worker 0 runs the job loop, FastAGI and AMI."""
    if index == 0:
        return settings
    return settings.model_copy(
        update={"job_loop_enabled": False, "fastagi_enabled": False, "ami_enabled": False}
    )


def _worker_main(settings: Settings, host: str, port: int, index: int, parent: int) -> None:
    """Entry point of one spawned worker process."""
    os.setpgid(0, 0)  # a terminal's Ctrl-C reaches the parent only; it stops us with SIGTERM
    setup_logging(settings.log_level, settings.log_json)
    threading.Thread(target=_stop_when_orphaned, args=(parent,), daemon=True,
                     name="parent-watch").start()
    serve_http(worker_settings(settings, index), host=host, port=port, reuse_port=True)


def _stop_when_orphaned(parent: int) -> None:
    """SIGTERM ourselves (a graceful stop) once the supervising parent is gone."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def supervise(settings: Settings, *, host: str, port: int, workers: int) -> int:
    """Run `workers` worker processes on one port until a signal or a worker's death."""
    if settings.is_sqlite:
        log.warning("%d workers on SQLite: writers queue on one file and screen pops reach "
                    "only agents on the same worker; use PostgreSQL", workers)
    context = multiprocessing.get_context("spawn")
    procs = [
        context.Process(target=_worker_main, args=(settings, host, port, i, os.getpid()),
                        name=f"callcenter-worker-{i}")
        for i in range(workers)
    ]
    stop: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    failed = False
    try:
        for proc in procs:
            proc.start()
        log.info("started %d workers on %s:%d: pids %s", workers, host, port,
                 ", ".join(str(p.pid) for p in procs))
        while not stop:
            for proc in procs:
                if proc.exitcode is not None:
                    _report_death(proc)
                    failed = True
            if failed:
                break
            wait([p.sentinel for p in procs], timeout=0.5)
        if stop:
            log.info("signal %s: stopping %d workers", signal.Signals(stop[0]).name, workers)
    finally:
        failed = _stop_all(procs) or failed
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 1 if failed else 0


def _report_death(proc: multiprocessing.process.BaseProcess) -> None:
    code = proc.exitcode
    how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 \
        else f"exit code {code}"
    log.error("worker %s (pid %s) died with %s", proc.name, proc.pid, how)
    print(f"callcenter serve: {proc.name} (pid {proc.pid}) died with {how}", file=sys.stderr)


def _stop_all(procs: Sequence[multiprocessing.process.BaseProcess]) -> bool:
    """SIGTERM the live workers, SIGKILL them after STOP_GRACE_S; True if any stopped badly."""
    running = [p for p in procs if p.pid is not None and p.exitcode is None]
    for proc in running:
        proc.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    bad = False
    for proc in running:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.exitcode is None:
            log.error("worker %s (pid %s) did not stop within %.0f s; killing it",
                      proc.name, proc.pid, STOP_GRACE_S)
            proc.kill()
            proc.join()
            bad = True
        elif proc.exitcode not in (0, -signal.SIGTERM):  # not yet serving: SIGTERM's default
            _report_death(proc)
            bad = True
    return bad
