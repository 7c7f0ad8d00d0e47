"""The telephony owner: one process at a time runs FastAGI, AMI and the dialer, by a lease in
the database; a standby takes over when the owner's lease lapses or is released.

Both engines. The kill -9 fail-over of two real `callcenter serve` processes with a real
Asterisk is in tests/deploy/test_failover.py.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

from aiohttp import web

from callcenter.app import create_app
from callcenter.appkeys import FASTAGI, OWNER, SERVICES
from callcenter.owner import OwnerLease, Ownership
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from tests.asterisk.conftest import until
from tests.conftest import free_port

T0 = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)
LEASE = timedelta(seconds=15)


async def test_one_holder_at_a_time_and_a_lapsed_lease_passes_on(db: Database) -> None:
    a = OwnerLease(db, LEASE, holder="host-a:1")
    b = OwnerLease(db, LEASE, holder="host-b:1")
    assert await a.claim(T0)
    assert not await b.claim(T0 + timedelta(seconds=1))
    assert await a.claim(T0 + timedelta(seconds=5))  # renewed: now good until T0+20 s
    assert not await b.claim(T0 + timedelta(seconds=16))
    assert await b.claim(T0 + timedelta(seconds=21))  # a stopped renewing: b owns
    assert not await a.claim(T0 + timedelta(seconds=22))  # a finds it taken
    assert await a.current_holder() == "host-b:1"


async def test_a_released_lease_is_free_at_once(db: Database) -> None:
    a = OwnerLease(db, LEASE, holder="host-a:1")
    b = OwnerLease(db, LEASE, holder="host-b:1")
    assert await a.claim(T0)
    await b.release()  # not b's: nothing happens
    assert not await b.claim(T0)
    await a.release()
    assert await b.claim(T0)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


async def test_a_standby_service_takes_over_fastagi_when_the_owner_stops(
        db_url: str, tmp_path: object) -> None:
    port = free_port()
    settings = Settings(database_url=db_url, fastagi_enabled=True, fastagi_port=port,
                        ami_enabled=False, job_loop_enabled=False, owner_lease_s=1,
                        recordings_dir=f"{tmp_path}/recordings", log_json=False)
    runners = [web.AppRunner(create_app(settings), access_log=None) for _ in range(2)]
    owner, standby = runners
    try:
        await owner.setup()
        await standby.setup()
        assert owner.app[SERVICES][OWNER].is_owner and FASTAGI in owner.app[SERVICES]
        assert not standby.app[SERVICES][OWNER].is_owner and FASTAGI not in standby.app[SERVICES]
        assert listening(port)
        await owner.cleanup()  # a clean stop releases the lease
        assert not listening(port)
        await until(lambda: FASTAGI in standby.app[SERVICES], within_s=5)
        assert standby.app[SERVICES][OWNER].is_owner and listening(port)
    finally:
        for runner in runners:
            await runner.cleanup()


async def test_an_owner_that_cannot_renew_stops_before_its_lease_runs_out(db: Database) -> None:
    """Self-fencing: with the database gone, the owner keeps its parts only while the lease it
    last wrote still holds, then stops them, so a standby never overlaps it."""
    started: list[str] = []

    async def part(_app: web.Application):  # type: ignore[no-untyped-def]
        started.append("up")
        yield
        started.append("down")

    app = web.Application()
    from callcenter.appkeys import OWNER_CONTEXTS

    app[OWNER_CONTEXTS] = [part]
    now = [T0]
    ownership = Ownership(app, OwnerLease(db, LEASE, holder="host-a:1"), clock=lambda: now[0])
    await ownership.step()
    assert ownership.is_owner and started == ["up"]
    await db.close()
    broken = Database.open("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    ownership.lease.db = broken
    try:
        now[0] = T0 + timedelta(seconds=5)
        await ownership.step()  # renewal fails, lease still good until T0+15 s
        assert ownership.is_owner
        now[0] = T0 + timedelta(seconds=11)  # the next try would come after the lease ran out
        await ownership.step()
        assert not ownership.is_owner and started == ["up", "down"]
    finally:
        await broken.close()


async def test_a_job_for_the_owner_only_is_left_to_the_owner(db: Database) -> None:
    """A job bound to the owner (`only_if`) is skipped elsewhere without using up its
    interval, so the owner still runs it in that interval."""
    from callcenter.clock import FixedClock
    from callcenter.jobs import JobLoop, PeriodicJob

    clock = FixedClock(T0)
    ran: list[str] = []

    def job(where: str, here: bool) -> PeriodicJob:
        async def run(_now: datetime) -> None:
            ran.append(where)

        return PeriodicJob("queue-sync", timedelta(minutes=1), run, only_if=lambda: here)

    standby = JobLoop(db, [job("standby", False)], holder="standby", clock=clock)
    owner = JobLoop(db, [job("owner", True)], holder="owner", clock=clock)
    assert await standby.run_once() == []
    assert await owner.run_once() == ["queue-sync"]
    assert ran == ["owner"]
