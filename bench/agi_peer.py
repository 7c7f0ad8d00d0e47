"""FastAGI against panoramisk: the same handler, the same client, server CPU per command.

    python bench/agi_peer.py                 # 5 runs of 2000 sessions x 5 commands each side
    python bench/agi_peer.py --runs 3 --sessions 1000 --concurrency 50

(`python bench/asterisk.py` runs this too.) Every server runs in its own
process, spawned by this one, so the CPU each spends is its own: each reports
`getrusage(RUSAGE_SELF)` (user + system, so the kernel's share of every
send/recv is in) before and after a run. This process plays Asterisk for all
with the same code: `--concurrency` FastAGI connections at a time, a real
`agi_*` block, then it reads each command line and answers what Asterisk
would (`200 result=...`); it checks that every server sent byte-identical
command lines. The handler (both sides): ANSWER, GET VARIABLE
CALLERID(name), STREAM FILE, GET DATA, HANGUP; the server closes the socket
when the handler returns. Ours runs as the service runs it (peers checked
against FASTAGI_ALLOWED_PEERS' default). Runs alternate between the servers;
medians.

Two floors, servers that do no AGI work at all (no parsing, no validation,
the five command lines written as constants), show what the event loop and
the kernel cost by themselves:
- "floor, task per call": a socket watched with add_reader, one task per
  connection woken by a future per reply -- the structure our server needs
  to run coroutine handlers;
- "floor, callbacks": the same socket work from the read callback alone, no
  task (what a server whose handlers are not coroutines could get down to).

Both servers and both floors are measured on the standard asyncio loop (the
service's default) and, when uvloop is installed, again on uvloop
(EVENT_LOOP=uvloop), every one on the same loop in each table.

panoramisk's cost depends on its process's malloc: asyncio's stream reader
reads into a fresh 256 KiB bytes object every time. In a fresh process glibc
maps it, shrinks it with mremap and unmaps it on every read; in a process
whose heap has room (a long-running service that has imported and freed
plenty) the block comes from the heap and the kernel never sees it. Which of
the two a server process gets depends on its allocation history, so the
standard-loop table is printed both ways with the setting fixed by
GLIBC_TUNABLES (the same for every server; ours reads into one buffer of its
own and does not care): malloc's mmap threshold at its 128 KiB start value,
and malloc keeping freed memory. The target is judged on both; the second is
panoramisk at its best. The instruction and system call counts use the
first setting (the latter also for panoramisk with the second).

Machine-independent counts (`io_counts`), because CPU time on a shared
machine moves with its load:
- instructions per command, user space, under valgrind's callgrind (counters
  read before and after a run with callgrind_control; kernel work is not in
  them);
- system calls per command under `strace -c` (the tracing slows the server,
  so more connections are ready per epoll_wait than in the timed runs).
Each is skipped with a note when its tool is missing.

Early disconnect: connections that close (a) in the middle of the `agi_*`
block, (b) right after it, (c) after the first command with half a reply.
Reported: our server's CPU per connection, CPU in the idle second after,
sessions left open, and WARNING/ERROR log records. panoramisk's reader loops
on `read()` returning b"" at EOF when the block is cut short: shown with one
connection (its CPU read from /proc, since its loop no longer answers), and
its server is killed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from multiprocessing import resource_tracker, spawn
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HANDLER_COMMANDS = 5
SCRIPT = "bench"
KINDS = ("ours", "panoramisk", "floor_task", "floor_callbacks")
LABELS = {"ours": "ours", "panoramisk": "panoramisk", "floor_task": "floor, task per call",
          "floor_callbacks": "floor, callbacks"}
# glibc's malloc told to keep freed memory: a 256 KiB block (asyncio's stream reader reads
# into a fresh one every time) is then reused from the heap, not mapped and unmapped.
WARM_MALLOC = ("glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=16777216:"
               "glibc.malloc.top_pad=4194304")
# ... and as a fresh process starts: blocks from 128 KiB up mapped and unmapped each time
# (fixed here: left dynamic, the threshold rises after the first large free, so what a
# server gets would depend on what its process happened to import).
FRESH_MALLOC = "glibc.malloc.mmap_threshold=131072"


# -- the servers (each in its own process) ----------------------------------------------------

async def our_handler(channel: Any, request: Any) -> None:
    from callcenter.telephony.asterisk import agi_commands as agi

    await channel.command(agi.Answer())
    name = await channel.get_variable("CALLERID(name)")
    await channel.command(agi.StreamFile("zh-CN/greeting", "0123456789*#"))
    reply = await channel.command(agi.GetData("zh-CN/main_menu", 10000, 1))
    if name != "张三" or reply.result != "1":
        raise RuntimeError(f"unexpected replies: {name!r}, {reply!r}")
    await channel.command(agi.Hangup())


async def panoramisk_handler(request: Any) -> None:
    await request.send_command("ANSWER")
    name = await request.send_command("GET VARIABLE CALLERID(name)")
    await request.send_command('STREAM FILE "zh-CN/greeting" "0123456789*#"')
    reply = await request.send_command('GET DATA "zh-CN/main_menu" 10000 1')
    if name["result"] != ("1", "张三") or reply["result"][0] != "1":
        raise RuntimeError(f"unexpected replies: {name!r}, {reply!r}")
    await request.send_command("HANGUP")


FLOOR_COMMANDS = [b"ANSWER\n", b"GET VARIABLE CALLERID(name)\n",
                  b'STREAM FILE "zh-CN/greeting" "0123456789*#"\n',
                  b'GET DATA "zh-CN/main_menu" 10000 1\n', b"HANGUP\n"]
_FLOOR_BUFFER = memoryview(bytearray(16384))


class FloorConnection:
    """A floor server's connection: no AGI work, only the socket and the loop.

    It waits for the blank line ending the block, then writes each constant
    command line when a line comes back. With `task`, a coroutine per
    connection does that, woken by a future per read (as our server's handler
    task is); without, the read callback does it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, task: bool) -> None:
        self.loop, self.sock, self.fd = loop, sock, sock.fileno()
        self.buf, self.sent = b"", -1
        self.waiter: asyncio.Future[None] | None = None
        self.task = loop.create_task(self.run()) if task else None
        loop.add_reader(self.fd, self.readable)

    def readable(self) -> None:
        try:
            n = self.sock.recv_into(_FLOOR_BUFFER)
        except (BlockingIOError, InterruptedError):
            return
        if not n:
            self.close()
            return
        self.buf += _FLOOR_BUFFER[:n].tobytes()
        if self.task is not None:
            waiter, self.waiter = self.waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        elif (b"\n\n" if self.sent < 0 else b"\n") in self.buf:
            self.buf, self.sent = b"", self.sent + 1
            if self.sent == len(FLOOR_COMMANDS):
                self.close()
            else:
                self.sock.send(FLOOR_COMMANDS[self.sent])

    async def run(self) -> None:
        for end in [b"\n\n"] + [b"\n"] * len(FLOOR_COMMANDS):
            while end not in self.buf:
                if self.fd < 0:
                    return
                self.waiter = self.loop.create_future()
                await self.waiter
            self.buf, self.sent = b"", self.sent + 1
            if self.sent < len(FLOOR_COMMANDS):
                self.sock.send(FLOOR_COMMANDS[self.sent])
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            self.loop.remove_reader(self.fd)
            self.fd = -1
            self.sock.close()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


