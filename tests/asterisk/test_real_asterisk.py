"""The hotline on a REAL Asterisk 22: our service (FastAGI + AMI) on real ports, simulated
callers pressing keys (AMI Originate into the bundle's `test-caller` context), and the
database checked afterwards.

Asterisk comes from the test bundle (env ASTERISK_BUNDLE, default ../shared/asterisk
beside the repository), started on the project's own deploy/asterisk configs rendered by
the Asterisk image's entrypoint (tests/asterisk/kit.py). No bundle: skipped with the
reason; CALLCENTER_REQUIRE_ASTERISK=1 (CI) makes that a failure.
SQLite only, to keep the module under two minutes; the fakes cover both engines.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from callcenter.app import create_app
from callcenter.appkeys import AMI, CALL_LOG, SERVICES
from callcenter.clock import system_clock
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, CallEvent, Complaint, Survey
from callcenter.telephony.asterisk import ami_actions
from callcenter.telephony.asterisk.ami_client import AmiClient
from callcenter.telephony.asterisk.call_log import AmiCallLog
from callcenter.telephony.asterisk.dialer import AsteriskDialer
from callcenter.telephony.asterisk.spool import import_spool
from crm.enums import CallDisposition, DialOutcome
from crm.services.callback_ports import DialRequest, PlacedAttempt
from tests.asterisk import kit
from tests.asterisk.conftest import CALLER_B, back_office, until
from tests.asterisk.kit import Kit
from tests.conftest import free_port

pytestmark = pytest.mark.asterisk
CALLER_ID = ami_actions.format_caller_id("李四", CALLER_B.removeprefix("+86"))


RealAsterisk = Kit


@pytest.fixture(scope="module")
def asterisk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    """The kit on deploy/asterisk as rendered by the Asterisk image's entrypoint."""
    kit.require_bundle()
    run = tmp_path_factory.mktemp("asterisk")
    real = kit.start(run, kit.local_env(run, agi_port=free_port(), ami_port=free_port(),
                                        sip_port=free_port()))
    try:
        yield real
    finally:
        real.stop()


@pytest.fixture
async def sqlite_db(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    target = tmp_path / "callcenter.db"
    shutil.copy(sqlite_template, target)
    database = Database.open(f"sqlite+aiosqlite:///{target}")
    yield database
    await database.close()


@dataclass
class Service:
    app: web.Application
    db: Database
    settings: Settings

    @property
    def ami(self) -> AmiClient:
        return self.app[SERVICES][AMI]  # type: ignore[no-any-return]

    @property
    def call_log(self) -> AmiCallLog:
        return self.app[SERVICES][CALL_LOG]  # type: ignore[no-any-return]

    async def caller(self, call_id: str, digits: str, *, tail_s: int = 2, pre_s: int = 1) -> None:
        """A caller dials the hotline (4000) and presses `digits` ('w' = 0.5 s pause)."""
        answer = await self.ami.action(lambda aid: ami_actions.originate(
            aid, "Local/4000@hotline", context="test-caller", exten="s", priority=1,
            caller_id=CALLER_ID, channel_id=call_id, other_channel_id=f"{call_id}-b",
            variables={"DIGITS": digits, "CALLER_PRE_WAIT": str(pre_s),
                       "CALLER_TAIL_WAIT": str(tail_s)}))
        assert answer.ok, answer

    async def call_over(self, call_id: str, within_s: float = 40) -> Call:
        """Wait for Asterisk's LINKEDID_END to finalise the call; return its row."""
        async with asyncio.timeout(within_s):
            while True:
                async with self.db.sessions() as session:
                    call = await session.scalar(select(Call).where(Call.carrier_call_id == call_id))
                if call is not None and call.ended_at is not None and call_id not in self.call_log.open_calls:
                    return call
                await asyncio.sleep(0.2)


async def _service(asterisk: RealAsterisk, db: Database, tmp_path: Path, *,
                   fastagi: bool, site_port: int | None = None,
                   **overrides: Any) -> AsyncIterator[Service]:
    """The service on the kit; `site_port`: its pages and API on that port too (a browser's)."""
    await back_office(db)
    if site_port is not None:
        overrides = {"http_port": site_port, "public_base_url": f"http://127.0.0.1:{site_port}",
                     **overrides}
    settings = Settings(
        database_url=db.url, fastagi_enabled=fastagi, fastagi_port=asterisk.agi_port,
        ami_enabled=True, ami_port=asterisk.ami_port, job_loop_enabled=False,
        ami_secret=asterisk.ami_secret,  # type: ignore[arg-type]
        prompts_dir=tmp_path / "prompts", recordings_dir=tmp_path / "recordings",
        spool_dir=asterisk.spool, log_json=False,
        opening_hours="00:00-23:59", **overrides,
    )
    app = create_app(settings, db=db, clock=system_clock)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()  # runs the cleanup contexts: FastAGI listens, AMI connects
    try:
        if site_port is not None:
            await web.TCPSite(runner, "127.0.0.1", site_port).start()
        service = Service(app, db, settings)
        await service.ami.wait_connected(15)
        yield service
    finally:
        await runner.cleanup()


@pytest.fixture
async def service(asterisk: RealAsterisk, sqlite_db: Database, tmp_path: Path) -> AsyncIterator[Service]:
    async for s in _service(asterisk, sqlite_db, tmp_path, fastagi=True):
        yield s


@pytest.fixture
async def service_down(asterisk: RealAsterisk, sqlite_db: Database, tmp_path: Path) -> AsyncIterator[Service]:
    """AMI on, FastAGI off: Asterisk's AGI() fails and the dialplan falls back."""
    async for s in _service(asterisk, sqlite_db, tmp_path, fastagi=False):
        yield s


def spooled(spool: Path, uniqueid: str) -> bool:
    """The fallback left a metadata file (and so a recording) for this call in the spool."""
    return any(spool.glob(f"*{uniqueid}*.json"))


async def _kinds(db: Database, call_id: int) -> set[str]:
    async with db.sessions() as session:
        return set((await session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call_id))).all())


