"""Twilio IVR at light load: paced callers with think time, a handful at once (issue 19).

    python bench/twilio_light.py                      # 5 callers x 4 calls, 1 s think
    python bench/twilio_light.py --callers 3 --calls-each 2 --think-ms 500

Targets per webhook at light load, and per service process:
- at most 1 commit and 2 client-server round trips to PostgreSQL per webhook;
- at most 100 MB RSS per worker after the bench;
- at most 10 PostgreSQL connections held by the process.

What it does, honestly:
- a throwaway database ``cc_bench_<random>`` (admin DSN from BENCH_PG_DSN),
  migrated with our Alembic migrations, one customer with a completed job per call;
- one real service worker (`harness.serve`, the code ``callcenter serve`` runs;
  settings at their defaults but the ones a bench needs: Twilio token, opening
  hours, job loop / FastAGI / AMI off) in its own process. `pg_audit` counts
  inside it every asyncpg call that waits for the server (simple queries such as
  BEGIN/COMMIT, statement prepares, executes, connects), whoever sends it, and
  serves the counts to this process;
- first one call alone (`SimulatedCaller`, every webhook signed with Twilio's
  RequestValidator), the worker's counts read before and after each webhook: the
  round trips of each webhook by kind (with one call in flight nothing else runs);
- then the light load: ``--callers`` callers at once, each making
  ``--calls-each`` whole survey calls one after the other (`LeanCaller`, signed
  like Twilio), ``--think-ms`` between webhooks; every webhook is counted;
- commits: the server's own count (autovacuum is off for the bench database's
  tables, its transactions would count too) (``pg_stat_database.xact_commit`` of the bench
  database; read after the statistics of the idle backends were flushed, and
  after the worker stopped, so every backend reported) over the light-load run,
  and the COMMITs the worker sent; round trips: the worker's counts over the run;
  both divided by the webhooks. The targets are the webhooks' own work; what
  the worker does on its own clock whatever the traffic (the agent
  availability refresh, one read every 2 s, told apart by its task:
  `pg_audit.BACKGROUND`) is shown beside it, per webhook at this pace, and in
  the server's count;
- connections: ``pg_stat_activity`` rows of the bench database (only the worker
  connects to it), sampled every 50 ms from the start of the worker to its end;
  memory: the worker's VmRSS after the bench (and VmHWM, its peak) from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import asyncpg
from harness import ADMIN_DSN, admin, free_port, phone, start_workers, wait_healthy, with_database
from pg_audit import modules, read
from twilio_ivr import SURVEY, _count_surveys, _load

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MAX_COMMITS, MAX_ROUND_TRIPS, MAX_RSS_MB, MAX_CONNECTIONS = 1.0, 2.0, 100.0, 10


_BG = "background "


def _own(counts: Counter[str]) -> Counter[str]:
    """The webhooks' own counts (the worker's background work left out)."""
    return Counter({k: v for k, v in counts.items() if not k.startswith(_BG)})


def _background(counts: Counter[str]) -> Counter[str]:
    return Counter({k[len(_BG):]: v for k, v in counts.items() if k.startswith(_BG)})


def _round_trips(counts: Counter[str]) -> int:
    return sum(v for k, v in counts.items() if k != "connect" and not k.startswith("txn"))


def _breakdown(counts: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())
                     if v and not k.startswith("txn"))


def _commits(counts: Counter[str]) -> str:
    return f"{counts['txn commit']} commit(s), {counts['txn rollback']} rollback(s)"


def _proc_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def _no_autovacuum(dsn: str) -> None:
    """Autovacuum's transactions count in pg_stat_database too: none in the bench database."""
    conn = await asyncpg.connect(dsn)
    try:
        for (table,) in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"):
            await conn.execute(f'ALTER TABLE "{table}" SET (autovacuum_enabled = off)')
    finally:
        await conn.close()


async def _xacts(name: str) -> tuple[int, int]:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        row = await conn.fetchrow(
            "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = $1", name)
        return int(row["xact_commit"]), int(row["xact_rollback"])
    finally:
        await conn.close()