async def floor_server(task: bool) -> socket.socket:
    loop = asyncio.get_running_loop()
    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    listener.setblocking(False)

    def accept() -> None:
        while True:
            try:
                sock, _address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            FloorConnection(loop, sock, task)

    loop.add_reader(listener.fileno(), accept)
    return listener


class _LogCount(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.levelname] = self.counts.get(record.levelname, 0) + 1


def server_process(kind: str, loop_kind: str, control: Connection) -> None:
    logs = _LogCount()
    logging.getLogger().addHandler(logs)
    logging.getLogger().setLevel(logging.WARNING)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        active: Any
        keep: Any
        if kind == "ours":
            from callcenter.networks import parse_networks
            from callcenter.telephony.asterisk.fastagi import FastAgiServer

            # as the service runs it: only the PBXes of FASTAGI_ALLOWED_PEERS (its default)
            keep = FastAgiServer({SCRIPT: our_handler}, port=0,
                                 allowed_peers=parse_networks("127.0.0.1,::1"))
            await keep.start()
            port = keep.port

            def active() -> int:
                return int(keep.active)
        elif kind.startswith("floor"):
            keep = await floor_server(task=kind == "floor_task")
            port = keep.getsockname()[1]

            def active() -> int:
                return 0
        else:
            from panoramisk import fast_agi

            app = fast_agi.Application()
            app.add_route(SCRIPT, panoramisk_handler)
            keep = await asyncio.start_server(app.handler, "127.0.0.1", 0, backlog=1024)
            port = keep.sockets[0].getsockname()[1]

            def active() -> int:
                return len(asyncio.all_tasks()) - 1
        done = loop.create_future()

        def on_control() -> None:
            if control.recv() == "stop":
                loop.remove_reader(control.fileno())
                done.set_result(None)
                return
            usage = resource.getrusage(resource.RUSAGE_SELF)
            control.send({"cpu": usage.ru_utime + usage.ru_stime, "sys": usage.ru_stime,
                          "active": active(), "logs": dict(logs.counts)})

        loop.add_reader(control.fileno(), on_control)
        control.send(port)
        await done

    if loop_kind == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


