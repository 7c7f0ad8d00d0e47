"""Our Twilio dialer against Twilio's own OpenAPI contract, served and validated by Prism.

Prism answers 201 only to a `calls.create` the spec accepts (and 4xx to one
it does not), so these tests show that what we send is what Twilio takes.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.settings import Settings
from callcenter.telephony.twilio.rest import TwilioDialer, lookup_of
from crm.enums import DialOutcome
from crm.services.callback_ports import DialRejected, DialRequest, PlacedAttempt
from tests.conftest import IN_CI, free_port

SPEC = Path(os.environ.get(
    "TWILIO_OAI_SPEC",
    Path(__file__).resolve().parents[2].parent / "shared" / "twilio" / "twilio_api_v2010.json"))
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


def dialer(prism: str, **overrides: str) -> TwilioDialer:
    settings = Settings(
        twilio_api_base_url=prism, twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="test-auth-token-0123456789abcdef",  # type: ignore[arg-type]
        twilio_caller_id="+8657112345678", public_base_url="https://hotline.example.com",
        **overrides,  # type: ignore[arg-type]
    )
    return TwilioDialer(settings)


REQUEST = DialRequest("a1b2c3-17", 17, "+8613800138000", "", "post_repair_survey", 30)


async def test_calls_create_is_accepted_by_twilios_contract(prism: str) -> None:
    started = await dialer(prism).dial(REQUEST)
    assert started.carrier == "twilio"
    assert started.carrier_call_id and started.carrier_call_id.startswith("CA")


async def test_call_twilio_refuses_is_reported_as_no_call(
    prism: str,
) -> None:
    bad = DialRequest("a1-18", 18, "+8613800138000", "", "post_repair_survey",
                      "thirty")  # type: ignore[arg-type]  # Timeout must be an integer
    with pytest.raises(DialRejected, match="422"):
        await dialer(prism).dial(bad)


async def test_lookup_by_call_sid_reads_the_call_status(prism: str) -> None:
    found = await dialer(prism).lookup(PlacedAttempt(
        "a1b2c3-17", 17, "+8613800138000", datetime(2026, 5, 18, 2, 0, tzinfo=UTC),
        "CA" + "a" * 32))
    assert found is not None and found.carrier_call_id


def test_twilio_statuses_map_to_dial_outcomes() -> None:
    assert lookup_of("busy", "CA1").outcome is DialOutcome.BUSY
    assert lookup_of("no-answer", "CA1").outcome is DialOutcome.NO_ANSWER
    assert lookup_of("ringing", "CA1").outcome is None
    done = lookup_of("completed", "CA1")
    assert (done.outcome, done.ended) == (DialOutcome.ANSWERED, True)
