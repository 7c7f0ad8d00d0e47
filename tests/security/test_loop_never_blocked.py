"""No request or job keeps the event loop the calls share for long.

The server's own loop-lag monitor (`callcenter.looplag`) records the longest time
its loop could not run anything else; each test resets it, runs the heaviest thing
of a kind on a big dataset against the real app on a port, and asserts the worst
block stayed under BLOCK_BOUND_S. On the loop, each of these takes seconds.
Signed Twilio webhooks run meanwhile: they must still be answered.
"""

from __future__ import annotations

import asyncio
import gc
import json
import shutil
import signal
import time
import urllib.request
from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert

from callcenter.appkeys import LOOP_LAG
from callcenter.demo.simulated_twilio import SimulatedCaller
from callcenter.storage.engine import Database
from callcenter.storage.tables import AgentStateSpan
from crm.services.callback_lists import MAX_CAMPAIGN_ROWS
from tests import factories
from tests.conftest import Served
from tests.foundation.test_serve import Service
from tests.reports.helpers import bearer, local, raw_surveys, shop
from tests.security.conftest import Serve

BLOCK_BOUND_S = 0.5
"""Longest loop block allowed while a heavy request runs. An idle loop on a loaded 2-core
machine wakes 1-60 ms late, now and then a few hundred; each path here held it 1-10 s
before it went off the loop (importing pandas, 0.3-0.6 s, is caught by the memory map)."""
AGENTS = 80
SPANS_PER_AGENT_DAY = 60
DAYS = 31
SURVEYS = 30_000


async def _calls_during(served: Served, work: Awaitable[Any]) -> tuple[Any, float, list[float]]:
    """Run `work` while signed webhooks keep coming; (its result, worst block, webhook latencies)."""
    lag = served.app[LOOP_LAG]
    token = served.settings.twilio_auth_token.get_secret_value()
    done = asyncio.Event()
    latencies: list[float] = []

    async def webhooks() -> None:
        async with aiohttp.ClientSession() as http:
            while not done.is_set():
                caller = SimulatedCaller(http, served.base_url, token, from_number="+8613800138000")
                exchange = await caller.post("/twilio/voice", caller.params(CallStatus="ringing"))
                assert exchange.status == 200, exchange.body
                latencies.append(exchange.latency_s)
                await asyncio.sleep(0.02)

    async def run() -> Any:
        try:
            return await work
        finally:
            done.set()

    calls = asyncio.ensure_future(webhooks())
    await asyncio.sleep(0.3)  # a first webhook answered: warm
    lag.reset()
    result = await run()
    worst = lag.worst
    await calls
    assert lag.samples > 0, "the loop-lag monitor does not run"
    return result, worst, latencies


async def _get(served: Served, path: str, headers: dict[str, str]) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    async with aiohttp.ClientSession() as http, http.get(served.base_url + path, headers=headers,
                                                         timeout=aiohttp.ClientTimeout(total=300)) as resp:
        return resp.status, await resp.read(), time.perf_counter() - started


def _verdict(what: str, worst: float, took: float, latencies: list[float]) -> str:
    return (f"{what}: the loop was blocked {worst * 1000:.0f} ms at once (request took {took:.2f} s); "
            f"webhooks (ms): {[round(x * 1000) for x in latencies]}")


async def test_agent_time_report_over_a_month_of_spans_leaves_the_loop_free(
        serve: Serve, db: Database) -> None:
    s = await shop(db)
    agents = [await factories.staff(db, f"agent-{i}", ["agent"], s.department_id) for i in range(AGENTS)]
    start = local("2026-04-01 00:00")
    states = ("ready", "ringing", "talk", "hold", "wrap_up", "not_ready")
    step = timedelta(hours=24) / SPANS_PER_AGENT_DAY
    rows = []
    for agent in agents:
        at = start
        for n in range(SPANS_PER_AGENT_DAY * DAYS):
            state = states[n % len(states)]
            rows.append({"staff_id": agent.id, "state": state,
                         "reason": "break" if state == "not_ready" else None,
                         "carrier_call_id": None, "started_at": at, "ended_at": at + step})
            at += step
    async with db.engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            await conn.execute(insert(AgentStateSpan.__table__), rows[i:i + 5000])
    headers = await bearer(db, s.supervisor)
    async with serve() as served:
        (status, body, took), worst, latencies = await _calls_during(served, _get(
            served, "/api/reports/agent-time?from=2026-04-01&to=2026-05-01", headers))
    assert status == 200, body[:500]
    assert b'"agents"' in body
    assert worst < BLOCK_BOUND_S, _verdict("agent-time", worst, took, latencies)


