"""What the service benchmarks share: a throwaway PostgreSQL database, service workers, percentiles.

    python bench/harness.py --serve PORT   # one service worker (the benches start these)

The admin DSN is BENCH_PG_DSN (default: the local server's `postgres`
database); each bench creates `cc_bench_<random>` through it and drops it
afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

from callcenter.demo.serving import free_port

__all__ = ["free_port"]  # the benches take the one helper through here

ROOT = Path(__file__).resolve().parents[1]
ADMIN_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def with_database(dsn: str, name: str) -> str:
    """`dsn` naming database `name` (keeps ``?host=/run/postgresql``: a Unix socket)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


def phone(i: int) -> str:
    return f"+86139{i:08d}"


def pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def serve(port: int) -> None:
    """One worker process of the service; several share the port (reuse_port)."""
    sys.path.insert(0, str(ROOT))
    from callcenter.commands.serve import serve_http  # the path `callcenter serve` takes
    from callcenter.logs import setup_logging
    from callcenter.settings import Settings

    settings = Settings()
    setup_logging(settings.log_level, False)
    audit_port = os.environ.get("BENCH_AUDIT_PORT")  # count PostgreSQL round trips (pg_audit)
    if audit_port:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from pg_audit import install

        install(int(audit_port))
    profile_dir = os.environ.get("BENCH_PROFILE_DIR")  # CPU profile of each worker, on exit
    profiler = None
    if profile_dir:
        import cProfile

        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
    try:
        serve_http(settings, host="127.0.0.1", port=port, reuse_port=True)  # EVENT_LOOP applies
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(Path(profile_dir) / f"worker-{os.getpid()}.prof")


def start_workers(url: str, port: int, workers: int, pool: int,
                  extra_env: dict[str, str] | None = None) -> list[subprocess.Popen[bytes]]:
    """`workers` service processes on `port`, only HTTP (no job loop, FastAGI or AMI)."""
    env = {
        **os.environ, "DATABASE_URL": url, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "JOB_LOOP_ENABLED": "false", "FASTAGI_ENABLED": "false", "AMI_ENABLED": "false",
        "LOG_LEVEL": "WARNING", "LOG_JSON": "false", "DB_POOL_SIZE": str(pool),
        **(extra_env or {}),
    }
    return [subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=env, cwd=ROOT)
            for _ in range(workers)]


def stop_workers(workers: list[subprocess.Popen[bytes]], timeout_s: float = 15.0) -> None:
    """SIGINT every worker (a graceful stop), then kill those still running after `timeout_s`."""
    for worker in workers:
        worker.send_signal(signal.SIGINT)
    for worker in workers:
        try:
            worker.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            worker.kill()


async def wait_healthy(base: str, path: str = "/healthz", timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(base + path) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the service did not answer on {base}{path} within {timeout_s:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
    else:
        print(__doc__)
        sys.exit(2)
