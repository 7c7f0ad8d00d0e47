"""Callback claims per second with 1, 2 and 4 dispatcher processes on PostgreSQL.

Each process loops on the dispatcher's own claim (`SqlCallbackRepository.claim_due`:
one compare-and-set UPDATE over a `FOR UPDATE SKIP LOCKED` pick) until no
callback is left, and reports the ids it got. The run fails if any callback
was claimed twice or never. Target: >= 500 claims/s with 4 processes.

    python bench/callbacks.py [--n 6000] [--workers 1 2 4] [--batch 50]

The PostgreSQL admin DSN is TEST_PG_DSN (as for the tests); a scratch
database is created and dropped for each run.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callcenter.storage import migrate  # noqa: E402
from callcenter.storage.engine import Database  # noqa: E402
from callcenter.storage.repositories.callbacks import SqlCallbackRepository  # noqa: E402
from callcenter.storage.tables import Callback  # noqa: E402

ADMIN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _seed(url: str, n: int) -> None:
    now = datetime.now(UTC)
    db = Database.open(url)
    try:
        async with db.sessions() as session:
            await session.execute(insert(Callback), [{
                "source_key": f"bench:{i}", "kind": "post_repair", "state": "scheduled",
                "phone": f"+86138{i:08d}", "timezone": "Asia/Shanghai", "priority": i % 4,
                "due_at": now, "deadline_at": now + timedelta(days=3),
                "next_attempt_at": now - timedelta(minutes=1), "data": {},
            } for i in range(n)])
            await session.commit()
    finally:
        await db.close()


async def _claim_all(url: str, worker: str, batch: int) -> tuple[list[int], float, float]:
    db = Database.open(url, pool_size=2)
    got: list[int] = []
    try:
        start = time.perf_counter()
        while True:
            async with db.sessions() as session:
                now = datetime.now(UTC)
                claimed = await SqlCallbackRepository(session).claim_due(
                    worker, now, batch, now + timedelta(minutes=5))
                await session.commit()
            if not claimed:
                break
            got.extend(cb.id for cb in claimed)
        return got, start, time.perf_counter()
    finally:
        await db.close()


def _worker(url: str, worker: str, batch: int, ready: mp.Barrier, out: mp.Queue) -> None:  # type: ignore[type-arg]
    ready.wait()
    out.put(asyncio.run(_claim_all(url, worker, batch)))


def run(n: int, workers: int, batch: int) -> tuple[float, int, int]:
    """(claims per second, duplicates, missing) for one run."""
    name = f"cc_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name
    try:
        migrate.upgrade(url)
        asyncio.run(_seed(url, n))
        ctx = mp.get_context("spawn")
        ready, out = ctx.Barrier(workers), ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(url, f"bench-{i}", batch, ready, out))
                 for i in range(workers)]
        for p in procs:
            p.start()
        results = [out.get(timeout=300) for _ in procs]
        for p in procs:
            p.join()
        ids = Counter(i for got, _, _ in results for i in got)
        elapsed = max(end for _, _, end in results) - min(start for _, start, _ in results)
        duplicates = sum(c - 1 for c in ids.values() if c > 1)
        return sum(ids.values()) / elapsed, duplicates, n - len(ids)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6000, help="callbacks to claim per run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--batch", type=int, default=50, help="callbacks per claim")
    args = parser.parse_args()
    ok = True
    print(f"callbacks claimed per second, PostgreSQL, {args.n} callbacks, batch {args.batch}")
    for workers in args.workers:
        rate, duplicates, missing = run(args.n, workers, args.batch)
        ok &= duplicates == 0 and missing == 0
        print(f"  {workers} dispatcher(s): {rate:8.0f} claims/s   duplicates {duplicates}"
              f"   never claimed {missing}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
