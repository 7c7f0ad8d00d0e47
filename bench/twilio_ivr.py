"""N concurrent simulated Twilio callers through the whole survey, on PostgreSQL.

    python bench/twilio_ivr.py                 # 1000 calls, paced like people
    python bench/twilio_ivr.py --calls 200 --think-ms 0   # closed loop: raw capacity

What it does, honestly:
- creates a throwaway database ``cc_bench_<random>`` on 127.0.0.1:5432 (admin
  DSN from BENCH_PG_DSN), migrates it, loads one customer with a completed
  service job per caller, and drops the database at the end;
- starts the real service (``create_app``, the same code ``callcenter serve``
  runs) in ``--workers`` separate processes sharing one port (SO_REUSEPORT),
  with the job loop, FastAGI and AMI off;
- rings it with ``--calls`` simulated callers at once: survey, grades,
  confirm, goodbye, then the ``completed`` status callback: 8 webhooks
  ("steps") per call. The callers are `lean_caller.LeanCaller`: a raw
  HTTP/1.1 client (asyncio protocol, keep-alive connections shared through a
  pool) that sends what the tests' `SimulatedCaller` sends, form-encoded and
  signed with Twilio's RequestValidator, parses the TwiML and follows it
  (``<Gather>`` action, ``<Redirect>``, ``<Hangup/>``), and fails a call
  loudly on TwiML or HTTP it does not understand, or on a webhook left
  unanswered for 60 s (the kinds of failure go to stderr). Why not
  `SimulatedCaller` on aiohttp: the generator shares the 2 cores with the
  service and PostgreSQL, and aiohttp's client cost 1.3-1.5 ms of CPU per
  webhook here, taken from the service; the lean client costs about 0.2 ms
  against today's service and 0.1 ms at 3000 webhooks/s (the "load
  generator" CPU per step below shows it);
- a caller waits ``--think-ms`` between webhooks (people need seconds; the
  default offers the target rate), starts are spread over one think time;
- prints steps/s (all webhooks / wall time of the run), p50 / p99 / max
  webhook latency as the caller sees it (overall and per webhook), errors,
  and checks that every survey was stored complete;
- prints where the CPU went, per step: the service workers, the load
  generator (this process) and the PostgreSQL backends of the bench
  database: these hardly depend on what else the machine is doing, unlike
  steps/s and latency, so the load average before and after is printed too;
- then measures the HTTP floor: the service CPU of a request no route takes
  (a 404 through aiohttp, our middlewares and the kernel), the part of every
  step that no IVR or database work can remove;
- first audits one call in-process and prints the database round trips of
  each webhook: SQLAlchemy statements by verb (+ BEGIN/COMMIT/ROLLBACK and
  pool pings) and the fast path's statements by batcher (alone, one call's
  statement carries only its own turn; under load it carries many).

Target on the 2-core reference machine: >= 3000 steps/s and p99 < 20 ms.
The simulated callers, PostgreSQL and the service share the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import secrets
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
from harness import (
    ADMIN_DSN,
    admin,
    free_port,
    pct,
    phone,
    serve,
    start_workers,
    stop_workers,
    wait_healthy,
    with_database,
)
from sqlalchemy import event

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SURVEY = ("2", "1", "2", "1", "1", "2")  # survey; A, B, A; confirm; goodbye
STEPS_PER_CALL = 8
TARGET_STEPS_S = 3000
TARGET_P99_MS = 20.0


# -- the throwaway database -------------------------------------------------------------------


async def _load(dsn: str, calls: int) -> None:
    """One department, and per caller a customer, a phone and a completed job (COPY: fast)."""
    conn = await asyncpg.connect(dsn)
    try:
        now = datetime.now(UTC)
        dep = await conn.fetchval(
            "INSERT INTO departments (code, name, created_at, updated_at) "
            "VALUES ('SVC', 'Service', $1, $1) RETURNING id", now)
        tech = await conn.fetchval(
            "INSERT INTO staff (username, name, roles, department_id, active, created_at, updated_at)"
            " VALUES ('tech-bench', 'Tech', '[\"technician\"]', $1, true, $2, $2) RETURNING id",
            dep, now)
        await conn.copy_records_to_table(
            "customers", columns=["id", "name", "language", "timezone", "value_grade",
                                  "vip_high_spend", "vip_official", "vip_public_figure",
                                  "vip_journalist", "do_not_call", "verified", "department_id",
                                  "created_at", "updated_at"],
            records=[(i + 1, f"caller {i}", "zh-CN", "Asia/Shanghai", "normal", False, False,
                      False, False, False, True, dep, now, now) for i in range(calls)])
        await conn.copy_records_to_table(
            "customer_phones", columns=["customer_id", "e164", "is_primary", "created_at"],
            records=[(i + 1, phone(i), True, now) for i in range(calls)])
        await conn.copy_records_to_table(
            "service_jobs", columns=["reference", "customer_id", "technician_id", "department_id",
                                     "completed_at", "created_at", "updated_at"],
            records=[(f"B-{i}", i + 1, tech, dep, now, now, now) for i in range(calls)])
        await conn.execute("SELECT setval('customers_id_seq', $1)", calls)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


# -- the service --------------------------------------------------------------------------------


def _start_workers(url: str, port: int, token: str, workers: int, pool: int) -> list[subprocess.Popen[bytes]]:
    return start_workers(url, port, workers, pool,
                         {"TWILIO_AUTH_TOKEN": token, "OPENING_HOURS": "00:00-23:59"})


# -- the callers --------------------------------------------------------------------------------


async def _callers(base: str, token: str, calls: int, think_s: float, first: int = 0,
                   ) -> tuple[list[float], int, int, float, dict[str, list[float]]]:
    from lean_caller import CallOutcome, ConnectionPool, LeanCaller, Pacer

    loop = asyncio.get_running_loop()
    host, port = base.split("://", 1)[1].rsplit(":", 1)
    pool = ConnectionPool(host, int(port))
    think = Pacer(loop, think_s) if think_s else None
    calls_done: list[asyncio.Future[CallOutcome]] = [loop.create_future() for _ in range(calls)]

    def start(i: int) -> None:
        try:
            LeanCaller(pool, base, token, from_number=phone(first + i)).start(
                SURVEY, think, calls_done[i])
        except Exception as exc:  # the call fails, loudly, and the run goes on
            calls_done[i].set_exception(exc)

    # This process imported the whole service for the audit: keep the collector from walking
    # those objects on every full collection the callers' garbage triggers (a load generator
    # on its own would not have them); `unfreeze` puts them back afterwards.
    gc.freeze()
    started = time.perf_counter()
    for i in range(calls):  # spread the starts over one think time
        loop.call_later(think_s * i / calls, start, i)
    try:
        outcomes = await asyncio.gather(*calls_done, return_exceptions=True)
    finally:
        pool.close()
        gc.unfreeze()
    wall = time.perf_counter() - started
    latencies: list[float] = []
    by_path: dict[str, list[float]] = {}
    failed = 0
    errors: dict[str, int] = {}
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            failed += 1
            kind = f"{type(outcome).__name__}: {outcome}"
            errors[kind] = errors.get(kind, 0) + 1
            continue
        latencies.extend(outcome.latencies)
        for path, latency in zip(outcome.paths, outcome.latencies, strict=True):
            by_path.setdefault(path, []).append(latency)
        failed += 0 if outcome.ok else 1
    for kind, count in sorted(errors.items(), key=lambda item: -item[1])[:5]:
        print(f"  caller error x{count}: {kind}", file=sys.stderr)
    return latencies, len(latencies), failed, wall, by_path


async def _http_floor(base: str, pids: list[int], requests: int = 4000,
                      in_flight: int = 50) -> float:
    """Service CPU ms per request for a request no route takes (404): aiohttp, our
    middlewares and the kernel's share, with no IVR work at all; the floor under a step."""
    from lean_caller import ConnectionPool, Response

    loop = asyncio.get_running_loop()
    host, port = base.split("://", 1)[1].rsplit(":", 1)
    pool = ConnectionPool(host, int(port))
    request = f"GET /no-such-page HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode("ascii")
    done = loop.create_future()
    left = {"to_send": requests, "to_receive": requests}

    def answered(response: Response | BaseException) -> None:
        if isinstance(response, BaseException) or response.status != 404:
            if not done.done():
                done.set_exception(RuntimeError(f"the floor request got {response!r}"))
            return
        left["to_receive"] -= 1
        if left["to_receive"] == 0 and not done.done():
            done.set_result(None)
        elif left["to_send"]:
            left["to_send"] -= 1
            pool.request(request, answered)

    before = _cpu_s(pids)
    for _ in range(min(in_flight, requests)):
        left["to_send"] -= 1
        pool.request(request, answered)
    try:
        await done
    finally:
        pool.close()
    return (_cpu_s(pids) - before) * 1000 / requests


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds the service workers used so far (Linux /proc)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def _round_trips(url: str, token: str, phone: str) -> list[tuple[str, int, str]]:
    """One survey call against an in-process service whose engine counts what it sends:
    (webhook, round trips, breakdown) per webhook."""
    from aiohttp import web

    from callcenter.app import create_app
    from callcenter.appkeys import TWILIO_CHANNEL
    from callcenter.demo.simulated_twilio import SimulatedCaller
    from callcenter.settings import Settings
    from callcenter.storage.engine import Database

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    db = Database.open(url)
    counts: dict[str, int] = {}

    def count(kind: str) -> None:
        counts[kind] = counts.get(kind, 0) + 1

    def statement(_conn: object, _cursor: object, sql: str, *_rest: object) -> None:
        count(sql.split(None, 1)[0].upper())

    sync = db.engine.sync_engine
    event.listen(sync, "before_cursor_execute", statement)
    event.listen(sync, "begin", lambda _conn: count("BEGIN"))
    event.listen(sync, "commit", lambda _conn: count("COMMIT"))
    event.listen(sync, "rollback", lambda _conn: count("ROLLBACK"))
    if sync.pool._pre_ping:  # one ping per checkout
        event.listen(sync.pool, "checkout", lambda *_args: count("PING"))
    settings = Settings(
        database_url=url, twilio_auth_token=token, public_base_url=base,  # type: ignore[arg-type]
        job_loop_enabled=False, fastagi_enabled=False, ami_enabled=False, log_json=False,
        opening_hours="00:00-23:59", log_level="WARNING")  # type: ignore[arg-type]
    runner = web.AppRunner(create_app(settings, db=db), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    rows: list[tuple[str, int, str]] = []
    try:
        async with aiohttp.ClientSession() as http:
            sim = SimulatedCaller(http, base, token, from_number=phone)
            post = sim.post

            def fast_statements() -> dict[str, int]:
                """The fast path's statements so far, by batcher (raw asyncpg, not the engine)."""
                driver = runner.app[TWILIO_CHANNEL].driver
                batchers = getattr(driver.store, "batchers", ()) if driver is not None else ()
                return {b.name: b.flushes for b in batchers}

            async def counted(url_or_path: str, params: dict[str, str], **kw: object):  # type: ignore[no-untyped-def]
                counts.clear()
                before = fast_statements()
                exchange = await post(url_or_path, params, **kw)  # type: ignore[arg-type]
                for name, flushes in fast_statements().items():
                    if flushes - before.get(name, 0):
                        counts[name] = flushes - before.get(name, 0)
                path = exchange.url[len(base):]
                rows.append((path, sum(counts.values()),
                             ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))))
                return exchange

            sim.post = counted  # type: ignore[method-assign]
            await sim.call(SURVEY)
    finally:
        await runner.cleanup()
        await db.close()
    return rows


