"""The compose stack, run without Docker: each service's own command with the environment
compose would give its container, against the local PostgreSQL and the real Asterisk kit.

`docker-compose.yml` and `.env.example` (filled as a site fills it) are parsed as compose
does (tests/deploy/compose.py); what only Docker provides is remapped: host names
(`postgres`, `asterisk`, `service`) to 127.0.0.1, ports to free local ones, the private
subnet to loopback, the shared volumes to temporary directories, PostgreSQL's database and
role to throwaway ones. The `asterisk` service runs its image's entrypoint (render) and
the kit plays `asterisk -f` on the result with the image's own modules.conf. Two replicas of
`service` run on one PostgreSQL with the same FastAGI port, as `--scale service=2` does.

Shown here: migrations and prompts run, every replica serves HTTP, one owns FastAGI/AMI,
a call goes through; kill -9 of the owner: the other replica takes over within
OWNER_LEASE_S + a third of it (+2 s of slack) and the next call goes through.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from callcenter.telephony.asterisk import ami_actions
from callcenter.telephony.asterisk.ami_client import AmiClient, AmiConfig
from tests.asterisk import kit
from tests.conftest import PG_ADMIN, _pg_reachable, free_port
from tests.deploy import compose

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]
LEASE_S = 3  # OWNER_LEASE_S in the filled .env: a short lease keeps the fail-over test short
START_TIMEOUT_S = 90.0
CALLER = "13800138000"


def run_command(argv: list[str], env: dict[str, str], cwd: Path, **popen: object) -> subprocess.Popen[bytes]:
    """Start a compose command; `callcenter` is this repository's CLI on this Python."""
    if argv[0] == "callcenter":
        argv = [sys.executable, "-m", "callcenter.cli", *argv[1:]]
    return subprocess.Popen(argv, env={"PATH": os.environ["PATH"], **env}, cwd=cwd, **popen)  # type: ignore[call-overload]


@dataclass
class Replica:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def health(self) -> dict[str, object] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=3) as r:
                return dict(json.loads(r.read()))
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            return None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@dataclass
class Stack:
    root: Path
    env: dict[str, str]
    service_env: dict[str, str]
    db_dsn: str
    kit: kit.Kit
    replicas: list[Replica] = field(default_factory=list)

    def owner(self) -> Replica | None:
        owners = [r for r in self.replicas if r.proc.poll() is None
                  and (r.health() or {}).get("telephony_owner") is True]
        assert len(owners) <= 1, "two replicas own FastAGI/AMI at once"
        return owners[0] if owners else None

    async def call(self, call_id: str, digits: str) -> dict[str, object]:
        """A caller dials the hotline through the kit; returns the call's row once ended."""
        client = AmiClient(AmiConfig(host="127.0.0.1", port=self.kit.ami_port,
                                     username="callcenter", secret=self.kit.ami_secret,
                                     events="off"))
        await client.start()
        try:
            await client.wait_connected(15)
            answer = await client.action(lambda aid: ami_actions.originate(
                aid, "Local/4000@hotline", context="test-caller", exten="s", priority=1,
                caller_id=ami_actions.format_caller_id("Compose", CALLER), channel_id=call_id,
                other_channel_id=f"{call_id}-b",
                variables={"DIGITS": digits, "CALLER_PRE_WAIT": "1", "CALLER_TAIL_WAIT": "2"}))
            assert answer.ok, answer
        finally:
            await client.close()
        conn = await asyncpg.connect(self.db_dsn)
        try:
            async with asyncio.timeout(60):
                while True:
                    row = await conn.fetchrow(
                        "SELECT id, ended_at, ivr_path FROM calls WHERE carrier_call_id = $1", call_id)
                    if row is not None and row["ended_at"] is not None:
                        steps = await conn.fetchval(
                            "SELECT count(*) FROM call_events WHERE call_id = $1 AND kind = 'ivr_step'",
                            row["id"])
                        return {**dict(row), "ivr_steps": steps}
                    await asyncio.sleep(0.3)
        finally:
            await conn.close()