class ConnectionSampler:
    """The most connections the bench database had at once (pg_stat_activity, every 50 ms)."""

    def __init__(self, name: str) -> None:
        self.name, self.peak, self.now = name, 0, 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._conn = await asyncpg.connect(ADMIN_DSN)  # another database: not counted
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.now = int(await self._conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", self.name))
            self.peak = max(self.peak, self.now)
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._conn.close()


async def _audit_one_call(base: str, token: str, audit_port: int, number: str
                          ) -> list[tuple[str, Counter[str]]]:
    """One call alone: the worker's round trips of each webhook."""
    from callcenter.demo.simulated_twilio import SimulatedCaller

    rows: list[tuple[str, Counter[str]]] = []
    async with aiohttp.ClientSession() as http:
        sim = SimulatedCaller(http, base, token, from_number=number)
        post = sim.post

        async def counted(url_or_path: str, params: dict[str, str], **kw: object):  # type: ignore[no-untyped-def]
            before = await asyncio.to_thread(read, audit_port)
            exchange = await post(url_or_path, params, **kw)  # type: ignore[arg-type]
            after = await asyncio.to_thread(read, audit_port)
            rows.append((exchange.url[len(base):], _own(after - before)))
            return exchange

        sim.post = counted  # type: ignore[method-assign]
        await sim.call(SURVEY)
    return rows


async def _light_load(base: str, token: str, callers: int, calls_each: int, think_s: float,
                      first: int) -> tuple[int, int, list[float]]:
    """(webhooks, failed calls, latencies): `callers` at once, each its calls in turn."""
    from lean_caller import ConnectionPool, LeanCaller, Pacer

    loop = asyncio.get_running_loop()
    host, port = base.split("://", 1)[1].rsplit(":", 1)
    pool = ConnectionPool(host, int(port))
    pacer = Pacer(loop, think_s)
    webhooks, failed, latencies = 0, 0, []

    async def caller(slot: int) -> None:
        nonlocal webhooks, failed
        await asyncio.sleep(think_s * slot / callers)  # spread the starts
        for n in range(calls_each):
            number = phone(first + slot * calls_each + n)
            try:
                outcome = await LeanCaller(pool, base, token, from_number=number).start(
                    SURVEY, pacer)
            except Exception as exc:  # counted and shown, the run goes on
                print(f"  caller error: {type(exc).__name__}: {exc}", file=sys.stderr)
                failed += 1
                continue
            webhooks += len(outcome.latencies)
            latencies.extend(outcome.latencies)
            failed += 0 if outcome.ok else 1

    try:
        await asyncio.gather(*(caller(slot) for slot in range(callers)))
    finally:
        pool.close()
    return webhooks, failed, latencies


async def main(args: argparse.Namespace) -> int:
    from callcenter.settings import Settings
    from callcenter.storage import migrate

    name = f"cc_bench_{secrets.token_hex(6)}"
    dsn = with_database(ADMIN_DSN, name)
    url = dsn.replace("postgresql://", "postgresql+asyncpg://")
    token = secrets.token_hex(16)
    port, audit_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    calls = args.callers * args.calls_each
    pool_size = Settings.model_fields["db_pool_size"].default
    await admin(f'CREATE DATABASE "{name}"')
    worker = None
    sampler = ConnectionSampler(name)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        await _load(dsn, calls + 2)
        await _no_autovacuum(dsn)
        await sampler.start()
        (worker,) = start_workers(url, port, 1, pool_size, {
            "TWILIO_AUTH_TOKEN": token, "OPENING_HOURS": "00:00-23:59",
            "BENCH_AUDIT_PORT": str(audit_port)})
        await wait_healthy(base)
        cold = await _audit_one_call(base, token, audit_port, phone(calls))
        audit = await _audit_one_call(base, token, audit_port, phone(calls + 1))
        await asyncio.sleep(12)  # idle backends flush their statistics after 10 s
        xact0 = await _xacts(name)
        counts0 = await asyncio.to_thread(read, audit_port)
        started = time.perf_counter()
        webhooks, failed, latencies = await _light_load(
            base, token, args.callers, args.calls_each, args.think_ms / 1000, 0)
        wall = time.perf_counter() - started
        counts = await asyncio.to_thread(read, audit_port) - counts0
        background = _background(counts)
        counts = _own(counts)
        if os.environ.get("BENCH_SHOW_MODULES"):  # where the worker's memory went
            print("worker modules:", await asyncio.to_thread(modules, audit_port))
        rss_mb, peak_mb = _proc_kb(worker.pid, "VmRSS") / 1024, _proc_kb(worker.pid, "VmHWM") / 1024
        worker.send_signal(signal.SIGINT)
        await asyncio.to_thread(worker.wait, 15)
        worker = None
        await asyncio.sleep(1.0)  # the exiting backends' statistics
        xact1 = await _xacts(name)
        stored = await _count_surveys(dsn)
    finally:
        if worker is not None:
            worker.kill()
        await sampler.stop()
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print("round trips of each webhook, one call alone, the worker's second call (counted "
          "inside the worker; its first call also prepared "
          f"{sum(v for _p, c in cold for k, v in c.items() if k.startswith('prepare'))} "
          "statements on fresh connections):")
    for path, c in audit:
        print(f"  {path:<22} {_round_trips(c):3d}   ({_breakdown(c)}; {_commits(c)})")
    per = 1 / max(webhooks, 1)
    commits = counts["txn commit"] * per
    server_commits = (xact1[0] - xact0[0]) * per
    trips = _round_trips(counts) * per
    ordered = sorted(latencies)
    print(f"twilio light load: {args.callers} callers at once x {args.calls_each} calls each, "
          f"think {args.think_ms:.0f} ms, {webhooks} signed webhooks in {wall:.1f} s, "
          f"1 service worker (DB_POOL_SIZE {pool_size}), PostgreSQL")
    print(f"  latency:      p50 {ordered[len(ordered) // 2] * 1000:.1f} ms, "
          f"max {ordered[-1] * 1000:.1f} ms" if ordered else "  latency: none")
    print(f"  commits:      {commits:.2f} per webhook, the webhooks' own, counted in the worker "
          "(explicit COMMITs "
          f"{counts['simple COMMIT']} and statements outside a transaction, each one; "
          f"rollbacks {counts['txn rollback']})   (target <= {MAX_COMMITS:.0f}: "
          f"{verdict(commits <= MAX_COMMITS)})")
    print(f"                the server counted {server_commits:.2f} per webhook "
          f"(pg_stat_database.xact_commit {xact1[0] - xact0[0]}, xact_rollback "
          f"{xact1[1] - xact0[1]}, the worker's whole run to its exit; on a loaded machine it "
          f"can also hold statistics of the calls before, flushed late)")
    print(f"  round trips:  {trips:.2f} per webhook ({_breakdown(counts)}; "
          f"connects {counts['connect']})   (target <= {MAX_ROUND_TRIPS:.0f}: "
          f"{verdict(trips <= MAX_ROUND_TRIPS)})")
    print(f"  background:   the worker's own clock (agent availability, a read every 2 s): "
          f"{background['txn commit']} commits, {_round_trips(background)} round trips in "
          f"{wall:.1f} s ({_breakdown(background) or 'none'}), "
          f"{background['txn commit'] * per:.2f} per webhook at this pace; with it the worker "
          f"sent {(counts['txn commit'] + background['txn commit']) * per:.2f} commits and "
          f"{(_round_trips(counts) + _round_trips(background)) * per:.2f} round trips "
          "per webhook")
    print(f"  memory:       {rss_mb:.0f} MB RSS after the bench, peak {peak_mb:.0f} MB   "
          f"(target <= {MAX_RSS_MB:.0f} MB: {verdict(rss_mb <= MAX_RSS_MB)})")
    print(f"  connections:  at most {sampler.peak} to PostgreSQL at once   "
          f"(target <= {MAX_CONNECTIONS}: {verdict(sampler.peak <= MAX_CONNECTIONS)})")
    print(f"  calls:        {calls - failed} completed, {failed} failed; "
          f"{stored - 2} complete surveys stored (+2 of the audited calls)")
    return 0 if failed == 0 and stored == calls + 2 else 1


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callers", type=int, default=5, help="callers at once")
    parser.add_argument("--calls-each", type=int, default=4, help="calls per caller, in turn")
    parser.add_argument("--think-ms", type=float, default=1000.0,
                        help="caller pause between webhooks")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(_args(sys.argv[1:]))))
