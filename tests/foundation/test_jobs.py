"""The job loop: two processes' loops never run the same job in the same interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.clock import FixedClock
from callcenter.jobs import JobLoop, PeriodicJob
from callcenter.storage.engine import Database


async def test_two_loops_share_a_job_and_it_runs_once_per_interval(db: Database) -> None:
    clock = FixedClock(datetime(2026, 5, 18, 2, 0, tzinfo=UTC))
    runs: list[tuple[str, datetime]] = []

    def job_for(holder: str) -> PeriodicJob:
        async def run(now: datetime) -> None:
            runs.append((holder, now))

        return PeriodicJob("escalate", timedelta(minutes=1), run)

    a = JobLoop(db, [job_for("a")], holder="a", clock=clock)
    b = JobLoop(db, [job_for("b")], holder="b", clock=clock)
    assert await a.run_once() == ["escalate"]
    assert await b.run_once() == []  # same interval: already done
    clock.advance(seconds=30)
    assert await b.run_once() == []
    clock.advance(seconds=31)
    assert await b.run_once() == ["escalate"]
    assert [h for h, _ in runs] == ["a", "b"]


async def test_a_failing_job_releases_its_lease(db: Database) -> None:
    clock = FixedClock(datetime(2026, 5, 18, 2, 0, tzinfo=UTC))

    async def boom(now: datetime) -> None:
        raise RuntimeError("database hiccup")

    loop = JobLoop(db, [PeriodicJob("flaky", timedelta(seconds=10), boom)], holder="a", clock=clock)
    assert await loop.run_once() == ["flaky"]
    clock.advance(seconds=11)
    assert await loop.run_once() == ["flaky"]