async def test_survey_review_and_sample_pages_over_a_big_month_leave_the_loop_free(
        serve: Serve, db: Database) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "ABC", local("2026-05-10 09:00"), SURVEYS, verification="pending")
    headers = await bearer(db, s.supervisor)
    async with serve() as served:
        for path in ("/api/reports/surveys/pending?month=2026-05",
                     "/api/reports/verification-sample?month=2026-05"):
            (status, body, took), worst, latencies = await _calls_during(
                served, _get(served, path, headers))
            assert status == 200, body[:500]
            assert worst < BLOCK_BOUND_S, _verdict(path, worst, took, latencies)


HEAVY_LIBRARIES = ("pandas/_libs", "numpy/core/_multiarray", "numpy/_core/_multiarray", "matplotlib/")
"""Shared objects that only pandas, numpy and matplotlib map: their C code holds the GIL, and
importing pandas alone holds a loop 0.3-1 s. The serving process must never load them."""

REPORT_ROUTES = (
    "/api/reports/supervision?month=2026-05", "/api/reports/supervision?month=2026-05&format=xlsx",
    "/api/reports/supervision?month=2026-05&format=pdf",
    "/api/reports/daily?period=2026-05-10", "/api/reports/weekly?period=2026-W19",
    "/api/reports/monthly?period=2026-05&format=csv", "/api/reports/kpi?from=2026-05-01&to=2026-05-10",
    "/api/reports/surveys/pending?month=2026-05", "/api/reports/verification-sample?month=2026-05",
    "/api/reports/agent-time?from=2026-05-01&to=2026-05-10", "/api/wallboard",
    "/api/reports/supervision/versions?month=2026-05", "/supervisor?month=2026-05",
    "/supervisor/sample?month=2026-05", "/supervisor/versions?month=2026-05",
)


def test_the_serving_process_never_loads_pandas_numpy_or_matplotlib(
        tmp_path: Path, sqlite_template: Path) -> None:
    """Every report route, page, publication and export answered by `callcenter serve`; its
    memory map afterwards holds none of the heavy libraries (they ran in worker processes)."""
    prepared = tmp_path / "prepared.db"
    shutil.copy(sqlite_template, prepared)

    async def prepare() -> dict[str, str]:
        db = Database.open(f"sqlite+aiosqlite:///{prepared}")
        try:
            s = await shop(db)
            await raw_surveys(db, s, "ABC", local("2026-05-10 09:00"), 50, verification="pending")
            return await bearer(db, s.supervisor)
        finally:
            await db.close()

    headers = asyncio.run(prepare())
    service = Service(tmp_path, prepared, workers=1, loop="asyncio")
    try:
        service.wait_healthy()
        ((pid, _),) = service.workers_seen(1).items()
        base = f"http://127.0.0.1:{service.port}"
        for path in REPORT_ROUTES:
            with urllib.request.urlopen(urllib.request.Request(base + path, headers=headers),
                                        timeout=120) as resp:
                assert resp.status == 200, path
            assert "pandas/_libs" not in Path(f"/proc/{pid}/maps").read_text(), path
        for path, body in (("/api/reports/supervision/versions", {"month": "2026-05"}),
                           ("/api/reports/supervision/publish", {"month": "2026-05"})):
            request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                             headers={**headers, "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=120) as resp:
                assert resp.status in (200, 201), path
        mapped = Path(f"/proc/{pid}/maps").read_text()
        loaded = sorted({lib for lib in HEAVY_LIBRARIES if lib in mapped})
        assert not loaded, f"the serving process loaded {loaded}"
        assert service.stop(signal.SIGTERM) == 0, service.output()
    finally:
        service.close()


async def test_a_campaign_list_of_the_largest_body_leaves_the_loop_free(
        serve: Serve, db: Database) -> None:
    """The biggest call list accepted (MAX_CAMPAIGN_ROWS numbers): parsing and checking every
    number runs off the loop, storing it is a few statements per CHUNK; a longer list, up to
    the body limit, is refused whole."""
    s = await shop(db)
    manager = await factories.staff(db, "mgr-campaign", ["manager"], s.department_id)
    headers = {**await bearer(db, manager), "Content-Type": "text/csv"}
    async with serve() as served:
        body, n = _campaign_body(served.settings.http_max_body_bytes)

        async def upload() -> tuple[int, bytes, float]:
            started = time.perf_counter()
            async with aiohttp.ClientSession() as http, http.post(
                    served.base_url + "/api/campaigns?name=big&flow=post_repair_survey&window=09:00-20:00",
                    data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=600)) as resp:
                return resp.status, await resp.read(), time.perf_counter() - started

        (status, answer, took), worst, latencies = await _calls_during(served, upload())
        too_long = body + "".join(f"+86139{i:08d},,\n" for i in range(2000)).encode()
        async with aiohttp.ClientSession() as http, http.post(
                served.base_url + "/api/campaigns?name=bigger&flow=post_repair_survey&window=09:00-20:00",
                data=too_long, headers=headers) as resp:
            refused = await resp.json()
    assert resp.status == 422, refused
    assert f"more than {MAX_CAMPAIGN_ROWS} numbers" in refused["errors"][0]["message"]
    assert status == 201, answer[:500]
    assert json.loads(answer)["callbacks"] == n
    assert worst < BLOCK_BOUND_S, _verdict(f"a {len(body)} byte call list", worst, took, latencies)


