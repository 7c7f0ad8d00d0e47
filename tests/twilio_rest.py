"""A fake Twilio REST API on a real port: Prism serving Twilio's own OpenAPI contract, behind
a recorder that keeps every request, so a test can say what was asked of Twilio.

Prism answers a request the spec accepts with the spec's example (201 / 200) and one it
does not with 4xx (422 for a bad parameter, 401 without credentials): a request our code
sends wrongly shows up as a non-2xx `status` here and as a `TwilioRestException` there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import IN_CI, free_port

SPEC = Path(os.environ.get(
    "TWILIO_OAI_SPEC",
    Path(__file__).resolve().parents[1].parent / "shared" / "twilio" / "twilio_api_v2010.json"))
PRISM_HOME = Path(os.environ.get("PRISM_HOME", Path(tempfile.gettempdir()) / "callcenter-prism"))


def _skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def prism() -> Iterator[str]:
    """A Prism mock of the Twilio 2010-04-01 API on a free port; yields its base URL."""
    if not SPEC.is_file():
        _skip_or_fail(f"Twilio OpenAPI spec not found at {SPEC} (set TWILIO_OAI_SPEC)")
    binary = PRISM_HOME / "node_modules" / ".bin" / "prism"
    if not binary.exists():
        if shutil.which("npm") is None:
            _skip_or_fail("npm is missing: cannot install the Prism mock server")
        PRISM_HOME.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(PRISM_HOME), "@stoplight/prism-cli"],
                       check=True, capture_output=True, timeout=300)
    port = free_port()
    proc = subprocess.Popen([str(binary), "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("Prism did not start listening within 60 s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@dataclass(frozen=True)
class RestRequest:
    method: str
    path: str
    form: dict[str, list[str]]
    status: int  # what the contract (Prism) answered

    def one(self, name: str) -> str:
        (value,) = self.form[name]
        return value


@dataclass
class TwilioApi:
    url: str
    requests: list[RestRequest] = field(default_factory=list)

    def to(self, path_end: str, method: str = "POST") -> list[RestRequest]:
        """The requests whose path ends with `path_end` (e.g. '/Participants.json')."""
        return [r for r in self.requests if r.method == method and r.path.endswith(path_end)]


@pytest.fixture
async def twilio_api(prism: str) -> AsyncIterator[TwilioApi]:
    """The recorder in front of Prism, on its own port (the app's TWILIO_API_BASE_URL)."""
    port = free_port()
    api = TwilioApi(f"http://127.0.0.1:{port}")
    async with aiohttp.ClientSession() as upstream:

        async def forward(request: web.Request) -> web.Response:
            body = await request.read()
            headers = {k: v for k, v in request.headers.items()
                       if k.lower() in ("authorization", "content-type", "accept")}
            async with upstream.request(request.method, prism + request.path_qs, data=body,
                                        headers=headers) as answer:
                payload = await answer.read()
                api.requests.append(RestRequest(
                    request.method, request.path, parse_qs(body.decode(), keep_blank_values=True),
                    answer.status))
                return web.Response(body=payload, status=answer.status,
                                    content_type=answer.content_type or "application/json")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield api
        finally:
            await runner.cleanup()
