"""`callcenter serve`: several worker processes on one port, the event loop setting, signals.

The real command runs in a subprocess on a free port with a SQLite database;
`/metrics` names the worker that answered (`callcenter_event_loop_info{loop,pid}`).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from callcenter.commands.serve import resolve_event_loop, worker_settings
from callcenter.demo.serving import free_port
from callcenter.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0  # workers import the whole app; the test machine may be busy
STOP_TIMEOUT_S = 45.0
LOOP_INFO = re.compile(r'^callcenter_event_loop_info\{loop="(\w+)",pid="(\d+)"\} 1', re.M)


class Service:
    """`callcenter serve` in a subprocess, on its own port and SQLite file."""

    def __init__(self, tmp_path: Path, template: Path, *, workers: int, loop: str) -> None:
        shutil.copy(template, tmp_path / "cc.db")
        self.port = free_port()
        env = {
            **os.environ, "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
            "FASTAGI_PORT": str(free_port()), "AMI_ENABLED": "false",
            "REPORTS_ENABLED": "false", "REPORTS_DIR": str(tmp_path / "reports"),
            "PROMPTS_DIR": str(tmp_path / "prompts"), "SPOOL_DIR": str(tmp_path / "spool"),
            "RECORDINGS_DIR": str(tmp_path / "recordings"),
            "EVENT_LOOP": loop, "LOG_JSON": "false", "LOG_LEVEL": "INFO", "DEV_MODE": "true",
        }
        self.log = tmp_path / "serve.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "import sys; from callcenter.cli import main; sys.exit(main())",
                 "serve", "--workers", str(workers), "--port", str(self.port)],
                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)

    def get(self, path: str) -> str:
        """One request on a fresh connection (so SO_REUSEPORT may pick another worker)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as resp:
            assert resp.status == 200
            return str(resp.read().decode())

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"serve exited early:\n{self.output()}"
            try:
                self.get("/healthz")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        raise AssertionError(f"no /healthz within {START_TIMEOUT_S:.0f} s:\n{self.output()}")

    def workers_seen(self, want: int) -> dict[int, str]:
        """pid -> loop of the workers answering /metrics, until `want` distinct ones answered."""
        seen: dict[int, str] = {}
        deadline = time.monotonic() + START_TIMEOUT_S
        while len(seen) < want and time.monotonic() < deadline:
            try:
                loop, pid = LOOP_INFO.findall(self.get("/metrics"))[0]
            except (urllib.error.URLError, ConnectionError):  # a worker still starting
                time.sleep(0.2)
                continue
            seen[int(pid)] = loop
        return seen

    def stop(self, signum: int) -> int:
        self.proc.send_signal(signum)
        return self.proc.wait(STOP_TIMEOUT_S)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


@pytest.mark.slow
def test_two_workers_answer_on_one_port_on_uvloop_and_stop_on_sigint(
    tmp_path: Path, sqlite_template: Path
) -> None:
    pytest.importorskip("uvloop")
    service = Service(tmp_path, sqlite_template, workers=2, loop="uvloop")
    try:
        service.wait_healthy()
        seen = service.workers_seen(2)
        assert len(seen) == 2, f"only {seen} answered:\n{service.output()}"
        assert service.proc.pid not in seen  # the parent only supervises
        assert set(seen.values()) == {"uvloop"}
        assert service.stop(signal.SIGINT) == 0, service.output()
        assert all(gone(pid) for pid in seen)
        assert refused(service.port)
        assert "died" not in service.output()
    finally:
        service.close()


@pytest.mark.slow
def test_event_loop_asyncio_runs_the_standard_loop_in_process(
    tmp_path: Path, sqlite_template: Path
) -> None:
    service = Service(tmp_path, sqlite_template, workers=1, loop="asyncio")
    try:
        service.wait_healthy()
        assert service.workers_seen(1) == {service.proc.pid: "asyncio"}
        assert service.stop(signal.SIGTERM) == 0, service.output()
    finally:
        service.close()


@pytest.mark.slow
def test_a_worker_that_dies_is_reported_and_the_parent_fails(
    tmp_path: Path, sqlite_template: Path
) -> None:
    service = Service(tmp_path, sqlite_template, workers=2, loop="auto")
    try:
        service.wait_healthy()
        seen = service.workers_seen(2)
        assert len(seen) == 2, f"only {seen} answered:\n{service.output()}"
        victim, survivor = sorted(seen)
        os.kill(victim, signal.SIGKILL)
        assert service.proc.wait(STOP_TIMEOUT_S) == 1, service.output()
        assert f"(pid {victim}) died with signal SIGKILL" in service.output()
        assert gone(survivor)
    finally:
        service.close()


def test_only_the_first_worker_runs_the_single_services() -> None:
    base = Settings(job_loop_enabled=True, fastagi_enabled=True, ami_enabled=True)
    assert worker_settings(base, 0) is base
    for index in (1, 2):
        other = worker_settings(base, index)
        assert (other.job_loop_enabled, other.fastagi_enabled, other.ami_enabled) == (
            False, False, False)
        assert other.database_url == base.database_url


def test_event_loop_setting_resolves() -> None:
    assert resolve_event_loop("asyncio") == "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        assert resolve_event_loop("auto") == "asyncio"
        with pytest.raises(RuntimeError, match="not installed"):
            resolve_event_loop("uvloop")
    else:
        assert resolve_event_loop("auto") == resolve_event_loop("uvloop") == "uvloop"
