"""The real Asterisk 22 test kit, started on deploy/asterisk rendered by OUR entrypoint.

`deploy/asterisk/entrypoint render` is what the Asterisk image runs at every
start; the tests run the same script on the same templates, then start the kit
(`$ASTERISK_BUNDLE/start RUN --conf RENDERED`) on the result, so the configs a
site deploys are the configs under test. No bundle: skip with the reason
(a failure when CALLCENTER_REQUIRE_ASTERISK=1, as in CI).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUNDLE = Path(os.environ.get("ASTERISK_BUNDLE") or REPO.parent / "shared" / "asterisk")
ENTRYPOINT = REPO / "deploy" / "asterisk" / "entrypoint"


def require_bundle() -> None:
    if not (BUNDLE / "start").exists():
        reason = f"no Asterisk bundle at {BUNDLE} (set ASTERISK_BUNDLE)"
        if os.environ.get("CALLCENTER_REQUIRE_ASTERISK") == "1":
            pytest.fail(reason + "; CALLCENTER_REQUIRE_ASTERISK=1 requires it")
        pytest.skip(reason)


def render(out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the entrypoint's render step with exactly `env` (plus PATH) into `out`."""
    return subprocess.run(
        ["sh", str(ENTRYPOINT), "render"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env,
             "ASTERISK_CONF_DIR": str(out)},
        capture_output=True, text=True, timeout=30)


@dataclass
class Kit:
    """A running kit: its run directory, ports and the AMI secret the render gave it."""

    run: Path
    agi_port: int
    ami_port: int
    sip_port: int
    ami_secret: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def spool(self) -> Path:
        return self.run / "var" / "spool" / "callcenter"

    def stop(self) -> None:
        subprocess.run([str(BUNDLE / "stop"), str(self.run)], capture_output=True, timeout=60)


def local_env(run: Path, *, agi_port: int, ami_port: int, sip_port: int,
              agi_host: str = "127.0.0.1") -> dict[str, str]:
    """The entrypoint's environment for a kit on this machine (loopback only)."""
    return {
        "AGI_URL": f"agi://{agi_host}:{agi_port}/hotline",
        "AMI_PORT": str(ami_port), "AMI_BIND": "127.0.0.1", "AMI_PERMIT": "127.0.0.1",
        "AMI_SECRET": secrets.token_urlsafe(18),
        "SIP_PORT": str(sip_port), "SIP_BIND": "127.0.0.1",
        "SOFTPHONE_PASSWORD": secrets.token_urlsafe(12),
        "SPOOL_DIR": str(run / "var" / "spool" / "callcenter"),
        "RTP_START": "10000", "RTP_END": "10200",
    }


def install_fallback(run: Path) -> None:
    """The classic AGI fallback script, with this Python (it has pyst2) in its shebang."""
    agi_bin = run / "agi-bin"
    agi_bin.mkdir(parents=True, exist_ok=True)
    script = (REPO / "deploy/asterisk/agi-bin/hotline_fallback.py").read_text().splitlines()
    target = agi_bin / "hotline_fallback.py"
    target.write_text("\n".join([f"#!{sys.executable}", *script[1:]]) + "\n")
    target.chmod(0o755)


def start(run: Path, env: dict[str, str], *, extra_conf: Sequence[Path] = (),
          wrapper: Sequence[str] = ()) -> Kit:
    """Render deploy/asterisk with `env` through the entrypoint, start the kit on the result
    (plus `extra_conf` files as they are, e.g. the image's modules.conf; `wrapper`: argv
    prefix the kit's start script runs under, e.g. a private mount namespace)."""
    require_bundle()
    rendered = run / "rendered"
    result = render(rendered, env)
    if result.returncode != 0:
        pytest.fail(f"the entrypoint did not render: {result.stderr}")
    for conf in extra_conf:
        shutil.copy(conf, rendered / conf.name)
    install_fallback(run)
    started = subprocess.run(
        [*wrapper, str(BUNDLE / "start"), str(run), "--conf", str(rendered)],
        env={**os.environ, "AMI_PORT": env["AMI_PORT"], "SIP_PORT": env["SIP_PORT"],
             "AGI_URL": env["AGI_URL"]},
        capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        pytest.fail(f"Asterisk did not start:\n{started.stdout}\n{started.stderr}")
    agi_port = int(env["AGI_URL"].rsplit(":", 1)[1].split("/")[0])
    return Kit(run, agi_port, int(env["AMI_PORT"]), int(env["SIP_PORT"]), env["AMI_SECRET"], env)
