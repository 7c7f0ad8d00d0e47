"""One service process holds at most DB_POOL_SIZE PostgreSQL connections (issue 19): the IVR
fast path's turn store, the screen-pop's LISTEN connection and the engine's pool together,
with callers ringing at once. Real PostgreSQL, the app on a port, signed webhooks."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web
from sqlalchemy.engine import make_url

from callcenter.app import create_app
from callcenter.demo.simulated_twilio import SimulatedCaller
from callcenter.settings import Settings

TOKEN = "test-auth-token-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_worker_with_callers_ringing_stays_within_its_connection_budget(
        pg_url: str, tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=pg_url, twilio_auth_token=TOKEN, public_base_url=base,  # type: ignore[arg-type]
        secret_key="test-secret", job_loop_enabled=False, fastagi_enabled=False,  # type: ignore[arg-type]
        ami_enabled=False, log_json=False, opening_hours="00:00-23:59",
        prompts_dir=tmp_path / "prompts", spool_dir=tmp_path / "spool",
        recordings_dir=tmp_path / "recordings", reports_dir=tmp_path / "reports", db_pool_size=10)
    url = make_url(pg_url)
    name = url.database
    watcher = await asyncpg.connect(url.set(drivername="postgresql", database="postgres")
                                    .render_as_string(hide_password=False))
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    peak = 0
    ringing = True

    async def sample() -> None:
        nonlocal peak
        while ringing:
            peak = max(peak, int(await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name)))
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    try:
        async with aiohttp.ClientSession() as http:
            callers = [SimulatedCaller(http, base, TOKEN, from_number=f"+86139{i:08d}")
                       for i in range(24)]
            results = await asyncio.gather(*(c.call(["1", "1", "1", "1"]) for c in callers))
        assert all(r.exchanges and r.exchanges[0].status == 200 for r in results)
    finally:
        ringing = False
        await sampler
        await runner.cleanup()
        await watcher.close()
    assert 3 <= peak <= settings.db_pool_size, f"{peak} connections at once"
