"""FastAGI against panoramisk: the same handler, the same client, server CPU per command.

    python bench/agi_peer.py                 # 5 runs of 2000 sessions x 5 commands each side
    python bench/agi_peer.py --runs 3 --sessions 1000 --concurrency 50

(`python bench/asterisk.py` runs this too.) Both servers run in their own
process, spawned by this one, so the CPU each spends is its own: each reports
`getrusage(RUSAGE_SELF)` (user + system, so the kernel's share of every
send/recv is in) before and after a run. This process plays Asterisk for both
with the same code: `--concurrency` FastAGI connections at a time, a real
`agi_*` block, then it reads each command line and answers what Asterisk
would (`200 result=...`); it checks that both servers sent byte-identical
command lines. The handler (both sides): ANSWER, GET VARIABLE
CALLERID(name), STREAM FILE, GET DATA, HANGUP; the server closes the socket
when the handler returns. Runs alternate between the servers; medians.
"floor" is a reference: a bare asyncio.Protocol that writes the five
command lines from its callback, no parsing, no task, no handler -- what the
kernel and the event loop cost alone.

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
import logging
import multiprocessing
import os
import resource
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HANDLER_COMMANDS = 5
SCRIPT = "bench"
KINDS = ("ours", "panoramisk", "floor")


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


class FloorProtocol(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport, self.buf, self.sent = transport, b"", -1

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if (b"\n\n" if self.sent < 0 else b"\n") not in self.buf:
            return
        self.buf, self.sent = b"", self.sent + 1
        if self.sent == len(FLOOR_COMMANDS):
            self.transport.close()
        else:
            self.transport.write(FLOOR_COMMANDS[self.sent])


class _LogCount(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.levelname] = self.counts.get(record.levelname, 0) + 1


def _count_io() -> dict[str, int]:
    """Count the loop's socket calls (a separate pass: counting costs CPU)."""
    from asyncio import selector_events

    counts = {"recv": 0, "send": 0, "select": 0}
    transport: Any = selector_events._SelectorSocketTransport
    for name in ("_read_ready__data_received", "_read_ready__get_buffer"):
        original = getattr(transport, name)

        def counted(self: Any, original: Any = original) -> None:
            counts["recv"] += 1
            original(self)
        setattr(transport, name, counted)
    write = transport.write

    def counted_write(self: Any, data: Any) -> None:
        counts["send"] += 1
        write(self, data)

    transport.write = counted_write
    selector: Any = asyncio.get_running_loop()._selector  # type: ignore[attr-defined]
    select = selector.select

    def counted_select(timeout: float | None = None) -> Any:
        counts["select"] += 1
        return select(timeout)

    selector.select = counted_select
    return counts


def server_process(kind: str, control: Connection, count_io: bool) -> None:
    logs = _LogCount()
    logging.getLogger().addHandler(logs)
    logging.getLogger().setLevel(logging.WARNING)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        counts = _count_io() if count_io else {}
        active: Any
        if kind == "ours":
            from callcenter.telephony.asterisk.fastagi import FastAgiServer

            ours = FastAgiServer({SCRIPT: our_handler}, port=0)
            await ours.start()
            port = ours.port

            def active() -> int:
                return ours.active
        elif kind == "floor":
            server = await loop.create_server(FloorProtocol, "127.0.0.1", 0, backlog=1024)
            port = server.sockets[0].getsockname()[1]

            def active() -> int:
                return 0
        else:
            from panoramisk import fast_agi

            app = fast_agi.Application()
            app.add_route(SCRIPT, panoramisk_handler)
            server = await asyncio.start_server(app.handler, "127.0.0.1", 0, backlog=1024)
            port = server.sockets[0].getsockname()[1]

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
                          "active": active(), "logs": dict(logs.counts), **counts})

        loop.add_reader(control.fileno(), on_control)
        control.send(port)
        await done

    if os.environ.get("BENCH_PROFILE") == kind:
        import cProfile
        cProfile.runctx("asyncio.run(main())", globals(), locals(), f"/tmp/pb/prof_{kind}")
    else:
        asyncio.run(main())


class Server:
    def __init__(self, kind: str, count_io: bool = False) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.kind = kind
        self.seen: list[bytes] = []
        self.control, child = ctx.Pipe()
        self.process = ctx.Process(target=server_process, args=(kind, child, count_io), daemon=True)
        self.process.start()
        self.port: int = self.control.recv()

    def stats(self) -> dict[str, Any]:
        self.control.send("stats")
        return self.control.recv()  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.process.is_alive():
            try:
                self.control.send("stop")
            except OSError:
                pass
            self.process.join(2)
        if self.process.is_alive():
            self.process.kill()  # panoramisk's spinning header loop never returns
            self.process.join()


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


def side_by_side(runs: int, sessions: int, concurrency: int) -> float:
    commands = sessions * HANDLER_COMMANDS
    servers = {kind: Server(kind) for kind in KINDS}
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
    print(f"fastagi vs panoramisk: {sessions} sessions x {HANDLER_COMMANDS} commands per run "
          f"(ANSWER, GET VARIABLE, STREAM FILE, GET DATA, HANGUP), {concurrency} at a time, "
          f"each server in its own process on the standard asyncio loop, same client, "
          f"{runs} runs alternating, median (accept and close included, shared by 5 commands)")
    for kind in servers:
        print(f"  {kind:<11} server CPU {statistics.median(cpu[kind]):6.1f} us per command "
              f"(of it kernel {statistics.median(kernel[kind]):.1f}; runs "
              f"{', '.join(f'{v:.1f}' for v in cpu[kind])}); WARNING+ logs {sum(logs[kind].values())}")
    ratio = statistics.median(cpu["ours"]) / statistics.median(cpu["panoramisk"])
    floor = statistics.median(cpu["floor"]) / statistics.median(cpu["panoramisk"])
    print(f"  ratio ours / panoramisk server CPU per command: {ratio:.2f}   (target <= 0.50: "
          f"{'met' if ratio <= 0.5 else 'NOT met'}; the bare-protocol floor is {floor:.2f})")
    return ratio


def io_counts(sessions: int, concurrency: int) -> None:
    commands = sessions * HANDLER_COMMANDS
    parts = []
    for kind in ("ours", "panoramisk"):
        server = Server(kind, count_io=True)
        try:
            run_load(server, 100, concurrency)
            diff, _ = run_load(server, sessions, concurrency)
        finally:
            server.stop()
        parts.append(f"{kind} {diff['recv'] / commands:.2f} recv + {diff['send'] / commands:.2f} send"
                     f" + {diff['select'] / commands:.2f} epoll_wait")
    print(f"  socket calls per command (counted in a separate pass): {'; '.join(parts)}")


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
        start = proc_cpu(server.process.pid)
        time.sleep(1.0)
        spent = proc_cpu(server.process.pid) - start
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
    args = parser.parse_args()
    side_by_side(args.runs, args.sessions, args.concurrency)
    io_counts(min(args.sessions, 1000), args.concurrency)
    disconnects(args.disconnects)
    return 0


if __name__ == "__main__":
    sys.exit(main())
