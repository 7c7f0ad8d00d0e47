"""The callbacks' periodic sources on the service's own job loop (leased, so one process runs each).

- `callbacks-post-repair`: a callback for every newly completed job;
- `callbacks-survey-sample`: each period's verification sample of the surveys,
  drawn once the period is over (`callcenter.callbacks.config`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from callcenter.appkeys import CLOCK, DB, JOB_LOOP, SETTINGS
from callcenter.callbacks import config as callback_config
from callcenter.jobs import PeriodicJob
from callcenter.storage.uow import SqlUnitOfWork
from crm.services.callbacks import schedule_completed_jobs
from crm.services.verification_samples import draw_verification_samples


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(app[DB])

    async def post_repair(now: datetime) -> object:
        return await schedule_completed_jobs(  # type: ignore[arg-type]
            uow, app[CLOCK], defaults=callback_config.callback_defaults(settings))

    async def survey_sample(now: datetime) -> object:
        return await draw_verification_samples(
            uow(), app[CLOCK], settings.timezone,  # type: ignore[arg-type]
            **callback_config.verification_sample(settings))

    app[JOB_LOOP].add(PeriodicJob("callbacks-post-repair", timedelta(minutes=10), post_repair))
    app[JOB_LOOP].add(PeriodicJob("callbacks-survey-sample", timedelta(hours=1), survey_sample))
