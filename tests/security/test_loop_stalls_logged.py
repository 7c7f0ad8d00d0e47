"""A stalled event loop is logged (LOOP_STALL_LOG_MS): what it was running while it lasted,
how long it lasted, and how much of it was garbage collection.

The app runs in the test's process and loop, so the test blocks the served loop itself.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import threading
import time

import aiohttp
import pytest

from tests.security.conftest import Serve

LOGGER = "callcenter.looplag"


def hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def _ended(messages: list[str]) -> tuple[int, int]:
    """(ms blocked, ms collecting garbage) of the one "was blocked" line."""
    (line,) = [m for m in messages if "was blocked" in m]
    found = re.search(r"blocked (\d+) ms, (\d+) ms of it collecting garbage", line)
    assert found, line
    return int(found[1]), int(found[2])


async def test_a_blocked_loop_is_logged_once_with_the_stack_it_was_running(
        serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    async with serve(loop_stall_log_ms=100):
        await asyncio.sleep(0.1)
        hold_the_loop(0.6)
        await asyncio.sleep(0.1)
    messages = _messages(caplog)
    while_it_lasted = [m for m in messages if "so far" in m]
    assert len(while_it_lasted) == 1, messages
    assert "in hold_the_loop\n    time.sleep(seconds)" in while_it_lasted[0], while_it_lasted[0]
    blocked, collecting = _ended(messages)
    assert 550 <= blocked < 1500 and collecting < 50, messages


async def test_the_time_a_full_collection_held_the_loop_is_named(
        serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    """Objects made after start-up are not frozen: a full collection walks them."""
    caplog.set_level(logging.WARNING, logger=LOGGER)
    async with serve(loop_stall_log_ms=100) as served:
        gc.disable()  # no collection on the way (seconds); one young one puts them in generation 2
        try:
            heap = [[i] for i in range(3_000_000)]
        finally:
            gc.enable()
        gc.collect(1)
        await asyncio.sleep(0.1)
        caplog.clear()
        started = time.perf_counter()
        gc.collect()
        took_ms = (time.perf_counter() - started) * 1000
        await asyncio.sleep(0.1)
        messages = _messages(caplog)
        del heap
        async with aiohttp.ClientSession() as http, http.get(served.base_url + "/metrics") as resp:
            metrics = await resp.text()
    assert took_ms > 150, f"the collection took {took_ms:.0f} ms only"
    blocked, collecting = _ended(messages)
    assert collecting >= 0.9 * took_ms and blocked + 30 >= collecting, (blocked, collecting, took_ms)
    assert re.search(r'callcenter_gc_pause_seconds_bucket\{generation="2",le="10.0"\} [1-9]', metrics)


async def test_with_the_setting_at_0_nothing_watches_or_logs(
        serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    async with serve(loop_stall_log_ms=0):
        await asyncio.sleep(0.1)
        assert "loop-watchdog" not in [t.name for t in threading.enumerate()]
        hold_the_loop(0.3)
        await asyncio.sleep(0.1)
    assert _messages(caplog) == []