async def test_a_caller_rates_the_visit_on_real_asterisk(service: Service) -> None:
    await service.caller("rt-survey", "2ww1ww2ww1ww1ww2")
    call = await service.call_over("rt-survey")
    async with service.db.sessions() as session:
        survey = await session.scalar(select(Survey).where(Survey.call_id == call.id))
    assert survey is not None and (survey.timeliness, survey.quality, survey.attitude) == ("A", "B", "A")
    assert survey.complete and survey.verification == "first_hand"
    assert call.disposition == CallDisposition.IVR_ONLY and call.customer_id is not None
    assert {"ivr_step", "channel_created", "channel_hangup", "ended"} <= await _kinds(service.db, call.id)


async def test_a_caller_files_a_complaint_on_real_asterisk(service: Service) -> None:
    await service.caller("rt-complaint", "1ww2wwwwww#wwww2", tail_s=2)
    call = await service.call_over("rt-complaint")
    async with service.db.sessions() as session:
        complaint = await session.scalar(select(Complaint).where(Complaint.call_id == call.id))
    assert complaint is not None and complaint.category == "attitude"
    assert complaint.recording_url and complaint.recording_url.endswith(".wav")
    assert complaint.customer_id == call.customer_id


async def test_a_caller_who_gives_up_in_the_agent_queue_is_an_abandon(service: Service) -> None:
    await service.caller("rt-queue", "0", tail_s=3)
    call = await service.call_over("rt-queue")
    assert call.queued_at is not None and call.queue == "hotline-agents"
    assert call.disposition == CallDisposition.ABANDONED
    assert "queue_abandon" in await _kinds(service.db, call.id)


async def test_with_the_service_down_the_classic_agi_keeps_the_complaint_for_later(
        service_down: Service, asterisk: RealAsterisk) -> None:
    await service_down.caller("rt-fallback", "wwww#", tail_s=1)
    call = await service_down.call_over("rt-fallback")
    assert "fastagi_fallback" in await _kinds(service_down.db, call.id)
    await until(lambda: spooled(asterisk.spool, "rt-fallback"), 10)
    report = await import_spool(service_down.db, service_down.settings, system_clock)
    again = await import_spool(service_down.db, service_down.settings, system_clock)
    assert len(report.imported) == 1 and again.imported == []
    async with service_down.db.sessions() as session:
        complaint = await session.scalar(select(Complaint).where(Complaint.ticket == report.imported[0]))
    assert complaint is not None and complaint.customer_id == call.customer_id
    assert complaint.recording_url and spooled(Path(complaint.recording_url).parent, "rt-fallback")


async def test_callback_dials_map_asterisks_answer_to_outcomes(service: Service) -> None:
    dialer = AsteriskDialer(service.ami, service.db, system_clock, trunk="Local/{number}@test-callee")
    dialer.attach(service.call_log)
    now = datetime.now(UTC)
    for attempt, number in (("rt-dial-busy", "+8613800000001"), ("rt-dial-ok", "+8613800000009")):
        started = await dialer.dial(DialRequest(attempt, 1, number, "", "hotline", timeout_s=5))
        assert started.carrier_call_id == attempt
    outcomes: dict[str, Any] = {}
    async with asyncio.timeout(20):
        while len(outcomes) < 2:
            for attempt in ("rt-dial-busy", "rt-dial-ok"):
                found = await dialer.lookup(PlacedAttempt(attempt, 1, "", now, attempt))
                if found is not None and found.outcome is not None:
                    outcomes[attempt] = found.outcome
            await asyncio.sleep(0.3)
    assert outcomes == {"rt-dial-busy": DialOutcome.BUSY, "rt-dial-ok": DialOutcome.ANSWERED}
