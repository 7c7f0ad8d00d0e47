"""Asterisk adapter benchmarks: FastAGI under 2000 concurrent calls, AMI event ingest.

    python bench/asterisk.py                       # 2000 sessions, 40x the AMI recording
    python bench/asterisk.py --sessions 500 --ami-repeat 10
    python bench/asterisk.py --ami-only            # the AMI parts alone

What it measures, honestly:
- FastAGI: our `FastAgiServer` runs in this process; a separate process plays
  Asterisk with `--sessions` concurrent FastAGI connections (realistic
  `agi_*` block), each a hotline-shaped conversation of 18 commands (ANSWER,
  STREAM FILE, GET DATA x6 with a caller think time of 50-150 ms, SET
  VARIABLE x3, HANGUP...). The handler is a scripted IVR with no database,
  so the number is *our* overhead per command: from the moment a reply is
  read to the moment the next command is written (parse, route, encode,
  event-loop wait under 2000 sessions), taken per command by `AgiChannel`.
  The database work of a real IVR turn comes on top (see twilio_ivr for it).
- FastAGI against panoramisk (bench/agi_peer.py): both servers in their own
  process, the same 5-command handler, the same client; server CPU per
  command and the ratio on the standard loop and on uvloop, beside two
  floors that do no AGI work; instructions (callgrind) and system calls
  (strace) per command; early disconnects.
- AMI parse against a plain reference parser (split whole messages on the
  blank line, decode each once, split headers), after checking every message
  equal field by field in reads of many sizes, cuts inside Chinese characters
  and messages ending in an empty header; CPU time, median of runs, the two
  taking turns. On three inputs, each run on a stream it has never read (our
  parser learns the lines it reads, so reading the same copies again would
  flatter it): the recording repeated as it is; the recording with per-call
  ids new in each copy (Uniqueid, Linkedid, channel, caller number,
  ActionID, CommandId, every time) - a real stream, which the target judges;
  every value new in each copy. And the recording once in a process that
  has learnt nothing.
- AMI ingest: the recorded AMI session of a real Asterisk 22 (two calls,
  tests/asterisk_protocol/transcripts/ami_two_calls), repeated, fed in 64 KiB
  reads to (a) our sans-I/O `AmiConnection` and (b) panoramisk's parser
  (its `AMIProtocol.data_received` loop: decode, split on blank lines,
  `Message.from_line`), on one core, same bytes. Then (c) end to end: our
  `AmiClient` over TCP from a blaster process, events dispatched to the call
  log's event names with a no-op listener.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import multiprocessing
import random
import re
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import agi_peer  # noqa: E402  (bench/agi_peer.py: FastAGI against panoramisk)

from callcenter.telephony.asterisk import agi_commands as agi  # noqa: E402
from callcenter.telephony.asterisk import ami_protocol  # noqa: E402
from callcenter.telephony.asterisk.agi_protocol import AgiRequest  # noqa: E402
from callcenter.telephony.asterisk.ami_client import AmiClient, AmiConfig  # noqa: E402
from callcenter.telephony.asterisk.ami_protocol import (  # noqa: E402
    AmiConnection,
    AmiEvent,
    AmiResponse,
    EventListResult,
)
from callcenter.telephony.asterisk.call_log import CALL_LOG_EVENTS  # noqa: E402
from callcenter.telephony.asterisk.fastagi import AgiChannel, FastAgiServer  # noqa: E402
from callcenter.telephony.asterisk.stream import NEED_DATA, ConnectionClosed  # noqa: E402

RECORDING = Path(__file__).resolve().parent.parent / "tests/asterisk_protocol/transcripts/ami_two_calls.from_asterisk.bin"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- FastAGI ---------------------------------------------------------------------------------

async def scripted_ivr(channel: AgiChannel, request: AgiRequest) -> None:
    """A hotline-shaped conversation without a database."""
    await channel.command(agi.Answer())
    await channel.command(agi.StreamFile("zh-CN/greeting"))
    for node in ("main_menu", "survey_timeliness", "survey_repair_quality", "survey_attitude",
                 "survey_confirm", "after_menu"):
        await channel.command(agi.StreamFile(f"zh-CN/{node}_intro", "0123456789*#"))
        await channel.command(agi.GetData(f"zh-CN/{node}", 10000, 1))
    for name, value in (("IVR_ACTION", "queue"), ("IVR_QUEUE", "hotline-agents"),
                        ("IVR_PATH", "main_menu>survey")):
        await channel.command(agi.SetVariable(name, value))
    await channel.command(agi.Hangup())


def _agi_block(i: int, port: int) -> bytes:
    env = [("agi_network", "yes"), ("agi_network_script", "hotline"),
           ("agi_request", f"agi://127.0.0.1:{port}/hotline"),
           ("agi_channel", f"PJSIP/trunk-{i:08x}"), ("agi_language", "en"), ("agi_type", "PJSIP"),
           ("agi_uniqueid", f"1716000000.{i}"), ("agi_version", "22.10.1"),
           ("agi_callerid", f"1380013{i:04d}"), ("agi_calleridname", "张三"),
           ("agi_callingpres", "0"), ("agi_callingani2", "0"), ("agi_callington", "0"),
           ("agi_callingtns", "0"), ("agi_dnid", "4000"), ("agi_rdnis", "unknown"),
           ("agi_context", "hotline"), ("agi_extension", "4000"), ("agi_priority", "4"),
           ("agi_enhanced", "0.0"), ("agi_accountcode", ""), ("agi_threadid", "1405596"),
           ("agi_arg_1", f"bench-{i}")]
    return ("".join(f"{k}: {v}\n" for k, v in env) + "\n").encode()


async def _fake_asterisk_call(i: int, port: int, rng: random.Random, done: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_agi_block(i, port))
    while True:
        line = await reader.readline()
        if not line:
            break
        if line.startswith(b"GET DATA"):
            await asyncio.sleep(rng.uniform(0.05, 0.15))  # the caller thinks, then presses a key
            writer.write(b"200 result=1\n")
        elif line.startswith(b"STREAM FILE"):
            writer.write(b"200 result=0 endpos=8000\n")
        else:
            writer.write(b"200 result=1\n" if not line.startswith(b"ANSWER") else b"200 result=0\n")
    writer.close()
    done.append(i)


def _load_process(port: int, sessions: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    async def main() -> None:
        rng, done = random.Random(5), []
        started = time.perf_counter()
        await asyncio.gather(*(_fake_asterisk_call(i, port, rng, done) for i in range(sessions)))
        queue.put((len(done), time.perf_counter() - started))

    asyncio.run(main())


async def bench_fastagi(sessions: int) -> None:
    channels: list[AgiChannel] = []

    async def handler(channel: AgiChannel, request: AgiRequest) -> None:
        channels.append(channel)
        await scripted_ivr(channel, request)

    server = FastAgiServer({"hotline": handler}, port=0)
    await server.start()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    load = ctx.Process(
        target=_load_process, args=(server.port, sessions, results))
    load.start()
    peak = 0
    while load.is_alive():
        peak = max(peak, server.active)
        await asyncio.sleep(0.02)
    completed, wall = await asyncio.get_running_loop().run_in_executor(None, results.get)
    await server.wait_idle()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    await server.close()
    turns = [t for c in channels for t in c.turn_times]
    commands = sum(c.commands for c in channels)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    ms = [t * 1000 for t in turns]
    print(f"fastagi: {sessions} concurrent sessions x 18 commands, caller think 50-150 ms per key, "
          f"load generator in its own process")
    print(f"  sessions:  {completed}/{sessions} completed in {wall:.1f} s, peak {peak} open at once")
    print(f"  commands:  {commands} ({commands / wall:.0f}/s)")
    print(f"  own overhead per command (reply read -> next command written): "
          f"p50 {pct(ms, .5):.3f} ms, p99 {pct(ms, .99):.3f} ms, max {max(ms):.3f} ms, "
          f"mean {statistics.fmean(ms):.3f} ms   (target p99 < 5 ms)")
    print(f"  server CPU: {cpu / commands * 1e6:.0f} us per command ({cpu:.2f} s for the run)")


# -- AMI ------------------------------------------------------------------------------------

def ami_stream(repeat: int) -> bytes:
    data = RECORDING.read_bytes()
    greeting, _, body = data.partition(b"\r\n")
    return greeting + b"\r\n" + body * repeat


_CALL_ID = re.compile(rb"call-(\d)(b?)")
_LOCAL_CHANNEL = re.compile(rb"hotline-0000000(\d)")
_ACTION_ID = re.compile(rb"(ActionID: a)(\d+)")
_COMMAND_ID = re.compile(rb"(CommandId: )(\d+)")
_CALLER = re.compile(rb"13800138000|13912345678")  # the two callers' numbers
_EPOCH = re.compile(rb"1795\d{6}")  # Timestamp, LoginTime (seconds since 1970)
_DATE = re.compile(rb"2026-11-23([ T])11:(\d\d):(\d\d)")  # EventTime, EventTV, SessionTV
_VALUE = re.compile(rb"^(?!Event: |Response: |EventList: )([^:\r\n]+: )([^\r\n]+)", re.M)


def per_call_copy(body: bytes, copy: int) -> bytes:
    """The recording as a later stretch of the same session, other calls: the calls'
    Uniqueid/Linkedid (Asterisk's "epoch.sequence" form), Local channel numbers, the
    callers' numbers, ActionIDs, AGI CommandIds and every time new (40 s later per copy);
    names, contexts, applications, the agent as recorded."""
    rng = random.Random(copy)
    shift = 40 * copy
    body = _CALL_ID.sub(lambda m: b"%d.%d" % (1795432818 + shift, 4 * copy + 2 * int(m[1])
                                               + len(m[2])), body)
    body = _LOCAL_CHANNEL.sub(lambda m: b"hotline-%08x" % (2 * copy + int(m[1])), body)
    body = _ACTION_ID.sub(lambda m: m[1] + b"%d" % (20 * copy + int(m[2])), body)
    body = _CALLER.sub(lambda m: b"%s%08d" % (m[0][:3], (int(m[0][3:]) + 104729 * copy) % 10**8),
                       body)
    body = _COMMAND_ID.sub(lambda m: m[1] + b"%d" % rng.randrange(1 << 31), body)
    body = _EPOCH.sub(lambda m: b"%d" % (int(m[0]) + shift), body)

    def later(m: re.Match[bytes]) -> bytes:
        at = datetime.datetime(2026, 11, 23, 11, int(m[2]), int(m[3])) + \
            datetime.timedelta(seconds=shift)
        return at.strftime(f"%Y-%m-%d{m[1].decode()}%H:%M:%S").encode()

    return _DATE.sub(later, body)


def all_new_copy(body: bytes, copy: int) -> bytes:
    """Every non-empty value but the kind (Event, Response) and EventList new in each copy."""
    return _VALUE.sub(lambda m: m[1] + m[2] + b"~%d" % copy, body)


AMI_INPUTS = {
    "repeated": "the recording repeated as it is",
    "per-call ids new": "per-call ids new in each copy (Uniqueid, Linkedid, Local channel, "
                        "caller number, ActionID, CommandId, times)",
    "every value new": "every value but the kind and EventList new in each copy",
}


def ami_input(kind: str, repeat: int, first: int = 0) -> bytes:
    """The greeting and `repeat` copies of the recording's body, copies `first`, `first + 1`...
    (a stream never read before for another `first`: what is new in each copy is new)."""
    data = RECORDING.read_bytes()
    greeting, _, body = data.partition(b"\r\n")
    if kind == "repeated":
        copies = [body] * repeat
    elif kind == "per-call ids new":
        copies = [per_call_copy(body, i) for i in range(first, first + repeat)]
    else:
        copies = [all_new_copy(body, i) for i in range(first, first + repeat)]
    return greeting + b"\r\n" + b"".join(copies)


def ours(data: bytes) -> tuple[int, float]:
    conn = AmiConnection()
    count = 0
    started = time.perf_counter()
    for start in range(0, len(data), 65536):
        conn.receive_data(data[start:start + 65536])
        while True:
            item = conn.next_event()
            if item is NEED_DATA or isinstance(item, ConnectionClosed):
                break
            count += 1
    return count, time.perf_counter() - started


def panoramisk(data: bytes) -> tuple[int, float]:
    from panoramisk.message import Message
    from panoramisk.utils import EOL

    queue: list[str] = []
    count = 0
    started = time.perf_counter()
    for start in range(0, len(data), 65536):
        chunk = data[start:start + 65536].decode("ascii", "ignore")  # as AMIProtocol does
        if queue:
            chunk = queue.pop() + chunk
        lines = chunk.split(EOL + EOL)
        queue.append(lines.pop(-1))
        for line in lines:
            message = Message.from_line(line.strip())
            if message is not None:
                count += 1
    return count, time.perf_counter() - started


def reference(chunks: list[bytes]) -> list[list[tuple[str, str]]]:
    """A plain AMI parser: split whole messages on the blank line, decode each once, split headers."""
    messages: list[list[tuple[str, str]]] = []
    tail = b""
    greeted = False
    for chunk in chunks:
        tail += chunk
        if not greeted:
            end = tail.find(b"\r\n")
            if end < 0:
                continue
            tail, greeted = tail[end + 2:], True
        *whole, tail = tail.split(b"\r\n\r\n")
        for raw in whole:
            fields = []
            for line in raw.decode("utf-8", "replace").split("\r\n"):
                key, _, value = line.partition(": ")
                fields.append((key, value))
            messages.append(fields)
    return messages


def ours_fields(chunks: list[bytes]) -> list[tuple[tuple[str, str], ...]]:
    """Every message our AmiConnection gives, as its (key, value) pairs; lists flattened in order."""
    conn = AmiConnection()
    out: list[tuple[tuple[str, str], ...]] = []
    add = out.append
    for chunk in chunks:
        conn.receive_data(chunk)
        while (item := conn.next_event()) is not NEED_DATA:
            kind = item.__class__
            if kind is AmiEvent or kind is AmiResponse:
                add(item.fields.items)  # type: ignore[union-attr]
            elif isinstance(item, EventListResult):
                add(item.response.fields.items)
                out.extend(event.fields.items for event in item.events)
                add(item.complete.fields.items)
            elif isinstance(item, ConnectionClosed):
                break
    return out


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def inside_characters(data: bytes) -> list[bytes]:
    """Cut before every UTF-8 continuation byte: every Chinese character split across reads."""
    cuts = [0] + [i for i, byte in enumerate(data) if 0x80 <= byte < 0xC0] + [len(data)]
    return [data[a:b] for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def parse_throughputs(parsers: list[object], inputs: list[list[bytes]]) -> list[float]:
    """Median CPU seconds (process_time) of each `parse(chunks)` over the inputs (one run
    each), the parsers taking turns on each input (so a busy spell of the machine falls on
    both), each run from a collected heap, its output kept to the end of the run as a
    consumer would keep it."""
    times: list[list[float]] = [[] for _ in parsers]
    for chunks in inputs:
        for parse, taken in zip(parsers, times, strict=True):
            gc.collect()
            started = time.process_time()
            parse(chunks)  # type: ignore[operator]
            taken.append(time.process_time() - started)
    return [statistics.median(taken) for taken in times]


def ami_vs_reference(repeat: int, runs: int) -> None:
    recording = RECORDING.read_bytes()
    # the recording plus a message whose last header is empty, the stream's very end
    tricky = recording + "Event: Newchannel\r\nCallerIDName: 张三丰\r\nAccountCode: \r\n\r\n".encode()
    splits = {"64 KiB": chunked(tricky, 65536), "4 KiB": chunked(tricky, 4096),
              "137 B": chunked(tricky, 137), "7 B": chunked(tricky, 7),
              "inside every Chinese character": inside_characters(tricky)}
    expected = reference([tricky])
    empty_last = sum(1 for m in expected if m[-1][1] == "")
    chinese = sum(1 for m in expected if any(not v.isascii() for _, v in m))
    for name, chunks in splits.items():
        same(ours_fields(chunks), reference(chunks), expected, name)
    size_mib = len(ami_stream(repeat)) / 2**20
    print(f"ami parse vs a plain reference parser (split on the blank line, decode each message once, "
          f"split headers): the recorded Asterisk 22 session x{repeat} ({size_mib:.1f} MiB), "
          f"CPU time, median of {runs}")
    print(f"  equal field by field, every message ({len(expected)}: {chinese} with Chinese text, "
          f"{empty_last} ending in an empty header) in reads of {', '.join(splits)}; "
          f"each input below equal too in the reads measured")
    first = 0
    for kind, what in AMI_INPUTS.items():
        judged = kind == "per-call ids new"
        print(f"  {what}{' (a real stream; the target judges this one)' if judged else ''}:")
        for size in (65536, 4096):
            # one stream to check and warm up, then one per run: each run reads a stream
            # whose new values it has never seen (the same stream again for "repeated")
            streams = []
            for _ in range(runs + 1):
                streams.append(ami_input(kind, repeat, first))
                first += repeat
            inputs = [chunked(data, size) for data in streams]
            ref = reference(inputs[0])
            same(ours_fields(inputs[0]), ref, ref, f"{kind}, {size} B")
            t_ours, t_ref = parse_throughputs([ours_fields, reference], inputs[1:])
            n, ratio = len(ref), t_ref / t_ours
            target = f"   (target >= 1.00: {'met' if ratio >= 1 else 'NOT met'})" if judged else ""
            print(f"    {size // 1024} KiB reads: ours {n / t_ours:,.0f} messages/s "
                  f"({len(streams[0]) / 2**20 / t_ours:.1f} MiB/s), reference {n / t_ref:,.0f} "
                  f"messages/s; ratio ours / reference {ratio:.2f}{target}")
    # a process that has read nothing yet: no line, key or list of keys learnt
    chunks, taken = chunked(recording, 4096), {"ours": [], "reference": []}
    for _ in range(4 * runs + 1):
        for name, parse in (("ours", ours_fields), ("reference", reference)):
            ami_protocol._forget()
            gc.collect()
            started = time.process_time()
            parse(chunks)  # type: ignore[operator]
            taken[name].append(time.process_time() - started)
    t_ours, t_ref = (statistics.median(taken[name]) for name in ("ours", "reference"))
    print(f"  the recording once ({len(expected) - 1} messages), nothing learnt before (a process "
          f"just started), 4 KiB reads, median of {4 * runs + 1}: ours "
          f"{(len(expected) - 1) / t_ours:,.0f} messages/s, reference "
          f"{(len(expected) - 1) / t_ref:,.0f} messages/s; ratio ours / reference {t_ref / t_ours:.2f}")


def same(got: list[tuple[tuple[str, str], ...]], ref: list[list[tuple[str, str]]],
         expected: list[list[tuple[str, str]]], name: str) -> None:
    listed = [list(m) for m in got]
    if ref != expected or listed != expected:
        bad = next((i for i, (a, b) in enumerate(zip(listed, expected, strict=False)) if a != b),
                   min(len(listed), len(expected)))
        raise RuntimeError(f"AMI parse differs from the reference ({name} reads), message {bad}")


def _blaster(port_queue: multiprocessing.Queue, data: bytes) -> None:  # type: ignore[type-arg]
    async def main() -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"Asterisk Call Manager/11.0.0\r\n")
            raw = await reader.readuntil(b"\r\n\r\n")  # Login
            aid = [ln for ln in raw.split(b"\r\n") if ln.startswith(b"ActionID")][0].split(b": ")[1]
            writer.write(b"Response: Success\r\nActionID: " + aid + b"\r\nMessage: Authentication accepted\r\n\r\n")
            body = data.partition(b"\r\n")[2]
            for start in range(0, len(body), 65536):
                writer.write(body[start:start + 65536])
                await writer.drain()
            writer.write(b"Event: BenchDone\r\n\r\n")
            await writer.drain()
            await reader.read()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port_queue.put(server.sockets[0].getsockname()[1])
        await asyncio.sleep(120)

    asyncio.run(main())


async def end_to_end(data: bytes) -> tuple[int, float]:
    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    blaster = ctx.Process(target=_blaster, args=(ports, data))
    blaster.start()
    port = await asyncio.get_running_loop().run_in_executor(None, ports.get)
    client = AmiClient(AmiConfig(port=port, ping_interval=60, queue_size=1_000_000))
    done = asyncio.Event()
    count = 0
    started = 0.0

    async def count_event(_event: AmiEvent) -> None:
        nonlocal count
        count += 1

    async def finish(_event: AmiEvent) -> None:
        done.set()

    client.on_event(CALL_LOG_EVENTS, count_event)
    client.on_event("BenchDone", finish)
    started = time.perf_counter()
    await client.start()
    await asyncio.wait_for(done.wait(), 300)
    took = time.perf_counter() - started
    await client.close()
    blaster.terminate()
    return count, took


async def bench_ami(repeat: int) -> None:
    data = ami_stream(repeat)
    ours(data[:200_000])
    panoramisk(data[:200_000])  # warm up both
    n_ours, t_ours = ours(data)
    n_pano, t_pano = panoramisk(data)
    print(f"ami ingest: the recorded Asterisk 22 AMI session x{repeat} "
          f"({len(data) / 2**20:.1f} MiB), 64 KiB reads, one core")
    mib = len(data) / 2**20
    print(f"  ours (AmiConnection):        {n_ours} messages in {t_ours:.2f} s = "
          f"{n_ours / t_ours:,.0f} messages/s, {mib / t_ours:.1f} MiB/s   (target >= 20,000/s)")
    print(f"  panoramisk (Message parser): {n_pano} messages in {t_pano:.2f} s = "
          f"{n_pano / t_pano:,.0f} messages/s, {mib / t_pano:.1f} MiB/s "
          f"(decodes ASCII, drops Chinese names; counts list items one by one)")
    print(f"  ratio ours / panoramisk: {(n_ours / t_ours) / (n_pano / t_pano):.2f}")
    n_e2e, t_e2e = await end_to_end(data)
    print(f"  ours end to end (TCP -> AmiClient -> bounded queue -> call-log listeners, no DB): "
          f"{n_e2e} call-log events in {t_e2e:.2f} s = {n_e2e / t_e2e:,.0f} events/s "
          f"(of {n_ours / t_e2e:,.0f} messages/s on the wire)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--ami-repeat", type=int, default=40)
    parser.add_argument("--peer-runs", type=int, default=5, help="runs of each side-by-side (median)")
    parser.add_argument("--peer-sessions", type=int, default=2000, help="FastAGI sessions per run")
    parser.add_argument("--ami-only", action="store_true",
                        help="only the AMI parts (ingest, parse against the reference parser)")
    args = parser.parse_args()
    if args.ami_only:
        asyncio.run(bench_ami(args.ami_repeat))
        ami_vs_reference(args.ami_repeat, args.peer_runs)
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.sessions + 256)), hard))
    asyncio.run(bench_fastagi(args.sessions))
    agi_peer.side_by_side(args.peer_runs, args.peer_sessions, concurrency=50)
    agi_peer.io_counts(1000, concurrency=50)
    agi_peer.disconnects(500)
    asyncio.run(bench_ami(args.ami_repeat))
    ami_vs_reference(args.ami_repeat, args.peer_runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