def _campaign_body(limit: int) -> tuple[bytes, int]:
    """A call list of MAX_CAMPAIGN_ROWS numbers within the body limit; (the body, its numbers)."""
    lines = ["phone,customer_reference,name"]
    size, n = len(lines[0]) + 1, 0
    while n < MAX_CAMPAIGN_ROWS:
        line = f"+86138{n:08d},,客户{n}"
        assert size + len(line.encode()) + 1 <= limit
        lines.append(line)
        size += len(line.encode()) + 1
        n += 1
    return ("\n".join(lines) + "\n").encode(), n


def _a_heap_whose_full_collection_takes(seconds: float) -> list[list[list[int]]]:
    """Small objects the collector tracks, added until one full collection of the process
    takes `seconds` (a long test run holds such a heap: 12 million objects, 2 s)."""
    heap: list[list[list[int]]] = []
    took, chunks = 0.0, 2
    while chunks <= 64:
        gc.disable()  # no collection on the way: seconds each
        try:
            heap.extend([[i] for i in range(500_000)] for _ in range(chunks - len(heap)))
        finally:
            gc.enable()
        started = time.perf_counter()
        gc.collect()
        took = time.perf_counter() - started
        if took >= seconds:
            return heap
        chunks = max(chunks + 1, min(64, round(chunks * seconds / took * 1.2)))
    raise AssertionError("32 million objects and a full collection still took under "
                         f"{seconds} s: this machine cannot show it")


async def test_a_full_garbage_collection_in_a_process_with_a_big_heap_leaves_the_loop_free(
        serve: Serve, db: Database) -> None:
    """The process that serves held a big heap before the app started (a host process, or
    hours of start-up caches). CPython starts a full collection whenever enough objects
    survived, in whatever request allocates then: here one lands during the biggest
    campaign upload (as one did in a full test run: 2.1 s). It walks only what was made
    since the app started, not the heap it found (`callcenter.heap`)."""
    s = await shop(db)
    manager = await factories.staff(db, "mgr-campaign", ["manager"], s.department_id)
    headers = {**await bearer(db, manager), "Content-Type": "text/csv"}
    heap = _a_heap_whose_full_collection_takes(2 * BLOCK_BOUND_S)
    try:
        async with serve() as served:
            body, n = _campaign_body(served.settings.http_max_body_bytes)

            async def upload() -> tuple[int, bytes, float]:
                started = time.perf_counter()
                async with aiohttp.ClientSession() as http, http.post(
                        served.base_url + "/api/campaigns?name=big&flow=post_repair_survey",
                        data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=600)) as resp:
                    return resp.status, await resp.read(), time.perf_counter() - started

            async def a_full_collection_midway() -> None:
                await asyncio.sleep(0.3)
                gc.collect()

            async def both() -> tuple[int, bytes, float]:
                result, _ = await asyncio.gather(upload(), a_full_collection_midway())
                return result

            (status, answer, took), worst, latencies = await _calls_during(served, both())
            assert gc.get_freeze_count() > len(heap) * 500_000
        assert gc.get_freeze_count() == 0, "the app stopped: the heap goes back to the collector"
    finally:
        del heap
    assert status == 201, answer[:500]
    assert json.loads(answer)["callbacks"] == n
    assert worst < BLOCK_BOUND_S, _verdict(f"a full collection during a {len(body)} byte call list",
                                           worst, took, latencies)


async def test_the_public_api_description_costs_the_loop_once_not_per_request(
        served: Served) -> None:
    """`/api/openapi.json` needs no login; making it costs ~60 ms of CPU. Asked 100 times,
    the process spends well under that per request (CPU time, not wall time)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(served.base_url + "/api/openapi.json") as resp:
            first = await resp.read()
        started = time.process_time()
        for _ in range(100):
            async with http.get(served.base_url + "/api/openapi.json") as resp:
                assert resp.status == 200
                assert await resp.read() == first
        cpu = time.process_time() - started
    assert json.loads(first)["paths"]
    assert cpu < 2.0, f"100 requests for the API description took {cpu:.2f} s of CPU"
