"""Scheduled reports: due at the configured local times, made once however many job loops run."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from callcenter.clock import FixedClock
from callcenter.jobs import JobLoop, PeriodicJob
from callcenter.reporting import schedule
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import ReportRun

from .helpers import local, raw_surveys, shop


def test_before_the_daily_time_the_day_before_yesterday_is_the_latest_due(settings: Settings) -> None:
    due = dict(schedule.due_reports(local("2026-05-18 07:29"), settings))  # a Monday
    assert due["daily"] == "2026-05-16" and due["weekly"] == "2026-W19"
    assert due["monthly"] == "2026-04" == due["supervision"]


def test_after_the_daily_time_on_monday_yesterday_and_last_week_are_due(settings: Settings) -> None:
    due = dict(schedule.due_reports(local("2026-05-18 07:30"), settings))
    assert due["daily"] == "2026-05-17" and due["weekly"] == "2026-W20"


def test_the_previous_month_is_due_from_the_fifth(settings: Settings) -> None:
    assert dict(schedule.due_reports(local("2026-06-05 07:29"), settings))["supervision"] == "2026-04"
    assert dict(schedule.due_reports(local("2026-06-05 07:30"), settings))["supervision"] == "2026-05"
    assert dict(schedule.due_reports(local("2026-06-05 07:30"), settings))["monthly"] == "2026-05"


async def test_two_job_loops_make_each_scheduled_report_once(db: Database, settings: Settings) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAB", local("2026-05-20 09:00"), 4)
    clock = FixedClock(local("2026-06-05 08:00"))
    calls: list[str] = []

    def loop(name: str) -> JobLoop:
        job_loop = JobLoop(db=db, clock=clock, holder=name)

        async def make(now):  # type: ignore[no-untyped-def]
            calls.append(name)
            return await schedule.make_due_reports(db, settings, now, name)

        job_loop.add(PeriodicJob(schedule.JOB_NAME, timedelta(seconds=60), make))
        return job_loop

    first, second = loop("process-a"), loop("process-b")
    await asyncio.gather(first.run_once(), second.run_once())
    clock.advance(minutes=5)  # both due again: the lease is free, the reports exist
    await asyncio.gather(first.run_once(), second.run_once())
    async with db.sessions() as session:
        rows = (await session.execute(select(ReportRun.kind, ReportRun.period, ReportRun.status)
                                      .order_by(ReportRun.kind))).all()
        total = await session.scalar(select(func.count()).select_from(ReportRun))
    assert total == 4 and len(calls) >= 2
    assert {(k, p) for k, p, _ in rows} == {("daily", "2026-06-04"), ("weekly", "2026-W22"),
                                           ("monthly", "2026-05"), ("supervision", "2026-05")}
    assert {status for _, _, status in rows} == {"done"}
    files = sorted(p.name for p in (settings.reports_dir / "supervision").iterdir())
    assert files == ["supervision-2026-05-all.html", "supervision-2026-05-all.json",
                     "supervision-2026-05-all.xlsx"]


async def test_racing_processes_split_the_due_reports_without_doubles(
    db: Database, settings: Settings
) -> None:
    now = local("2026-06-05 08:00")
    a, b = await asyncio.gather(schedule.make_due_reports(db, settings, now, "process-a"),
                                schedule.make_due_reports(db, settings, now, "process-b"))
    assert sorted(a + b) == sorted(schedule.due_reports(now, settings))
    again = await schedule.make_due_reports(db, settings, now + timedelta(hours=1), "process-c")
    assert again == []
