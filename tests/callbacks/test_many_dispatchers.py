"""Four dispatcher processes on PostgreSQL: each callback dialled exactly once, kill -9 included.

Each process is the real loop (`python -m callcenter.callbacks`) with a fake
carrier that appends every dial to its own file before answering; the files
are the carrier's record, read back here and by `lookup` when reconciling.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from callcenter.storage.engine import Database
from callcenter.storage.tables import Callback, CallbackAttempt
from tests.callbacks.fake_carrier import read_dials

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
N = 2000


def daytime_zone(now: datetime) -> str:
    """A fixed-offset zone where it is around 14:00 now, so every callee is callable."""
    offset = max(-12, min(14, 14 - now.hour))
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")


async def seed(url: str, n: int) -> set[int]:
    now = datetime.now(UTC)
    zone = daytime_zone(now)
    db = Database.open(url)
    try:
        async with db.sessions() as session:
            await session.execute(insert(Callback), [{
                "source_key": f"bulk:{i}", "kind": "campaign", "state": "scheduled",
                "phone": f"+86138{i:08d}", "timezone": zone, "priority": 2, "due_at": now,
                "deadline_at": now + timedelta(days=1), "next_attempt_at": now - timedelta(minutes=1),
                "data": {},
            } for i in range(n)])
            await session.commit()
            return set(await session.scalars(select(Callback.id)))
    finally:
        await db.close()


async def final_counts(url: str) -> tuple[Counter[str], int]:
    db = Database.open(url)
    try:
        async with db.sessions() as session:
            states = Counter(dict((await session.execute(
                select(Callback.state, func.count()).group_by(Callback.state))).all()))
            attempts = await session.scalar(select(func.count()).select_from(CallbackAttempt))
            return states, int(attempts or 0)
    finally:
        await db.close()


def start(url: str, worker: str, dials: Path, delay: float = 0.0) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FAKE_CARRIER_DIR": str(dials), "FAKE_CARRIER_DELAY": str(delay),
           "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    log = (dials / f"{worker}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "callcenter.callbacks", "--database-url", url,
         "--dialer", "tests.callbacks.fake_carrier:make", "--worker", worker, "--until-idle",
         "--batch", "50", "--tick", "0.1", "--sweep-every", "0.5", "--claim-ttl", "4",
         "--dial-ttl", "10"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_all(procs: list[subprocess.Popen[bytes]], url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            states, attempts = asyncio.run(final_counts(url))
            raise AssertionError(f"dispatchers still busy: {states}, {attempts} attempts") from None
        if p.returncode not in (0, -signal.SIGKILL):
            raise AssertionError(f"dispatcher exited with {p.returncode}; see its .log file")


def assert_each_dialled_once(dials: Path, ids: set[int]) -> Counter[str]:
    records = read_dials(dials)
    per_callback = Counter(int(d["callback_id"]) for d in records)  # type: ignore[call-overload]
    twice = {cid: n for cid, n in per_callback.items() if n > 1}
    assert twice == {}, f"dialled more than once: {twice}"
    assert set(per_callback) == ids, f"never dialled: {len(ids - set(per_callback))}"
    return Counter(str(d["worker"]) for d in records)


def test_four_dispatchers_dial_two_thousand_callbacks_exactly_once(
    pg_url: str, tmp_path: Path
) -> None:
    ids = asyncio.run(seed(pg_url, N))
    procs = [start(pg_url, f"w{i}", tmp_path) for i in range(4)]
    wait_all(procs, pg_url)
    by_worker = assert_each_dialled_once(tmp_path, ids)
    assert len(by_worker) == 4  # the work was shared
    states, attempts = asyncio.run(final_counts(pg_url))
    assert states == Counter({"completed": N})
    assert attempts == N


def test_killed_dispatcher_loses_nothing_and_nothing_is_dialled_twice(
    pg_url: str, tmp_path: Path
) -> None:
    ids = asyncio.run(seed(pg_url, N))
    victim = start(pg_url, "victim", tmp_path, delay=1.0)  # answers slowly: calls in flight
    procs = [start(pg_url, f"w{i}", tmp_path) for i in range(3)]
    victim_file = tmp_path / "dials-victim.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if victim_file.exists() and victim_file.read_text().count("\n") >= 100:
            break
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    wait_all(procs, pg_url)
    by_worker = assert_each_dialled_once(tmp_path, ids)
    assert by_worker["victim"] >= 100
    states, attempts = asyncio.run(final_counts(pg_url))
    assert states == Counter({"completed": N})
    assert attempts >= N  # plus any attempt committed but never sent (not_placed)
