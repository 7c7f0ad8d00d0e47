"""The Asterisk and callbacks demo steps on the sample data, both engines, run twice.

They run inside `callcenter demo`; here each one runs on a fresh database
with the sample CSVs loaded, and again on the same database (a newcomer's
second `make demo` must work too).
"""

from __future__ import annotations

import io

from rich.console import Console
from sqlalchemy import func, select

from callcenter.demo.asterisk import run_demo as asterisk_demo
from callcenter.demo.callbacks import callbacks_step
from callcenter.demo.run import SAMPLE
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.imports import import_csv
from callcenter.storage.tables import Call, Callback, Complaint, Survey


async def load_sample(db: Database, settings: Settings) -> None:
    for kind in ("departments", "staff", "customers", "jobs"):
        report = await import_csv(db, kind, SAMPLE / f"{kind}.csv",  # type: ignore[arg-type]
                                  centre_zone=settings.timezone)
        assert report.written, report.bad


def quiet() -> Console:
    return Console(file=io.StringIO(), width=160)


async def count(db: Database, model: type, *where: object) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_asterisk_demo_stores_a_survey_two_complaints_and_a_callback_per_run(
        db: Database, settings: Settings) -> None:
    await load_sample(db, settings)

    for run in (1, 2):
        await asterisk_demo(settings, db, quiet())

        assert await count(db, Call, Call.carrier == "asterisk") == 4 * run
        assert await count(db, Complaint) == 2 * run
        assert await count(db, Complaint, Complaint.recording_url.is_not(None)) == run
        assert await count(db, Survey, Survey.verification == "first_hand") == run
        assert await count(db, Callback, Callback.kind == "requested") == run


async def test_callbacks_demo_surveys_two_callees_once_however_often_it_runs(
        db: Database, settings: Settings) -> None:
    await load_sample(db, settings)

    for _ in (1, 2):
        await callbacks_step(settings, db, quiet())

        assert await count(db, Callback, Callback.kind == "post_repair") == 6
        assert await count(db, Callback, Callback.state == "completed") == 2
        assert await count(db, Callback, Callback.disposition == "do_not_call") == 1
        assert await count(db, Callback, Callback.state == "retry_wait") == 2
        assert await count(db, Survey, Survey.source == "callback") == 2


async def test_the_asterisk_demo_says_to_stop_the_service_that_holds_the_telephony_side(
        db: Database, settings: Settings) -> None:
    from datetime import UTC, datetime, timedelta

    import pytest

    from callcenter.owner import LEASE_NAME
    from callcenter.storage.tables import JobLock

    await load_sample(db, settings)
    async with db.sessions() as session:  # `make serve` running on the same database
        session.add(JobLock(name=LEASE_NAME, holder="serve-on-another-terminal",
                            lease_until=datetime.now(UTC) + timedelta(minutes=5)))
        await session.commit()
    with pytest.raises(SystemExit, match="stop `make serve`"):
        await asterisk_demo(settings, db, quiet())
