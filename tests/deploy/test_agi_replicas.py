"""Scale-out: Asterisk finds the FastAGI owner among the addresses of the replicas.

In compose, `agi://service:4573/hotline` resolves to every replica's address and only the
owner listens. Here the kit runs in a private mount namespace whose /etc/hosts gives
`hotline-replicas` two addresses, 127.0.0.1 first (nobody listens there: a standby) and
127.0.0.2 (the owner's FastAGI): a call dialled into the hotline must reach the owner.
Skipped where a mount namespace cannot be made.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from callcenter.app import create_app
from callcenter.appkeys import AMI, SERVICES
from callcenter.clock import system_clock
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, CallEvent
from callcenter.telephony.asterisk import ami_actions
from tests.asterisk import kit
from tests.asterisk.conftest import CALLER_B, back_office
from tests.conftest import free_port

pytestmark = pytest.mark.asterisk
NAME = "hotline-replicas"
IN_NAMESPACE = 'mount --bind "$0" /etc/hosts && exec "$@"'


def namespace_wrapper(hosts: Path) -> list[str] | None:
    """argv prefix running a command with `hosts` as its /etc/hosts, or None if impossible."""
    if shutil.which("unshare") is None:
        return None
    wrapper = ["unshare", "-m", "sh", "-c", IN_NAMESPACE, str(hosts)]
    probe = subprocess.run([*wrapper, "getent", "ahosts", NAME], capture_output=True,
                           text=True, timeout=20)
    if probe.returncode != 0:
        return None
    order = [line.split()[0] for line in probe.stdout.splitlines() if "STREAM" in line]
    assert order == ["127.0.0.1", "127.0.0.2"], probe.stdout  # the standby's address first
    return wrapper


@pytest.fixture(scope="module")
def replicas_kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kit.Kit]:
    kit.require_bundle()
    run = tmp_path_factory.mktemp("replicas")
    hosts = run / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n127.0.0.1 {NAME}\n127.0.0.2 {NAME}\n")
    wrapper = namespace_wrapper(hosts)
    if wrapper is None:
        pytest.skip("cannot make a private mount namespace here (unshare -m)")
    env = kit.local_env(run, agi_port=free_port(), ami_port=free_port(), sip_port=free_port(),
                        agi_host=NAME)
    real = kit.start(run, env, wrapper=wrapper)
    try:
        yield real
    finally:
        real.stop()


async def test_a_call_reaches_the_replica_that_owns_fastagi(
        replicas_kit: kit.Kit, tmp_path: Path, sqlite_template: Path) -> None:
    shutil.copy(sqlite_template, tmp_path / "cc.db")
    db = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    await back_office(db)
    settings = Settings(
        database_url=db.url, fastagi_host="127.0.0.2", fastagi_port=replicas_kit.agi_port,
        fastagi_allowed_peers="127.0.0.0/8",  # the kit connects from loopback
        ami_enabled=True, ami_port=replicas_kit.ami_port,
        ami_secret=replicas_kit.ami_secret,  # type: ignore[arg-type]
        job_loop_enabled=False, prompts_dir=tmp_path / "prompts",
        recordings_dir=tmp_path / "recordings", spool_dir=replicas_kit.spool, log_json=False,
        opening_hours="00:00-23:59")
    runner = web.AppRunner(create_app(settings, db=db, clock=system_clock), access_log=None)
    await runner.setup()
    try:
        ami = runner.app[SERVICES][AMI]
        await ami.wait_connected(15)
        answer = await ami.action(lambda aid: ami_actions.originate(
            aid, "Local/4000@hotline", context="test-caller", exten="s", priority=1,
            caller_id=ami_actions.format_caller_id("李四", CALLER_B.removeprefix("+86")),
            channel_id="replicas-1", other_channel_id="replicas-1b",
            variables={"DIGITS": "2ww1ww2ww1ww1ww2", "CALLER_TAIL_WAIT": "2"}))
        assert answer.ok, answer
        async with asyncio.timeout(40):
            while True:
                async with db.sessions() as session:
                    call = await session.scalar(
                        select(Call).where(Call.carrier_call_id == "replicas-1"))
                    kinds = set() if call is None else set((await session.scalars(
                        select(CallEvent.kind).where(CallEvent.call_id == call.id))).all())
                if call is not None and call.ended_at is not None:
                    break
                await asyncio.sleep(0.2)
        assert "ivr_step" in kinds and "fastagi_fallback" not in kinds, kinds
        log = (replicas_kit.run / "var" / "log" / "messages.log").read_text(errors="replace")
        assert f"Connecting to '127.0.0.1:{replicas_kit.agi_port}' failed" in log  # tried first
    finally:
        await runner.cleanup()
        await db.close()
