"""AMI events into the call log on PostgreSQL, end to end, for a recorded stream of 200 calls.

    python bench/ami_call_log.py                 # 200 calls
    python bench/ami_call_log.py --calls 50 --check-only

Target (issue 19): >= 20,000 events/s from the first event sent to every row committed.

The stream: the real Asterisk 22 AMI recording (tests/asterisk_protocol/transcripts/
ami_two_calls: two hotline calls, Newchannel, NewCallerid, Newstate, DialBegin/End,
Hangup, CEL down to LINKEDID_END) cut into its two calls and copied 200 times, each
copy with its own Uniqueids/Linkedid, channel names, caller number and timestamps
(a call starting every 0.25 s, so about 40 are up at once and their events
interleave as on a busy PBX). Only the event classes our login asks for
(``Events: call,agent,user``) are kept, as Asterisk would send them to us. The
recording has no queue: each copy of call 1 gets, spliced in after its answer,
QueueCallerJoin, AgentCalled, AgentConnect, QueueCallerLeave, Hold and Unhold,
each copy of call 2 QueueCallerJoin, QueueCallerAbandon, QueueCallerLeave, built
from the recorded channel snapshot plus the fields Asterisk 22 adds (app_queue,
res_musiconhold). Three quarters of the callers are known customers, one quarter
are new numbers (the call log creates an unverified customer for each).

The blaster is a separate process playing Asterisk: greeting, Login, the
CoreShowChannels snapshot the client asks for after login (empty), then the stream
in 64 KiB writes as fast as the socket takes them. Our real `AmiClient` and
`AmiCallLog` run here against a fresh PostgreSQL database migrated with our Alembic
migrations. The clock runs from the blaster's first event byte written to the
moment the call log has handled the last event and every row is committed
(`AmiCallLog.flush`). Then every call is checked in the database: the call row,
its customer, agent, disposition, queue segment, contact and timeline rows.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

import callcenter.screenpop.offers  # noqa: E402,F401  (loaded in the service; the call log imports it late)
from bench.harness import ADMIN_DSN, admin, with_database  # noqa: E402
from callcenter.clock import Clock  # noqa: E402
from callcenter.storage import migrate  # noqa: E402
from callcenter.storage.engine import Database  # noqa: E402
from callcenter.storage.tables import (  # noqa: E402
    Call,
    CallEvent,
    CallSegment,
    Contact,
    Customer,
    CustomerPhone,
    Staff,
)
from callcenter.telephony.asterisk.ami_client import AmiClient, AmiConfig  # noqa: E402
from callcenter.telephony.asterisk.ami_protocol import AmiEvent  # noqa: E402
from callcenter.telephony.asterisk.call_log import CALL_LOG_EVENTS, AmiCallLog  # noqa: E402

RECORDING = ROOT / "tests/asterisk_protocol/transcripts/ami_two_calls.from_asterisk.bin"
OUR_CLASSES = {b"call", b"agent", b"user"}  # AmiConfig.events
CALL_GAP_S = 0.25
AGENTS = 10
TARGET = 20_000
EVENT_END = b"\r\n\r\n"


def _fields(block: bytes) -> list[tuple[bytes, bytes]]:
    return [tuple(line.split(b": ", 1)) if b": " in line else (line.rstrip(b":"), b"")  # type: ignore[misc]
            for line in block.split(b"\r\n") if line]


def _block(pairs: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(k + b": " + v + b"\r\n" for k, v in pairs) + b"\r\n"


def _get(pairs: list[tuple[bytes, bytes]], key: bytes) -> bytes | None:
    return next((v for k, v in pairs if k.lower() == key.lower()), None)


def recorded_calls() -> dict[bytes, list[list[tuple[bytes, bytes]]]]:
    """The recording's events per call (call-1, call-2), our event classes only."""
    body = RECORDING.read_bytes().split(b"\r\n", 1)[1]
    calls: dict[bytes, list[list[tuple[bytes, bytes]]]] = {b"call-1": [], b"call-2": []}
    for block in body.split(b"\r\n\r\n"):
        pairs = _fields(block)
        if not pairs or pairs[0][0] != b"Event" or pairs[0][1] == b"OriginateResponse":
            continue
        privilege = (_get(pairs, b"Privilege") or b"").split(b",")[0]
        if privilege not in OUR_CLASSES:
            continue
        for key in calls:
            if re.search(re.escape(key) + rb"\b|" + re.escape(key) + b"b", block):
                calls[key].append(pairs)
                break
    return calls


def _snapshot(pairs: list[tuple[bytes, bytes]], prefix: bytes = b"") -> list[tuple[bytes, bytes]]:
    keys = (b"Channel", b"ChannelState", b"ChannelStateDesc", b"CallerIDNum", b"CallerIDName",
            b"ConnectedLineNum", b"ConnectedLineName", b"Language", b"AccountCode", b"Context",
            b"Exten", b"Priority", b"Uniqueid", b"Linkedid")
    return [(prefix + k, v) for k, v in pairs if k in keys]


