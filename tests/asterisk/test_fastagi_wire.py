"""The FastAGI server's socket layer, on real TCP: cut connections, big commands, busy ports.

The server drives its sockets straight off the event loop (no asyncio
transport), so what a transport did for it is tested here: a connection
closed or reset at any point ends its session and stops being watched (a
watched socket at EOF would spin the loop), a command the kernel takes only
in part still reaches Asterisk whole, a port in use is a clear error, and
running out of file descriptors pauses accepting instead of spinning.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
import sys
import textwrap
import time
from pathlib import Path

import pytest

from callcenter.telephony.asterisk import agi_commands as agi
from callcenter.telephony.asterisk.agi_protocol import AgiRequest
from callcenter.telephony.asterisk.fastagi import SESSIONS, AgiChannel, CallerGone, FastAgiServer
from tests.asterisk.fake_agi import FakeAgiCall, agi_block

ROOT = Path(__file__).resolve().parents[2]


def block(uniqueid: str = "u-1") -> bytes:
    return agi_block("wire", uniqueid=uniqueid, callerid="13900139000")


async def idle_cpu(seconds: float) -> float:
    """CPU this process spends while the loop has nothing to do for `seconds`."""
    start = time.process_time()
    await asyncio.sleep(seconds)
    return time.process_time() - start


async def until_idle(server: FastAgiServer) -> None:
    async with asyncio.timeout(5):
        await server.wait_idle()


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a PBX that crashed or a firewall would."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@pytest.mark.parametrize("cut", ["nothing_said", "mid_block", "after_block", "mid_reply",
                                 "reset_after_block", "reset_mid_reply"])
async def test_a_connection_cut_at_any_point_ends_its_session_and_costs_nothing_after(
        cut: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="callcenter.telephony.asterisk.fastagi")
    ended: list[str] = []

    async def handler(channel: AgiChannel, request: AgiRequest) -> None:
        try:
            await channel.command(agi.Answer())
            await channel.command(agi.StreamFile("hello", "0123456789"))
        except CallerGone:
            ended.append("caller_gone")
            raise

    server = FastAgiServer({"wire": handler}, port=0)
    await server.start()
    gone_before = SESSIONS.get(script="wire", end="caller_gone")
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        data = block()
        if cut == "mid_block":
            writer.write(data[: len(data) // 2])
        elif cut != "nothing_said":
            writer.write(data)
        if cut in ("mid_reply", "reset_mid_reply"):
            assert await reader.readline() == b"ANSWER\n"
            writer.write(b"200 res")  # half a reply
        await writer.drain()
        await asyncio.sleep(0.05)
        if cut.startswith("reset"):
            reset(writer)
        else:
            writer.close()
        await until_idle(server)
        assert await idle_cpu(0.5) < 0.1, "a socket left watched at EOF spins the loop"
    finally:
        await server.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == (["FastAGI connection without a valid request: connection closed in the "
                         "middle of an AGI event"] if cut == "mid_block" else [])
    if cut in ("mid_reply", "reset_mid_reply", "after_block", "reset_after_block"):
        assert ended == ["caller_gone"]  # the handler saw the caller go, not an error
        assert SESSIONS.get(script="wire", end="caller_gone") == gone_before + 1


async def test_a_reset_before_our_first_command_is_a_caller_gone_not_an_error(
        caplog: pytest.LogCaptureFixture) -> None:
    """The peer resets while the handler is busy: the write finds the socket gone."""
    caplog.set_level(logging.WARNING)
    started = asyncio.Event()
    outcome: list[str] = []

    async def handler(channel: AgiChannel, request: AgiRequest) -> None:
        started.set()
        await asyncio.sleep(0.2)  # e.g. a database lookup; the caller hangs up meanwhile
        try:
            await channel.command(agi.Answer())
        except CallerGone as exc:
            outcome.append(str(exc))
            raise

    server = FastAgiServer({"wire": handler}, port=0)
    await server.start()
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(block())
        await writer.drain()
        await asyncio.wait_for(started.wait(), 5)
        reset(writer)
        await until_idle(server)
    finally:
        await server.close()
    assert len(outcome) == 1
    assert [r.getMessage() for r in caplog.records] == []


async def test_a_command_larger_than_the_socket_buffers_reaches_asterisk_whole() -> None:
    """The kernel takes part of the line; the rest goes out as Asterisk reads, byte for byte."""
    value = "值" * 3_000_000  # 9 MB of UTF-8: far more than loopback's socket buffers
    replies: list[str | None] = []

    async def handler(channel: AgiChannel, request: AgiRequest) -> None:
        await channel.set_variable("BIG", value)
        replies.append(await channel.get_variable("BIG_SEEN"))
        await channel.command(agi.Hangup())

    server = FastAgiServer({"wire": handler}, port=0)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port, limit=16 << 20)
        writer.write(block())
        await asyncio.sleep(0.3)  # Asterisk busy: the server's send stops part-way
        line = await asyncio.wait_for(reader.readline(), 10)
        assert line == agi.SetVariable("BIG", value).encode()
        writer.write(b"200 result=1\n")
        assert await reader.readline() == b"GET VARIABLE BIG_SEEN\n"
        writer.write(b"200 result=1 (yes)\n")
        assert await reader.readline() == b"HANGUP\n"
        writer.write(b"200 result=1\n")
        assert await asyncio.wait_for(reader.read(), 5) == b""  # then the server closes
        writer.close()
        await until_idle(server)
    finally:
        await server.close()
    assert replies == ["yes"]


async def test_a_port_already_in_use_is_a_clear_error() -> None:
    first = FastAgiServer({}, port=0)
    await first.start()
    try:
        second = FastAgiServer({}, port=first.port)
        with pytest.raises(OSError, match=f"FastAGI cannot listen on 127.0.0.1:{first.port}"):
            await second.start()
    finally:
        await first.close()


async def test_a_server_listens_on_every_address_of_its_host_name() -> None:
    """`localhost` may be 127.0.0.1 and ::1: both are served, as loop.create_server did."""
    probe = socket.socket(socket.AF_INET6)
    try:
        probe.bind(("::1", 0))
        has_v6 = True
    except OSError:
        has_v6 = False
    finally:
        probe.close()
    server = FastAgiServer({}, host="localhost", port=0)
    await server.start()
    try:
        served = [await FakeAgiCall(server.port, [], script="no-such-script").run()]
        if has_v6 and len(server._listeners) == 2:
            v6_port = server._listeners[1].getsockname()[1]
            reader, writer = await asyncio.open_connection("::1", v6_port)
            writer.write(block())
            assert (await reader.readline()).startswith(b"SET VARIABLE IVR_ACTION")
            writer.close()
        assert served[0].variables["IVR_ACTION"] == "fallback"
    finally:
        await server.close()


_OUT_OF_DESCRIPTORS = textwrap.dedent("""
    import asyncio, os, resource, sys, time
    from callcenter.telephony.asterisk.fastagi import FastAgiServer

    async def main():
        server = FastAgiServer({}, port=0)
        await server.start()
        open_now = len(os.listdir("/proc/self/fd"))
        resource.setrlimit(resource.RLIMIT_NOFILE, (open_now + 2, resource.getrlimit(
            resource.RLIMIT_NOFILE)[1]))
        print(server.port, flush=True)
        await asyncio.sleep(30)

    asyncio.run(main())
""")


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
async def test_running_out_of_descriptors_pauses_accepting_instead_of_spinning() -> None:
    """EMFILE on accept: the listening socket is not watched for a second, then accepting resumes."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _OUT_OF_DESCRIPTORS, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout is not None
        port = int(await asyncio.wait_for(child.stdout.readline(), 30))
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(6)]
        await asyncio.sleep(0.3)
        cpu_before = _cpu_seconds(child.pid)
        await asyncio.sleep(1.5)
        spent = _cpu_seconds(child.pid) - cpu_before
        assert spent < 0.3, f"the server spun on accept: {spent:.2f} s CPU in 1.5 s"
        for _reader, writer in held:
            writer.close()
        await asyncio.sleep(0.2)
        fake = await asyncio.wait_for(FakeAgiCall(port, [], script="no-such-script").run(), 10)
        assert fake.variables["IVR_ACTION"] == "fallback"  # served once descriptors are free
    finally:
        child.kill()
        _out, err = await child.communicate()
    assert "FastAGI cannot accept a connection" in err.decode()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
