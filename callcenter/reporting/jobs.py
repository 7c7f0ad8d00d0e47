"""The reports' periodic jobs on the service's own job loop (when ``REPORTS_ENABLED``).

- `scheduled-reports` (`schedule.JOB_NAME`): the latest due daily, weekly and
  monthly reports and the month's supervision figures (`schedule`);
- `reports.deliver`: each department's report e-mailed to its recipients
  (`delivery`), making it first when missing;
- `supervision-corrections`: a survey that changed after its month was
  published makes a correction draft of that month (`publication`).

Each builds and renders in a worker process of the CPU pool (`callcenter.offload`),
so the serving loop never runs pandas, charts or PDF.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from callcenter.appkeys import JOB_LOOP, SETTINGS
from callcenter.jobs import PeriodicJob
from callcenter.offload import in_worker
from callcenter.reporting import schedule

DELIVERY_JOB = "reports.deliver"
CORRECTIONS_JOB = "supervision-corrections"
#: a run may take a while (a month of figures, a PDF per department): the lease outlasts it
LEASE = timedelta(minutes=20)


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    if not settings.reports_enabled:
        return

    def in_a_worker(name: str, interval: timedelta, fn: Callable[..., Awaitable[Any]] | str) -> PeriodicJob:
        async def run(now: datetime) -> object:
            return await in_worker(app, fn, settings, now, app[JOB_LOOP].holder)

        return PeriodicJob(name, interval, run, lease=LEASE)

    app[JOB_LOOP].add(in_a_worker(schedule.JOB_NAME, timedelta(seconds=60), schedule.make_due_reports))
    app[JOB_LOOP].add(in_a_worker(DELIVERY_JOB, timedelta(seconds=60),
                                  "callcenter.reporting.delivery:deliver_due_reports"))
    app[JOB_LOOP].add(in_a_worker(CORRECTIONS_JOB, timedelta(minutes=10),
                                  "callcenter.reporting.publication:correct_published_months"))