def _pg_cpu_s(db_name: str) -> float:
    """CPU seconds of the PostgreSQL backends serving `db_name` (Linux /proc)."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if db_name not in (proc / "cmdline").read_text():
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def _count_surveys(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM surveys WHERE complete"))
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> int:
    from callcenter.storage import migrate

    load = os.getloadavg()[0]
    name = f"cc_bench_{secrets.token_hex(6)}"
    dsn = with_database(ADMIN_DSN, name)
    url = dsn.replace("postgresql://", "postgresql+asyncpg://")
    token = secrets.token_hex(16)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    think_s = args.think_ms / 1000 if args.think_ms is not None else \
        args.calls / TARGET_STEPS_S
    await admin(f'CREATE DATABASE "{name}"')
    workers: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        if args.async_commit:
            await admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        await _load(dsn, args.calls + args.capacity_calls + 1)
        audit = await _round_trips(url, token, phone(args.calls + args.capacity_calls))
        workers = _start_workers(url, port, token, args.workers, args.pool)
        await wait_healthy(base)
        await admin("CHECKPOINT")  # a previous bench's dirty pages are not flushed during ours
        if args.capacity_calls:  # closed loop first: what one run of the service can take
            cap_lat, cap_steps, cap_failed, cap_wall, _ = await _callers(
                base, token, args.capacity_calls, 0.0, first=args.calls)
        cpu_before = _cpu_s([w.pid for w in workers])
        pg_before, own_before = _pg_cpu_s(name), time.process_time()
        latencies, steps, failed, wall, by_path = await _callers(base, token, args.calls, think_s)
        cpu = _cpu_s([w.pid for w in workers]) - cpu_before
        pg_cpu, own_cpu = _pg_cpu_s(name) - pg_before, time.process_time() - own_before
        load_after = os.getloadavg()[0]
        floor_ms = await _http_floor(base, [w.pid for w in workers])
        stored = await _count_surveys(dsn) - 1 - (  # the audit's call, the capacity run's
            args.capacity_calls - cap_failed if args.capacity_calls else 0)
    finally:
        stop_workers(workers)
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print("round trips to PostgreSQL per webhook (one survey call, audited in-process; "
          "SQLAlchemy statements by verb, fast-path statements by batcher):")
    for path, trips, breakdown in audit:
        print(f"  {path:<22} {trips:3d}   ({breakdown})")
    if args.capacity_calls:
        cap = sorted(cap_lat)
        print(f"capacity (closed loop, {args.capacity_calls} callers, no think time): "
              f"{cap_steps / cap_wall:.0f} steps/s, p50 {pct(cap, 0.5) * 1000:.1f} ms, "
              f"p99 {pct(cap, 0.99) * 1000:.1f} ms, {cap_failed} failed calls")
    ordered = sorted(latencies)
    rate = steps / wall if wall else 0.0
    p50, p99 = pct(ordered, 0.50) * 1000, pct(ordered, 0.99) * 1000
    print(f"twilio_ivr: {args.calls} concurrent calls x {STEPS_PER_CALL} signed webhooks "
          f"(whole survey + status), {args.workers} service worker(s), PostgreSQL, "
          f"think time {think_s * 1000:.0f} ms"
          + (", synchronous_commit=off" if args.async_commit else ""))
    print(f"  steps:      {steps} in {wall:.2f} s = {rate:.0f} steps/s   "
          f"(target >= {TARGET_STEPS_S}: {'met' if rate >= TARGET_STEPS_S else 'NOT met'})")
    print(f"  latency:    p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {ordered[-1] * 1000:.1f} ms, "
          f"mean {statistics.fmean(ordered) * 1000:.1f} ms   "
          f"(target p99 < {TARGET_P99_MS:.0f} ms: {'met' if p99 < TARGET_P99_MS else 'NOT met'})")
    print("  by webhook: " + ", ".join(
        f"{path.removeprefix('/twilio/')} p50 {pct(sorted(v), 0.5) * 1000:.0f} / "
        f"p99 {pct(sorted(v), 0.99) * 1000:.0f} ms" for path, v in sorted(by_path.items())))
    per_step = 1000 / max(steps, 1)
    print(f"  CPU/step:   service {cpu * per_step:.2f} ms ({cpu / wall * 100 if wall else 0:.0f} % "
          f"of one core), load generator {own_cpu * per_step:.2f} ms, PostgreSQL "
          f"{pg_cpu * per_step:.2f} ms")
    print(f"  floor:      a request no route takes (404) costs the service "
          f"{floor_ms:.2f} ms CPU: aiohttp, the middlewares and the kernel, with no IVR "
          f"work; at {TARGET_STEPS_S} steps/s that alone is "
          f"{floor_ms * TARGET_STEPS_S / 1000 / (os.cpu_count() or 1) * 100:.0f} % of "
          f"the {os.cpu_count()} cores")
    print(f"  machine:    load average {load:.1f} before, {load_after:.1f} after the run, on "
          f"{os.cpu_count()} cores shared by the service, the load generator and PostgreSQL")
    print(f"  calls:      {args.calls - failed} completed, {failed} failed; "
          f"{stored} complete surveys stored")
    return 0 if failed == 0 and stored == args.calls else 1


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="concurrent simulated calls")
    parser.add_argument("--think-ms", type=float, default=None,
                        help="caller pause between webhooks (default: calls / 3000 s)")
    parser.add_argument("--capacity-calls", type=int, default=50,
                        help="closed-loop callers run first to measure capacity (0: skip)")
    parser.add_argument("--async-commit", action="store_true",
                        help="synchronous_commit=off for the bench database (a tuning to compare)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="service processes sharing the port (default: one per core)")
    parser.add_argument("--pool", type=int, default=10, help="DB pool size per worker")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = _args(sys.argv[1:])
    if arguments.serve:
        serve(arguments.serve)
    else:
        sys.exit(asyncio.run(main(arguments)))
