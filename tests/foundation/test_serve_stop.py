"""`callcenter serve` stops at once on SIGTERM, even while a report is being built.

The report runs in a worker process (`callcenter.offload`); stopping ends it (a scheduled
run is retaken later, a user asks again) instead of holding the stop until it is done:
a container gets SIGKILL 10 s after SIGTERM. No worker process outlives the service, even
one killed outright.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from callcenter.storage.engine import Database
from callcenter.storage.tables import AgentStateSpan
from tests import factories
from tests.foundation.test_serve import STOP_TIMEOUT_S, Service, gone
from tests.reports.helpers import bearer, local, shop

AGENTS = 200  # x 60 spans a day x 31 days: a report of several seconds in its worker
BUSY_CPU_S = 1.0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGTERM, 0), (signal.SIGKILL, -9)])
def test_a_stop_during_a_report_stops_the_service_now_and_leaves_no_worker(
        tmp_path: Path, sqlite_template: Path, signum: int, exit_code: int) -> None:
    """SIGTERM: the service ends the report's worker and exits; SIGKILL (the container's
    last word): the worker notices its parent is gone and exits too."""
    prepared = tmp_path / "prepared.db"
    shutil.copy(sqlite_template, prepared)

    async def prepare() -> dict[str, str]:
        db = Database.open(f"sqlite+aiosqlite:///{prepared}")
        try:
            s = await shop(db)
            rows = []
            for i in range(AGENTS):
                agent = await factories.staff(db, f"agent-{i}", ["agent"], s.department_id)
                at = local("2026-04-01 00:00")
                for n in range(60 * 31):
                    rows.append({"staff_id": agent.id, "state": ("ready", "talk")[n % 2],
                                 "reason": None, "carrier_call_id": None, "started_at": at,
                                 "ended_at": at + timedelta(minutes=24)})
                    at += timedelta(minutes=24)
            async with db.engine.begin() as conn:
                for i in range(0, len(rows), 5000):
                    await conn.execute(insert(AgentStateSpan.__table__), rows[i:i + 5000])
            return await bearer(db, s.supervisor)
        finally:
            await db.close()

    headers = asyncio.run(prepare())
    service = Service(tmp_path, prepared, workers=1, loop="asyncio")
    answer: list[object] = []
    try:
        service.wait_healthy()
        request = urllib.request.Request(
            f"http://127.0.0.1:{service.port}/api/reports/agent-time?from=2026-04-01&to=2026-05-01",
            headers=headers)

        def ask() -> None:
            try:
                with urllib.request.urlopen(request, timeout=300) as resp:
                    answer.append(resp.status)
            except (urllib.error.URLError, ConnectionError, OSError) as exc:
                answer.append(exc)

        asking = threading.Thread(target=ask)
        asking.start()
        deadline = time.monotonic() + 120
        busy = None
        while busy is None and time.monotonic() < deadline:  # a worker process at work
            busy = next((c for c in _children(service.proc.pid) if _cpu_s(c) > BUSY_CPU_S), None)
            time.sleep(0.1)
        assert busy is not None, f"no worker started the report:\n{service.output()}"
        workers = _children(service.proc.pid)
        stopping = time.monotonic()
        assert service.stop(signum) == exit_code, service.output()
        took = time.monotonic() - stopping
        asking.join(STOP_TIMEOUT_S)
        assert not asking.is_alive()
        assert answer and answer[0] != 200, f"the stop waited {took:.1f} s for the report: {answer}"
        deadline = time.monotonic() + 10
        while not all(gone(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(gone(pid) for pid in workers), f"workers outlived the service: {workers}"
    finally:
        service.close()