def uvloop_installed() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def malloc_tunables(tunables: str | None) -> Iterator[None]:
    """Processes spawned inside start with GLIBC_TUNABLES=`tunables` (None: as this one)."""
    before = os.environ.get("GLIBC_TUNABLES")
    if tunables is not None:
        os.environ["GLIBC_TUNABLES"] = tunables
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("GLIBC_TUNABLES", None)
        else:
            os.environ["GLIBC_TUNABLES"] = before


class Server:
    def __init__(self, kind: str, loop: str = "asyncio", malloc: str | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.kind = kind
        self.seen: list[bytes] = []
        self.control, child = ctx.Pipe()
        self.process = ctx.Process(target=server_process, args=(kind, loop, child), daemon=True)
        with malloc_tunables(malloc):
            self.process.start()
        self.port: int = self.control.recv()

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def stats(self) -> dict[str, Any]:
        self.control.send("stats")
        return self.control.recv()  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.process.is_alive():
            try:
                self.control.send("stop")
            except OSError:
                pass
            self.process.join(10)
        if self.process.is_alive():
            self.process.kill()  # panoramisk's spinning header loop never returns
            self.process.join()


@contextlib.contextmanager
def under_callgrind() -> Iterator[None]:
    """Servers spawned inside run under valgrind's callgrind (counters read with callgrind_control)."""
    resource_tracker.ensure_running()  # started here, not under valgrind
    python = os.fsdecode(spawn.get_executable())
    with tempfile.TemporaryDirectory() as tmp:
        wrapper = Path(tmp) / "python-callgrind"
        wrapper.write_text("#!/bin/sh\nexec valgrind -q --tool=callgrind "
                           f"--callgrind-out-file=/dev/null {python} \"$@\"\n")
        wrapper.chmod(0o755)
        spawn.set_executable(str(wrapper))
        try:
            yield
        finally:
            spawn.set_executable(python)


# -- the client: Asterisk's side ---------------------------------------------------------------

def agi_block(i: int, port: int) -> bytes:
    env = [("agi_network", "yes"), ("agi_network_script", SCRIPT),
           ("agi_request", f"agi://127.0.0.1:{port}/{SCRIPT}"),
           ("agi_channel", f"PJSIP/trunk-{i:08x}"), ("agi_language", "zh_CN"), ("agi_type", "PJSIP"),
           ("agi_uniqueid", f"1716000000.{i}"), ("agi_version", "22.10.1"),
           ("agi_callerid", f"1380013{i % 10000:04d}"), ("agi_calleridname", "张三"),
           ("agi_callingpres", "0"), ("agi_callingani2", "0"), ("agi_callington", "0"),
           ("agi_callingtns", "0"), ("agi_dnid", "4000"), ("agi_rdnis", "unknown"),
           ("agi_context", "hotline"), ("agi_extension", "4000"), ("agi_priority", "2"),
           ("agi_enhanced", "0.0"), ("agi_accountcode", ""), ("agi_threadid", "140559612344000"),
           ("agi_linkedid", f"1716000000.{i}")]
    return ("".join(f"{k}: {v}\n" for k, v in env) + "\n").encode()


REPLIES = {
    b"ANSWER": b"200 result=0\n",
    b"GET VARIABLE": "200 result=1 (张三)\n".encode(),
    b"STREAM FILE": b"200 result=0 endpos=8000\n",
    b"GET DATA": b"200 result=1\n",
    b"HANGUP": b"200 result=1\n",
}


def reply_to(line: bytes) -> bytes:
    for prefix, reply in REPLIES.items():
        if line.startswith(prefix):
            return reply
    raise RuntimeError(f"unexpected command {line!r}")


async def asterisk_call(i: int, port: int, seen: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(agi_block(i, port))
    lines = []
    while line := await reader.readline():
        lines.append(line)
        writer.write(reply_to(line))
    writer.close()
    if len(lines) != HANDLER_COMMANDS:
        raise RuntimeError(f"session {i}: {len(lines)} commands: {lines!r}")
    if not seen:
        seen.extend(lines)


async def load(port: int, sessions: int, concurrency: int) -> list[bytes]:
    seen: list[bytes] = []
    todo = iter(range(sessions))

    async def worker() -> None:
        for i in todo:
            await asterisk_call(i, port, seen)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return seen


async def early_disconnect(port: int, how: str, i: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    block = agi_block(i, port)
    if how == "mid_block":
        writer.write(block[: len(block) // 2])
    else:
        writer.write(block)
        if how == "mid_command":
            await reader.readline()
            writer.write(b"200 res")
    await writer.drain()
    writer.close()
    await writer.wait_closed()


# -- the runs ----------------------------------------------------------------------------------

def run_load(server: Server, sessions: int, concurrency: int) -> tuple[dict[str, float], float]:
    before = server.stats()
    started = time.perf_counter()
    server.seen = asyncio.run(load(server.port, sessions, concurrency))
    wall = time.perf_counter() - started
    after = server.stats()
    return {k: after[k] - before[k] for k in after if k not in ("logs", "active")}, wall


def cpu_table(title: str, loop: str, malloc: str | None, runs: int, sessions: int,
              concurrency: int) -> dict[str, float]:
    """Server CPU per command (us, median of `runs`) of every kind on `loop`; prints the table."""
    commands = sessions * HANDLER_COMMANDS
    servers = {kind: Server(kind, loop, malloc) for kind in KINDS}
    try:
        for server in servers.values():  # warm up: imports, first connections
            run_load(server, min(200, sessions), concurrency)
        cpu: dict[str, list[float]] = {kind: [] for kind in servers}
        kernel: dict[str, list[float]] = {kind: [] for kind in servers}
        for _ in range(runs):
            for kind, server in servers.items():
                diff, _wall = run_load(server, sessions, concurrency)
                cpu[kind].append(diff["cpu"] / commands * 1e6)
                kernel[kind].append(diff["sys"] / commands * 1e6)
        if len({tuple(server.seen) for server in servers.values()}) != 1:
            raise RuntimeError("the servers did not send the same command lines")
        logs = {kind: server.stats()["logs"] for kind, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
    print(f"  {title}:")
    medians = {kind: statistics.median(values) for kind, values in cpu.items()}
    for kind in servers:
        print(f"    {LABELS[kind]:<22} server CPU {medians[kind]:5.1f} us per command (of it kernel "
              f"{statistics.median(kernel[kind]):4.1f}; runs {', '.join(f'{v:.1f}' for v in cpu[kind])})"
              f"; WARNING+ logs {sum(logs[kind].values())}")
    return medians


def side_by_side(runs: int, sessions: int, concurrency: int) -> float:
    print(f"fastagi vs panoramisk: {sessions} sessions x {HANDLER_COMMANDS} commands per run "
          f"(ANSWER, GET VARIABLE, STREAM FILE, GET DATA, HANGUP), {concurrency} at a time, "
          f"each server in its own process, same client, byte-identical command lines, "
          f"{runs} runs alternating, median (accept and close included, shared by 5 commands)")
    tables: list[tuple[str, str, str | None]] = [
        ("on the standard asyncio loop (the service's default), malloc as a process starts "
         "(GLIBC_TUNABLES, every server): panoramisk's 256 KiB read buffer mapped, shrunk and "
         "unmapped on every read", "asyncio", FRESH_MALLOC),
        ("on the standard asyncio loop, malloc keeping freed memory (GLIBC_TUNABLES, every "
         "server): that buffer reused from the heap, as in a process whose heap has room",
         "asyncio", WARM_MALLOC),
    ]
    if uvloop_installed():
        tables.append(("on uvloop (EVENT_LOOP=uvloop), which reads into a buffer of its own",
                       "uvloop", None))
    ratios = []
    for title, loop, malloc in tables:
        cpu = cpu_table(title, loop, malloc, runs, sessions, concurrency)
        peer = cpu["panoramisk"]
        ratio = cpu["ours"] / peer
        ratios.append(ratio)
        target = f"target <= 0.50: {'met' if ratio <= 0.5 else 'NOT met'}" if loop == "asyncio" \
            else "the same handler on uvloop"
        print(f"    ratio ours / panoramisk: {ratio:.2f}   ({target}); the floors, which do no "
              f"AGI work: task per call {cpu['floor_task'] / peer:.2f}, "
              f"callbacks {cpu['floor_callbacks'] / peer:.2f}")
    if not uvloop_installed():
        print("  uvloop: not installed (pip install 'callcenter[fast]'), not measured")
    return max(ratios[:2])  # the standard loop, panoramisk at its best


def io_counts(sessions: int, concurrency: int, instruction_sessions: int = 200) -> None:
    """Machine-independent counts: instructions (callgrind) and system calls (strace) per command."""
    instructions(instruction_sessions, concurrency)
    syscalls(sessions, concurrency)


def _callgrind_ir(pid: int) -> int:
    out = subprocess.run(["callgrind_control", "-e", "Ir", str(pid)], capture_output=True,
                         text=True, check=True, timeout=120).stdout
    counts = re.findall(r"Th \d+\s+([\d,]+)", out)
    if not counts:
        raise RuntimeError(f"callgrind_control gave no counter for {pid}: {out!r}")
    return sum(int(count.replace(",", "")) for count in counts)


def instructions(sessions: int, concurrency: int) -> None:
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        print("  instructions per command: skipped (valgrind's callgrind is not installed)")
        return
    commands = sessions * HANDLER_COMMANDS
    per_command: dict[str, float] = {}
    for kind in KINDS:
        with under_callgrind():
            server = Server(kind, malloc=FRESH_MALLOC)
        try:
            run_load(server, min(50, sessions), concurrency)
            before = _callgrind_ir(server.pid)
            run_load(server, sessions, concurrency)
            per_command[kind] = (_callgrind_ir(server.pid) - before) / commands
        finally:
            server.stop()
    peer = per_command["panoramisk"]
    print(f"  instructions per command (callgrind, user space, standard loop, {sessions} sessions): "
          + ", ".join(f"{LABELS[kind]} {count / 1000:.0f}k" for kind, count in per_command.items()))
    print(f"    ratio ours / panoramisk: {per_command['ours'] / peer:.2f}; floors: task per call "
          f"{per_command['floor_task'] / peer:.2f}, callbacks {per_command['floor_callbacks'] / peer:.2f}")


SYSCALLS = ("recvfrom", "sendto", "epoll_wait", "epoll_ctl", "accept4", "close", "setsockopt", "brk",
            "getsockname", "getpeername", "ioctl", "fcntl", "mmap", "munmap", "mremap")


def _strace_counts(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[-1].isidentifier() and parts[3].isdigit():
            counts[parts[-1]] = int(parts[3])
    return counts


def syscalls(sessions: int, concurrency: int) -> None:
    if not shutil.which("strace"):
        print("  system calls per command: skipped (strace is not installed)")
        return
    commands = sessions * HANDLER_COMMANDS
    rows = []
    for kind, malloc, label in (("ours", FRESH_MALLOC, "ours"),
                                ("panoramisk", FRESH_MALLOC, "panoramisk, malloc as it starts"),
                                ("panoramisk", WARM_MALLOC, "panoramisk, malloc keeping memory")):
        server = Server(kind, malloc=malloc)
        try:
            run_load(server, min(100, sessions), concurrency)
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "strace"
                tracer = subprocess.Popen(["strace", "-c", "-o", str(out), "-p", str(server.pid)],
                                          stderr=subprocess.PIPE, text=True)
                assert tracer.stderr is not None
                tracer.stderr.readline()  # "strace: Process N attached"
                run_load(server, sessions, concurrency)
                tracer.send_signal(signal.SIGINT)
                tracer.wait(30)
                counts = _strace_counts(out)
        finally:
            server.stop()
        total = counts.pop("total", sum(counts.values()))
        shown = ", ".join(f"{name} {counts[name] / commands:.2f}" for name in SYSCALLS
                          if counts.get(name))
        rows.append(f"    {label:<34} {total / commands:5.2f} in all: {shown}")
    print(f"  system calls per command (strace -c, standard loop, {sessions} sessions; tracing "
          f"slows the server, so epoll_wait is rarer than untraced):")
    print("\n".join(rows))


def proc_cpu(pid: int) -> float:
    """utime + stime of `pid` in seconds, from /proc (for a process whose loop is stuck)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def disconnects(count: int) -> None:
    print(f"fastagi early disconnect: {count} connections per case closing early; "
          f"CPU per connection, CPU in the idle second after, sessions left, WARNING/ERROR logs")
    server = Server("ours")
    try:
        for how in ("mid_block", "after_block", "mid_command"):
            before = server.stats()

            async def burst(how: str = how) -> None:
                await asyncio.gather(*(early_disconnect(server.port, how, i) for i in range(count)))

            asyncio.run(burst())
            deadline = time.monotonic() + 5
            while server.stats()["active"] and time.monotonic() < deadline:
                time.sleep(0.05)
            settled = server.stats()
            time.sleep(1.0)
            after = server.stats()
            new_logs = {level: n - before["logs"].get(level, 0) for level, n in after["logs"].items()
                        if n - before["logs"].get(level, 0)}
            print(f"  ours {how:<12} {(settled['cpu'] - before['cpu']) / count * 1e6:5.0f} us CPU per "
                  f"connection; idle second after {(after['cpu'] - settled['cpu']) * 1e3:.1f} ms CPU; "
                  f"sessions left {after['active']}; logs {new_logs or 'none'}")
    finally:
        server.stop()
    if not Path("/proc/self/stat").exists():
        return
    server = Server("panoramisk")
    try:
        asyncio.run(early_disconnect(server.port, "mid_block", 0))
        time.sleep(0.2)
        start = proc_cpu(server.pid)
        time.sleep(1.0)
        spent = proc_cpu(server.pid) - start
        server.control.send("stats")
        answers = server.control.poll(1.0)
        print(f"  panoramisk mid_block (1 connection): idle second after {spent * 1e3:.0f} ms CPU; "
              f"its loop {'answers' if answers else 'no longer answers'} "
              f"(read() gives b'' at EOF, its header loop never ends)")
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--disconnects", type=int, default=500)
    parser.add_argument("--instruction-sessions", type=int, default=200,
                        help="sessions per server under callgrind (about 50x slower)")
    args = parser.parse_args()
    side_by_side(args.runs, args.sessions, args.concurrency)
    io_counts(min(args.sessions, 1000), args.concurrency, args.instruction_sessions)
    disconnects(args.disconnects)
    return 0


if __name__ == "__main__":
    sys.exit(main())