def _queue_events(kind: bytes, caller_up: list[tuple[bytes, bytes]], at: float,
                  agent: int) -> list[list[tuple[bytes, bytes]]]:
    """What app_queue / res_musiconhold add for one caller (Asterisk 22 field layout)."""
    snap = _snapshot(caller_up)
    lid = _get(caller_up, b"Linkedid") or b""
    dest = [(b"DestChannel", b"PJSIP/%d-0000%04x" % (agent, agent)), (b"DestChannelState", b"6"),
            (b"DestChannelStateDesc", b"Up"), (b"DestCallerIDNum", b"%d" % agent),
            (b"DestCallerIDName", b"<unknown>"), (b"DestConnectedLineNum", b"<unknown>"),
            (b"DestConnectedLineName", b"<unknown>"), (b"DestLanguage", b"en"),
            (b"DestAccountCode", b""), (b"DestContext", b"agents"), (b"DestExten", b""),
            (b"DestPriority", b"1"), (b"DestUniqueid", lid + b"-agent"), (b"DestLinkedid", lid)]
    queue = [(b"Queue", b"hotline-agents")]
    member = [(b"Interface", b"PJSIP/%d" % agent), (b"MemberName", b"PJSIP/%d" % agent)]

    def ev(name: bytes, t: float, *extra: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        out = [(b"Event", name), (b"Privilege", b"agent,all"), (b"Timestamp", b"%.6f" % t), *snap]
        for part in extra:
            out.extend(part)
        return out

    if kind == b"answered":
        hold = [(b"Event", b"Hold"), (b"Privilege", b"call,all"), (b"Timestamp", b"%.6f" % (at + 6)),
                *snap, (b"MusicClass", b"default")]
        unhold = [(b"Event", b"Unhold"), (b"Privilege", b"call,all"),
                  (b"Timestamp", b"%.6f" % (at + 8)), *snap]
        return [
            ev(b"QueueCallerJoin", at, queue, [(b"Position", b"1"), (b"Count", b"1")]),
            ev(b"AgentCalled", at + 0.01, dest, queue, member),
            ev(b"AgentConnect", at + 2, dest, queue, member,
               [(b"HoldTime", b"2"), (b"RingTime", b"2")]),
            ev(b"QueueCallerLeave", at + 2, queue, [(b"Position", b"1"), (b"Count", b"0")]),
            hold, unhold,
        ]
    return [
        ev(b"QueueCallerJoin", at, queue, [(b"Position", b"1"), (b"Count", b"1")]),
        ev(b"QueueCallerAbandon", at + 1.5, queue,
           [(b"Position", b"1"), (b"OriginalPosition", b"1"), (b"HoldTime", b"1")]),
        ev(b"QueueCallerLeave", at + 1.5, queue, [(b"Position", b"1"), (b"Count", b"0")]),
    ]


def caller(i: int) -> str:
    return f"138{i:08d}"


def build_stream(n_calls: int) -> tuple[bytes, int, int]:
    """(the stream's bytes, events in it, events the call log listens to)."""
    templates = recorded_calls()
    timed: list[tuple[float, int, bytes]] = []
    base = min(float(_get(p, b"Timestamp") or 0) for p in templates[b"call-1"])
    for i in range(n_calls):
        key, kind = (b"call-1", b"answered") if i % 2 == 0 else (b"call-2", b"abandoned")
        src = templates[key]
        t0 = min(float(_get(p, b"Timestamp") or 0) for p in src)
        shift = base + i * CALL_GAP_S - t0
        lid = b"bench-%05d" % i
        number = caller(i).encode()
        old_number = b"13800138000" if key == b"call-1" else b"13912345678"
        events: list[list[tuple[bytes, bytes]]] = []
        queued = False
        for pairs in src:
            events.append(pairs)
            # the caller's channel (Uniqueid == Linkedid) answered: it goes to the queue
            if not queued and _get(pairs, b"Event") == b"Newstate" and \
                    _get(pairs, b"Uniqueid") == key and _get(pairs, b"ChannelStateDesc") == b"Up":
                at = float(_get(pairs, b"Timestamp") or 0) + 0.5
                events.extend(_queue_events(kind, pairs, at, 1001 + i % AGENTS))
                queued = True
        assert queued, "the recording's caller channel never answered"
        for seq, pairs in enumerate(events):
            out = []
            for k, v in pairs:
                if k == b"Timestamp":
                    v = b"%.6f" % (float(v) + shift)
                else:
                    v = v.replace(key + b"b", lid + b"b").replace(key, lid).replace(old_number, number)
                    v = v.replace(b"-0000000", b"-%07x" % i) if v.startswith(b"Local/") else v
                out.append((k, v))
            timed.append((float(_get(out, b"Timestamp") or 0), i * 1000 + seq, _block(out)))
    timed.sort()
    blocks = [b for _, _, b in timed]
    listened = sum(1 for b in blocks
                   if b.split(b"\r\n", 1)[0][7:].decode() in CALL_LOG_EVENTS)
    return b"".join(blocks), len(blocks), listened


# -- the blaster (plays Asterisk, own process) ---------------------------------------------------

def _blaster(port_queue: multiprocessing.Queue, data: bytes) -> None:  # type: ignore[type-arg]
    async def main() -> None:
        async def answer(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
            raw = await reader.readuntil(b"\r\n\r\n")
            pairs = dict(_fields(raw.rstrip(b"\r\n")))
            return pairs.get(b"Action", b""), pairs.get(b"ActionID", b"")

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"Asterisk Call Manager/11.0.0\r\n")
            _, aid = await answer(reader)  # Login
            writer.write(b"Response: Success\r\nActionID: " + aid +
                         b"\r\nMessage: Authentication accepted\r\n\r\n")
            _, aid = await answer(reader)  # the client's CoreShowChannels after login
            writer.write(b"Response: Success\r\nActionID: " + aid + b"\r\nEventList: start\r\n"
                         b"Message: Channels will follow\r\n\r\nEvent: CoreShowChannelsComplete\r\n"
                         b"ActionID: " + aid + b"\r\nEventList: Complete\r\nListItems: 0\r\n\r\n")
            await writer.drain()
            await asyncio.sleep(0.2)  # the snapshot is handled before the stream starts
            started = time.time()
            for start in range(0, len(data), 65536):
                writer.write(data[start:start + 65536])
                await writer.drain()
            writer.write(b"Event: BenchDone\r\n\r\n")
            await writer.drain()
            port_queue.put(("started", started))
            while await reader.read(65536):  # pings, logoff
                pass

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port_queue.put(("port", server.sockets[0].getsockname()[1]))
        await asyncio.sleep(600)

    asyncio.run(main())


# -- the database ---------------------------------------------------------------------------------

async def seed(db: Database, n_calls: int) -> None:
    """The agents (PJSIP/1001...) and the known three quarters of the callers."""
    async with db.sessions() as session:
        session.add_all(Staff(username=f"agent-{1001 + a}", name=f"Agent {1001 + a}",
                              roles=["agent"], extension=str(1001 + a)) for a in range(AGENTS))
        customers = [Customer(name=f"Customer {i}") for i in range(n_calls) if i % 4 != 3]
        session.add_all(customers)
        await session.flush()
        known = [i for i in range(n_calls) if i % 4 != 3]
        session.add_all(CustomerPhone(customer_id=c.id, e164=f"+86{caller(i)}", is_primary=True)
                        for c, i in zip(customers, known, strict=True))
        await session.commit()


async def verify(db: Database, n_calls: int) -> list[str]:
    """Every call as it must be; returns the problems (none: nothing lost)."""
    problems: list[str] = []
    async with db.sessions() as session:
        calls = {c.carrier_call_id: c for c in (await session.scalars(select(Call))).all()}
        phones = dict((await session.execute(select(CustomerPhone.e164, CustomerPhone.customer_id))).all())
        agents = dict((await session.execute(select(Staff.extension, Staff.id))).all())
        kinds: dict[int, Counter[str]] = {}
        for call_id, kind in (await session.execute(select(CallEvent.call_id, CallEvent.kind))).all():
            kinds.setdefault(call_id, Counter())[kind] += 1
        segs = {s.call_id: s for s in (await session.scalars(select(CallSegment))).all()}
        seg_count = await session.scalar(select(func.count()).select_from(CallSegment))
        contacts = Counter((await session.scalars(select(Contact.call_id))).all())
        customers = await session.scalar(select(func.count()).select_from(Customer))
    if len(calls) != n_calls:
        problems.append(f"{len(calls)} call rows, expected {n_calls}")
    if seg_count != n_calls:
        problems.append(f"{seg_count} queue segments, expected {n_calls}")
    if customers != n_calls:
        problems.append(f"{customers} customers, expected {n_calls} (one new per unknown caller)")
    answered_kinds = Counter({"started": 1, "channel_created": 2, "channel_up": 2, "queued": 1,
                              "agent_called": 1, "answered": 1, "hold": 1, "unhold": 1,
                              "channel_hangup": 2, "ended": 1})
    abandoned_kinds = Counter({"started": 1, "channel_created": 2, "channel_up": 2, "queued": 1,
                               "queue_abandon": 1, "channel_hangup": 2, "ended": 1})
    for i in range(n_calls):
        lid = f"bench-{i:05d}"
        call = calls.get(lid)
        if call is None:
            problems.append(f"{lid}: no call row")
            continue
        answered = i % 2 == 0
        want = {
            "customer": phones.get(f"+86{caller(i)}"), "from": caller(i), "to": "4000" if answered else "4001",
            "disposition": "answered" if answered else "abandoned",
            "agent": agents[str(1001 + i % AGENTS)] if answered else None,
            "queue": "hotline-agents", "ended": True, "queued": True, "answered_at": answered,
            "timeline": answered_kinds if answered else abandoned_kinds,
            "segment": ("answered" if answered else "abandoned", agents[str(1001 + i % AGENTS)]
                        if answered else None, True),
            "contacts": 1,
        }
        seg = segs.get(call.id)
        got = {
            "customer": call.customer_id, "from": call.from_number, "to": call.to_number,
            "disposition": call.disposition, "agent": call.agent_id, "queue": call.queue,
            "ended": call.ended_at is not None and (call.duration_s or 0) > 0,
            "queued": call.queued_at is not None, "answered_at": call.answered_at is not None,
            "timeline": kinds.get(call.id, Counter()),
            "segment": (seg.outcome, seg.agent_id, seg.ended_at is not None) if seg else None,
            "contacts": contacts.get(call.id, 0),
        }
        for key, value in want.items():
            if got[key] != value:
                problems.append(f"{lid}: {key} is {got[key]!r}, expected {value!r}")
    return problems


async def run(url: str, data: bytes, n_calls: int) -> tuple[float, float, int, int, list[str]]:
    db = Database.open(url)
    await seed(db, n_calls)
    ctx = multiprocessing.get_context("spawn")
    messages: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    blaster = ctx.Process(target=_blaster, args=(messages, data), daemon=True)
    blaster.start()
    loop = asyncio.get_running_loop()
    _, port = await loop.run_in_executor(None, messages.get)
    client = AmiClient(AmiConfig(port=port, ping_interval=60, queue_size=1_000_000))
    clock: Clock = lambda: datetime.now(UTC)  # noqa: E731
    call_log = AmiCallLog(db, clock, default_region="CN")
    call_log.attach(client)
    done = asyncio.Event()
    handled = Counter[str]()
    marks: dict[str, float] = {}

    async def count(event: AmiEvent) -> None:
        handled[event.name] += 1

    async def finish(_event: AmiEvent) -> None:
        marks["handled"] = time.time()
        await call_log.flush()  # every event before this one is handled: commit what is buffered
        done.set()

    client.on_event(CALL_LOG_EVENTS, count)
    client.on_event("BenchDone", finish)
    cpu0 = time.process_time()
    await client.start()
    await asyncio.wait_for(done.wait(), 600)
    finished = time.time()
    cpu = time.process_time() - cpu0
    _, started = await loop.run_in_executor(None, messages.get)
    await client.close()
    blaster.terminate()
    problems = await verify(db, n_calls)
    await db.close()
    print(f"  CPU of this process (AmiClient + call log + driver): {cpu:.3f} s = "
          f"{cpu / data.count(EVENT_END) * 1e6:.0f} us per event; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  (last event handled {marks['handled'] - started:.3f} s after the first was sent, "
          f"the last batch committed {finished - marks['handled']:.3f} s later)")
    return started, finished, sum(handled.values()), len(call_log.open_calls), problems


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    data, n_events, n_listened = build_stream(args.calls)
    name = f"cc_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = with_database(ADMIN_DSN, name).replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        migrate.upgrade(url)
        started, finished, handled, still_open, problems = asyncio.run(run(url, data, args.calls))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    took = finished - started
    rate = n_events / took
    print(f"ami call log: {args.calls} calls recorded from Asterisk 22 (+ queue/hold events), "
          f"{n_events} AMI events ({len(data) / 2**20:.1f} MiB), {n_listened} of them call-log "
          f"events; blaster process -> TCP -> AmiClient -> AmiCallLog -> PostgreSQL")
    print(f"  end to end (first event sent -> every row committed): {took:.3f} s = "
          f"{rate:,.0f} events/s   (target >= {TARGET:,}: {'met' if rate >= TARGET else 'NOT met'})")
    print(f"  call-log events handled: {handled} of {n_listened} "
          f"({handled / took:,.0f}/s); calls still open after the stream: {still_open}")
    if problems:
        print(f"  verification: {len(problems)} problems, first: " + "; ".join(problems[:5]))
        return 1
    print(f"  verification: all {args.calls} calls stored (call row, customer, agent, "
          f"disposition, queue segment, contact, timeline), none lost")
    return 0


if __name__ == "__main__":
    sys.exit(main())
