"""An agent's SIP phone for the real-Asterisk tests: Debian's SIPp (package `sip-tester`)
playing the scenarios in tests/asterisk/sipp/.

The phone registers as a PJSIP endpoint of the kit (digest auth, so the contact Asterisk
dials is this phone's UDP port), then answers one call and puts the caller on hold the way
a desk phone does: a re-INVITE with `a=sendonly`, later `a=sendrecv`. Asterisk turns those
into AMI `Hold` / `Unhold` on the agent's channel. No SIPp: skipped with the reason, a
failure when CALLCENTER_REQUIRE_ASTERISK=1 or in CI (`make test` installs it as root).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.asterisk.kit import Kit

SCENARIOS = Path(__file__).resolve().parent / "sipp"


def require_sipp() -> str:
    found = shutil.which("sipp")
    if found is None:
        reason = "SIPp is not installed (apt-get install sip-tester; `make test` installs it as root)"
        if os.environ.get("CALLCENTER_REQUIRE_ASTERISK") == "1" or os.environ.get("CI"):
            pytest.fail(reason + "; CALLCENTER_REQUIRE_ASTERISK=1 / CI require it")
        pytest.skip(reason)
    return found


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Script:
    """What the agent does on the call, in seconds: the phone rings, then talk, hold, talk."""

    ring_s: float
    talk_s: float
    hold_s: float
    after_s: float

    def sipp_args(self) -> list[str]:
        out: list[str] = []
        for name, seconds in (("ring_ms", self.ring_s), ("talk_ms", self.talk_s),
                              ("hold_ms", self.hold_s), ("after_ms", self.after_s)):
            out += ["-set", name, str(round(seconds * 1000))]
        return out


class PhoneFailed(AssertionError):
    pass


@dataclass
class Softphone:
    sipp: str
    kit: Kit
    user: str
    password: str
    port: int  # the phone's own UDP port: registered as its contact, where INVITEs arrive
    logs: Path

    def _argv(self, scenario: str, *extra: str) -> list[str]:
        name = scenario.removesuffix(".xml")
        return [self.sipp, *extra, "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1",
                "-p", str(self.port), "-mp", str(free_udp_port()),  # not SIPp's fixed 6000
                "-s", self.user, "-m", "1", "-nostdin",
                "-timeout", "120s", "-timeout_error",
                "-trace_err", "-error_file", str(self.logs / f"{name}-errors.log"),
                "-trace_msg", "-message_file", str(self.logs / f"{name}-messages.log")]

    async def _finish(self, proc: asyncio.subprocess.Process, scenario: str,
                      within_s: float) -> None:
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), within_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise PhoneFailed(f"sipp {scenario} still running after {within_s} s") from None
        if proc.returncode != 0:
            name = scenario.removesuffix(".xml")
            errors = self.logs / f"{name}-errors.log"
            detail = errors.read_text(errors="replace")[-3000:] if errors.exists() else ""
            raise PhoneFailed(f"sipp {scenario} exited {proc.returncode}:\n"
                              f"{out.decode(errors='replace')[-2000:]}\n{detail}")

    async def register(self, *, expires: int = 3600) -> None:
        """REGISTER with digest auth (expires=0 takes the registration back)."""
        proc = await asyncio.create_subprocess_exec(
            *self._argv("register.xml", f"127.0.0.1:{self.kit.sip_port}", "-au", self.user,
                        "-ap", self.password, "-key", "expires", str(expires)),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        await self._finish(proc, "register.xml", 30)

    @contextlib.asynccontextmanager
    async def takes_one_call(self, script: Script
                             ) -> AsyncIterator[asyncio.subprocess.Process]:
        """The phone waits for one INVITE and plays `script`; on leaving the block the
        scenario must have ended cleanly (every message as expected, BYE answered)."""
        proc = await asyncio.create_subprocess_exec(
            *self._argv("agent_phone.xml", *script.sipp_args()),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        await asyncio.sleep(0.3)  # bound before any INVITE (Asterisk would retransmit anyway)
        try:
            yield proc
        except BaseException as exc:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
            errors = self.logs / "agent_phone-errors.log"
            if errors.exists():  # what the phone saw go wrong, if anything
                exc.add_note(f"sipp agent_phone.xml ({proc.returncode}): "
                             f"{errors.read_text(errors='replace')[-3000:]}")
            raise
        await self._finish(proc, "agent_phone.xml", 60)