def localize(env: dict[str, str], replace: dict[str, str], ports: dict[str, int]) -> dict[str, str]:
    out = {}
    for key, value in env.items():
        for old, new in replace.items():
            value = value.replace(old, new)
        out[key] = str(ports[key]) if key in ports else value
    return out


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def wait_until(check, timeout_s: float, what: str) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if check():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout_s:.0f} s")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    kit.require_bundle()
    if not _pg_reachable():
        pytest.skip("PostgreSQL not reachable on 127.0.0.1:5432")
    root = tmp_path_factory.mktemp("compose")
    env = compose.filled_env(OWNER_LEASE_S=str(LEASE_S))
    spec = compose.load(env)
    subnet = env["HOTLINE_SUBNET"]
    name = f"cc_compose_{uuid.uuid4().hex[:10]}"
    password = env["POSTGRES_PASSWORD"]
    asyncio.run(_admin(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'"))
    asyncio.run(_admin(f'CREATE DATABASE "{name}" OWNER {name}'))
    volumes = root / "var-lib-callcenter"
    fastagi_port = free_port()
    replace = {
        f"callcenter:{password}@postgres:5432/callcenter": f"{name}:{password}@127.0.0.1:5432/{name}",
        "/var/lib/callcenter": str(volumes), subnet: "127.0.0.1", "0.0.0.0": "127.0.0.1",
        "agi://service:4573": f"agi://127.0.0.1:{fastagi_port}",
    }
    kit_run = root / "asterisk"
    ast_env = localize(compose.container_env(spec, "asterisk", env), replace,
                       {"AMI_PORT": free_port(), "SIP_PORT": free_port()})
    ast_env.update(AMI_BIND="127.0.0.1", SIP_BIND="127.0.0.1",
                   ASTERISK_TEMPLATES=str(compose.REPO / "deploy/asterisk"))
    assert compose.command(spec, "asterisk") == ["asterisk", "-f"]
    service_env = localize(compose.container_env(spec, "service", env), replace,
                           {"AMI_PORT": int(ast_env["AMI_PORT"]), "FASTAGI_PORT": fastagi_port})
    service_env["AMI_HOST"] = "127.0.0.1"
    for sub in ("prompts", "recordings", "spool", "reports"):
        (volumes / sub).mkdir(parents=True, exist_ok=True)
    # the one-shots: prompts (no dependency) while Asterisk boots, then migrations
    prompts_log = (root / "prompts.log").open("wb")
    prompts = run_command(compose.command(spec, "prompts"),
                          localize(compose.container_env(spec, "prompts", env), replace, {}),
                          root, stdout=prompts_log, stderr=subprocess.STDOUT)
    real = kit.start(kit_run, ast_env, extra_conf=[compose.REPO / "deploy/asterisk/image/modules.conf"])
    stack = Stack(root, env, service_env,
                  f"postgresql://{name}:{password}@127.0.0.1:5432/{name}", real)
    try:
        migrate = run_command(compose.command(spec, "migrate"),
                              localize(compose.container_env(spec, "migrate", env), replace, {}),
                              root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out, _ = migrate.communicate(timeout=120)
        assert migrate.returncode == 0, out.decode(errors="replace")
        assert prompts.wait(timeout=300) == 0, (root / "prompts.log").read_text()
        assert list((volumes / "prompts").glob("*/*.wav")), "the prompts one-shot wrote no prompt"
        for index in range(2):  # --scale service=2
            port = free_port()
            log = root / f"service-{index}.log"
            proc = run_command(compose.command(spec, "service"), {**service_env, "HTTP_PORT": str(port)},
                               root, stdout=log.open("wb"), stderr=subprocess.STDOUT)
            stack.replicas.append(Replica(proc, port, log))
            if index == 0:  # the first replica up owns; start the other once it does
                wait_until(lambda: stack.owner() is not None, START_TIMEOUT_S, "a first owner")
        for replica in stack.replicas:
            wait_until(lambda r=replica: r.health() is not None or r.proc.poll() is not None,
                       START_TIMEOUT_S, "healthz")
            assert replica.proc.poll() is None, replica.output()
        yield stack
    finally:
        for replica in stack.replicas:
            if replica.proc.poll() is None:
                replica.proc.send_signal(signal.SIGTERM)
        for replica in stack.replicas:
            try:
                replica.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                replica.proc.kill()
                replica.proc.wait()
        if prompts.poll() is None:
            prompts.kill()
            prompts.wait()
        prompts_log.close()
        real.stop()
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(_admin(f"DROP ROLE IF EXISTS {name}"))


def test_every_replica_serves_http_one_owns_telephony_and_a_call_goes_through(stack: Stack) -> None:
    healths = [r.health() for r in stack.replicas]
    assert all(h is not None and h["status"] == "ok" and h["database"] == "postgresql"
               for h in healths), healths
    assert sorted(h["telephony_owner"] for h in healths if h) == [False, True]
    call = asyncio.run(stack.call("compose-call-1", "2ww1ww1ww1ww1"))
    assert call["ivr_steps"] >= 2 and call["ivr_path"], call


def test_when_the_owner_is_killed_the_other_replica_takes_over_and_calls_go_through(
        stack: Stack) -> None:
    owner = stack.owner()
    assert owner is not None
    standby = next(r for r in stack.replicas if r is not owner)
    owner.proc.send_signal(signal.SIGKILL)
    owner.proc.wait(timeout=10)
    bound = LEASE_S + LEASE_S / 3 + 2.0
    took = wait_until(lambda: stack.owner() is standby, bound + 10, "a take-over")
    print(f"fail-over: the standby owned FastAGI/AMI {took:.1f} s after kill -9 (bound {bound:.1f} s)")
    assert took <= bound, f"take-over took {took:.1f} s, more than {bound:.1f} s"
    call = asyncio.run(stack.call("compose-call-2", "2ww1ww1ww1ww1"))
    assert call["ivr_steps"] >= 2, call
