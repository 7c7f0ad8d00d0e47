"""Outside DEV_MODE the service refuses to start with a default or empty secret.

`callcenter serve` runs for real in a subprocess: it must exit non-zero at
once with one line per setting to change, and never open its port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from callcenter.demo.serving import free_port
from callcenter.safe_config import unsafe_settings
from callcenter.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k" * 8 + "0123456789abcdef"


def make(**values: Any) -> Settings:
    base: dict[str, Any] = {"secret_key": GOOD_KEY, "dev_mode": False, "ami_enabled": False,
                            "twilio_auth_token": "", "twilio_caller_id": "",
                            "outbound_carrier": "auto"}
    base.update(values)
    return Settings(_env_file=None, **base)  # type: ignore[call-arg]


def test_a_real_secret_key_and_no_carriers_may_start() -> None:
    assert unsafe_settings(make()) == []


@pytest.mark.parametrize("key", ["", "change-me-in-production", "change-me", "CHANGEME"])
def test_a_default_or_empty_secret_key_is_refused_naming_the_setting(key: str) -> None:
    [line] = unsafe_settings(make(secret_key=key))
    assert line.startswith("SECRET_KEY ") and "DEV_MODE=true" in line


def test_a_short_secret_key_is_refused() -> None:
    [line] = unsafe_settings(make(secret_key="short-key"))
    assert "SECRET_KEY" in line and "at least 16" in line


def test_the_default_ami_secret_is_refused_only_when_ami_is_on() -> None:
    assert unsafe_settings(make(ami_enabled=False, ami_secret="callcenter")) == []
    [line] = unsafe_settings(make(ami_enabled=True, ami_secret="callcenter"))
    assert line.startswith("AMI_SECRET ")
    assert unsafe_settings(make(ami_enabled=True, ami_secret="s3cret-from-manager-conf")) == []


@pytest.mark.parametrize("use", [{"twilio_caller_id": "+8610000000"}, {"outbound_carrier": "twilio"}])
def test_an_empty_twilio_token_is_refused_when_twilio_is_used(use: dict[str, str]) -> None:
    [line] = unsafe_settings(make(**use))
    assert line.startswith("TWILIO_AUTH_TOKEN ")
    assert unsafe_settings(make(twilio_auth_token="a" * 32, **use)) == []


def test_a_placeholder_twilio_token_is_refused() -> None:
    [line] = unsafe_settings(make(twilio_auth_token="change-me"))
    assert line.startswith("TWILIO_AUTH_TOKEN ")


def test_every_problem_gets_its_own_line() -> None:
    lines = unsafe_settings(make(secret_key="", ami_enabled=True, ami_secret="",
                                 twilio_caller_id="+8610000000"))
    assert [line.split()[0] for line in lines] == ["SECRET_KEY", "AMI_SECRET", "TWILIO_AUTH_TOKEN"]


def test_dev_mode_allows_the_defaults() -> None:
    assert unsafe_settings(make(secret_key="", ami_enabled=True, ami_secret="", dev_mode=True)) == []


def _serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    port = free_port()
    clean = {k: v for k, v in os.environ.items()
             if k not in ("SECRET_KEY", "DEV_MODE", "AMI_SECRET", "TWILIO_AUTH_TOKEN")}
    full = {**clean, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
            "LOG_JSON": "false", "FASTAGI_ENABLED": "false", **env}
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from callcenter.cli import main; sys.exit(main())",
         "serve", "--port", str(port)],
        cwd=tmp_path, env=full, capture_output=True, text=True, timeout=60)
    with socket.socket() as sock:  # nothing listens: it stopped before opening anything
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    return proc


def test_serve_with_the_shipped_secret_key_exits_with_one_line_naming_it(tmp_path: Path) -> None:
    proc = _serve(tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("configuration error: SECRET_KEY ")
    assert not (tmp_path / "x.db").exists()


def test_serve_with_ami_on_and_its_default_secret_names_ami_secret(tmp_path: Path) -> None:
    proc = _serve(tmp_path, SECRET_KEY=GOOD_KEY, AMI_ENABLED="true")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("configuration error: AMI_SECRET ")
