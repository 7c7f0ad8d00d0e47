"""The two Dockerfiles, checked without Docker: what they copy exists, the Asterisk release
is pinned by version and SHA-256, build tools stay in the build stage, the image keeps
exactly the modules its modules.conf loads, and the service image has the CJK fonts."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.deploy.compose import REPO

DOCKERFILES = {"service": REPO / "Dockerfile", "asterisk": REPO / "deploy/asterisk/Dockerfile"}


def stages(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    return re.split(r"^FROM ", text, flags=re.M)[1:]


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_every_file_an_image_copies_exists(name: str) -> None:
    path = DOCKERFILES[name]
    copies = [shlex.split(line.strip())[1:] for line in path.read_text().replace("\\\n", " ").splitlines()
              if line.strip().startswith("COPY ") and "--from=" not in line]
    assert copies
    for args in copies:
        sources = [a for a in args[:-1] if not a.startswith("--")]
        for source in sources:
            assert list(path.parent.glob(source)), f"{name}: COPY {source} matches nothing"


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_images_are_multi_stage_and_run_unprivileged(name: str) -> None:
    build, *_, runtime = stages(DOCKERFILES[name])
    assert "AS build" in build.splitlines()[0] and "AS runtime" in runtime.splitlines()[0]
    assert "build-essential" not in runtime and "-dev " not in runtime
    assert re.search(r"^USER (?!root)\w+", runtime, re.M)
    assert "HEALTHCHECK" in runtime


def test_asterisk_is_the_pinned_upstream_release() -> None:
    text = DOCKERFILES["asterisk"].read_text()
    version = re.search(r"ARG ASTERISK_VERSION=(22\.\d+\.\d+)", text)
    digest = re.search(r"ARG ASTERISK_SHA256=([0-9a-f]{64})\b", text)
    assert version and digest
    assert "sha256sum -c" in text and "downloads.asterisk.org" in text


def test_the_asterisk_image_keeps_the_modules_the_hotline_needs() -> None:
    loaded = set(re.findall(r"^load => (\S+)", (REPO / "deploy/asterisk/image/modules.conf")
                            .read_text(), re.M))
    assert {"chan_pjsip.so", "res_agi.so", "cel_manager.so", "app_queue.so", "res_pjsip.so",
            "app_record.so", "format_wav.so"} <= loaded
    assert "--disable-category MENUSELECT_CORE_SOUNDS" in DOCKERFILES["asterisk"].read_text()


def test_the_service_image_draws_chinese() -> None:
    runtime = stages(DOCKERFILES["service"])[-1]
    assert "fonts-noto-cjk" in runtime and "espeak-ng" in runtime


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_every_run_step_is_valid_shell(name: str) -> None:
    text = DOCKERFILES[name].read_text().replace("\\\n", " ")
    steps = [line.strip()[4:] for line in text.splitlines() if line.strip().startswith("RUN ")]
    assert steps
    for step in steps:
        checked = subprocess.run(["sh", "-n", "-c", step], capture_output=True, text=True)
        assert checked.returncode == 0, f"{name}: {step[:80]}...: {checked.stderr}"
