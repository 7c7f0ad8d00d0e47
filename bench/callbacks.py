"""Callback claims per second with 1, 2 and 4 dispatcher processes on PostgreSQL,
then whole dispatch passes of plain and of supervision callbacks.

Claims: each process loops on the dispatcher's own claim
(`SqlCallbackRepository.claim_due`: one compare-and-set UPDATE over a `FOR
UPDATE SKIP LOCKED` pick) until no callback is left, and reports the ids it got.
The run fails if any callback was claimed twice or never. Target: >= 500
claims/s with 4 processes.

Dispatch passes: one dispatcher runs the real pass (`dispatch_once` with
`SqlUnitOfWork`: claim, the checks before the dial, commit `dialing`, dial a
carrier that answers at once, store the carrier ids) until nothing is due, over
plain callbacks (no customer) and over post-repair survey callbacks (a
supervision call: before each dial its number is checked again against the
customer's phones, who stamped them, the job and the department tree;
`crm.callback_numbers`). Each customer's primary number was planted by the
manager of the judged department and one added by the technician; the callback
must dial the number a call-centre agent added. Printed: passes and callbacks
per second, and the SQL statements the engine sent (SQLAlchemy
`before_cursor_execute`, each at least one round trip; BEGIN and COMMIT not
included) per pass and per callback: machine-independent. The run fails if a
callback is dialled twice, never, or to another number.

Campaign uploads: 5 call lists of 10,000 new numbers each stored one after the other
(`upload_campaign`, as `POST /api/campaigns` does after parsing) into one database
through one pool, as a centre's campaigns accumulate; printed: the seconds each
upload took and the statements it sent. The 5th must take about as long as the 1st.

    python bench/callbacks.py [--n 6000] [--workers 1 2 4] [--batch 50] [--dispatch-n 2000]
                              [--lists 5] [--list-n 10000]

The PostgreSQL admin DSN is TEST_PG_DSN (as for the tests); a scratch
database is created and dropped for each run.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import event, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callcenter.clock import FixedClock  # noqa: E402
from callcenter.storage import migrate  # noqa: E402
from callcenter.storage.engine import Database  # noqa: E402
from callcenter.storage.repositories.callbacks import SqlCallbackRepository  # noqa: E402
from callcenter.storage.tables import (  # noqa: E402
    Callback,
    Customer,
    CustomerPhone,
    Department,
    ServiceJob,
    Staff,
)
from callcenter.storage.uow import SqlUnitOfWork  # noqa: E402
from crm.services.callback_dispatch import DispatchConfig, dispatch_once  # noqa: E402
from crm.services.callback_lists import (  # noqa: E402
    parse_campaign_csv,
    parse_window,
    upload_campaign,
)
from crm.services.callback_ports import DialLookup, DialRequest, DialStarted, PlacedAttempt  # noqa: E402

ADMIN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _seed(url: str, n: int, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    db = Database.open(url)
    try:
        async with db.sessions() as session:
            await session.execute(insert(Callback), [{
                "source_key": f"bench:{i}", "kind": "post_repair", "state": "scheduled",
                "phone": f"+86138{i:08d}", "timezone": "Asia/Shanghai", "priority": i % 4,
                "due_at": now, "deadline_at": now + timedelta(days=3),
                "next_attempt_at": now - timedelta(minutes=1), "data": {},
            } for i in range(n)])
            await session.commit()
    finally:
        await db.close()


async def _claim_all(url: str, worker: str, batch: int) -> tuple[list[int], float, float]:
    db = Database.open(url, pool_size=2)
    got: list[int] = []
    try:
        start = time.perf_counter()
        while True:
            async with db.sessions() as session:
                now = datetime.now(UTC)
                claimed = await SqlCallbackRepository(session).claim_due(
                    worker, now, batch, now + timedelta(minutes=5))
                await session.commit()
            if not claimed:
                break
            got.extend(cb.id for cb in claimed)
        return got, start, time.perf_counter()
    finally:
        await db.close()


def _worker(url: str, worker: str, batch: int, ready: mp.Barrier, out: mp.Queue) -> None:  # type: ignore[type-arg]
    ready.wait()
    out.put(asyncio.run(_claim_all(url, worker, batch)))


def _scratch() -> tuple[str, str]:
    """A new, migrated database: (its name, its URL)."""
    name = f"cc_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name
    migrate.upgrade(url)
    return name, url


def run(n: int, workers: int, batch: int) -> tuple[float, int, int]:
    """(claims per second, duplicates, missing) for one run."""
    name, url = _scratch()
    try:
        asyncio.run(_seed(url, n))
        ctx = mp.get_context("spawn")
        ready, out = ctx.Barrier(workers), ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(url, f"bench-{i}", batch, ready, out))
                 for i in range(workers)]
        for p in procs:
            p.start()
        results = [out.get(timeout=300) for _ in procs]
        for p in procs:
            p.join()
        ids = Counter(i for got, _, _ in results for i in got)
        elapsed = max(end for _, _, end in results) - min(start for _, start, _ in results)
        duplicates = sum(c - 1 for c in ids.values() if c > 1)
        return sum(ids.values()) / elapsed, duplicates, n - len(ids)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- dispatch passes ---------------------------------------------------------------------

SERVICE_DEPARTMENTS, TEAMS, TECHNICIANS = 8, 2, 3  # per service department, per team
#: 10:00 in Shanghai on a Monday: inside every callback's window
NOW = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)


async def _seed_supervision(url: str, n: int) -> dict[str, str]:
    """HQ <- 8 service departments <- 2 teams each, a call centre and a supervision department;
    a manager per service department, 3 technicians per team, 5 agents; `n` customers, each
    with a completed job, 4 phones and a post-repair callback. Returns source key -> the
    number its callback must dial."""
    hq, cc, sup = 1, 2, 3
    departments = [{"id": hq, "code": "HQ", "name": "HQ", "parent_id": None},
                   {"id": cc, "code": "CC", "name": "CC", "parent_id": hq},
                   {"id": sup, "code": "SUP", "name": "SUP", "parent_id": hq, "supervision": True}]
    staff = [{"id": 1 + a, "username": f"agent{a}", "name": f"agent{a}", "roles": ["agent"],
              "department_id": cc} for a in range(5)]
    services: list[tuple[int, int, list[tuple[int, int]]]] = []  # (dept, manager, [(team, tech)])
    for d in range(SERVICE_DEPARTMENTS):
        dept, manager = 10 + d * (TEAMS + 1), 100 + d * 10
        departments.append({"id": dept, "code": f"SVC{d}", "name": f"SVC{d}", "parent_id": hq})
        staff.append({"id": manager, "username": f"manager{d}", "name": f"manager{d}",
                      "roles": ["manager"], "department_id": dept})
        techs: list[tuple[int, int]] = []
        for t in range(TEAMS):
            team = dept + 1 + t
            departments.append({"id": team, "code": f"SVC{d}-{t}", "name": f"SVC{d}-{t}",
                                "parent_id": dept})
            for k in range(TECHNICIANS):
                tech = manager + 1 + t * TECHNICIANS + k
                staff.append({"id": tech, "username": f"tech{tech}", "name": f"tech{tech}",
                              "roles": ["technician"], "department_id": team})
                techs.append((team, tech))
        services.append((dept, manager, techs))
    customers, phones, jobs, callbacks = [], [], [], []
    expected: dict[str, str] = {}
    for i in range(1, n + 1):
        dept, manager, techs = services[i % len(services)]
        team, tech = techs[i % len(techs)]
        agent = 1 + i % 5
        customers.append({"id": i, "name": f"customer {i}", "department_id": dept})
        own = f"+86139{i:08d}"
        phones += [  # in the order they were added
            {"customer_id": i, "e164": f"+86137{i:08d}", "is_primary": True, "added_by": manager,
             "added_by_department_id": dept},  # planted by the judged department's manager
            {"customer_id": i, "e164": f"+86135{i:08d}", "is_primary": False, "added_by": tech,
             "added_by_department_id": team},  # the technician's
            {"customer_id": i, "e164": own, "is_primary": False, "added_by": agent,
             "added_by_department_id": cc},  # the customer's own, typed by an agent
            {"customer_id": i, "e164": f"+86133{i:08d}", "is_primary": False, "added_by": None,
             "added_by_department_id": None},  # imported
        ]
        jobs.append({"id": i, "reference": f"J-{i}", "customer_id": i, "technician_id": tech,
                     "department_id": team, "completed_at": NOW - timedelta(days=1)})
        key = f"post_repair:{i}"
        expected[key] = own
        callbacks.append({
            "source_key": key, "kind": "post_repair", "state": "scheduled", "customer_id": i,
            "job_id": i, "phone": own, "timezone": "Asia/Shanghai", "priority": 2, "due_at": NOW,
            "deadline_at": NOW + timedelta(days=3), "next_attempt_at": NOW - timedelta(minutes=1),
            "data": {}})
    db = Database.open(url)
    try:
        async with db.sessions() as session:
            for table, rows in ((Department, departments), (Staff, staff), (Customer, customers),
                                (CustomerPhone, phones), (ServiceJob, jobs), (Callback, callbacks)):
                await session.execute(insert(table), rows)
            await session.commit()
    finally:
        await db.close()
    return expected


async def _seed_plain(url: str, n: int) -> dict[str, str]:
    await _seed(url, n, NOW)
    return {f"bench:{i}": f"+86138{i:08d}" for i in range(n)}


@dataclass
class _Carrier:
    """Answers every dial at once with a carrier id, and keeps what it was asked."""

    carrier: str = "bench"
    dials: list[DialRequest] = field(default_factory=list)

    async def dial(self, req: DialRequest) -> DialStarted:
        self.dials.append(req)
        return DialStarted(self.carrier, f"B-{req.attempt_id}")

    async def lookup(self, attempt: PlacedAttempt) -> DialLookup | None:
        return None


@dataclass
class Passes:
    passes: int
    dialled: int
    seconds: float
    statements: int
    wrong: int  # dialled twice, never, or to another number


async def _dispatch_all(url: str, batch: int, expected: dict[str, str]) -> Passes:
    db = Database.open(url, pool_size=2)
    carrier = _Carrier()
    sent = [0]

    def statement(*_args: object) -> None:
        sent[0] += 1

    event.listen(db.engine.sync_engine, "before_cursor_execute", statement)
    config = DispatchConfig(worker="bench-0", batch=batch)
    try:
        passes, statements, start = 0, 0, time.perf_counter()
        end = start
        while await dispatch_once(lambda: SqlUnitOfWork(db), carrier, FixedClock(NOW), config):
            passes, statements, end = passes + 1, sent[0], time.perf_counter()
        seconds = end - start  # the last pass, which found nothing due, not counted
        async with db.sessions() as session:
            keys = dict((await session.execute(
                select(Callback.id, Callback.source_key))).tuples().all())
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", statement)
        await db.close()
    got = Counter((keys[req.callback_id], req.number) for req in carrier.dials)
    want = set(expected.items())
    wrong = sum(abs(got[pair] - (pair in want)) for pair in set(got) | want)
    return Passes(passes, len(carrier.dials), seconds, statements, wrong)


def dispatch_run(n: int, batch: int, supervision: bool) -> Passes:
    name, url = _scratch()
    try:
        expected = asyncio.run(_seed_supervision(url, n) if supervision else _seed_plain(url, n))
        return asyncio.run(_dispatch_all(url, batch, expected))
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- campaign uploads --------------------------------------------------------------------


async def _upload_lists(url: str, lists: int, n: int) -> list[tuple[float, int]]:
    """(seconds, statements) of each of `lists` uploads of `n` new numbers."""
    db = Database.open(url)
    sent = [0]

    def statement(*_args: object) -> None:
        sent[0] += 1

    event.listen(db.engine.sync_engine, "before_cursor_execute", statement)
    window = parse_window("09:00-20:00")
    out = []
    try:
        for k in range(lists):
            body = "phone,customer_reference,name\n" + "".join(
                f"+86138{k * n + i:08d},,客户{i}\n" for i in range(n))
            rows = parse_campaign_csv(body).rows
            before, start = sent[0], time.perf_counter()
            await upload_campaign(f"campaign {k + 1}", "post_repair_survey", window, rows,
                                  SqlUnitOfWork(db), FixedClock(NOW))
            out.append((time.perf_counter() - start, sent[0] - before))
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", statement)
        await db.close()
    return out


def upload_run(lists: int, n: int) -> list[tuple[float, int]]:
    name, url = _scratch()
    try:
        return asyncio.run(_upload_lists(url, lists, n))
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6000, help="callbacks to claim per run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--batch", type=int, default=50, help="callbacks per claim")
    parser.add_argument("--dispatch-n", type=int, default=2000,
                        help="callbacks to dispatch per case of whole passes (0: skip)")
    parser.add_argument("--lists", type=int, default=5, help="campaign lists uploaded (0: skip)")
    parser.add_argument("--list-n", type=int, default=10_000, help="numbers per campaign list")
    args = parser.parse_args()
    ok = True
    print(f"callbacks claimed per second, PostgreSQL, {args.n} callbacks, batch {args.batch}")
    for workers in args.workers:
        rate, duplicates, missing = run(args.n, workers, args.batch)
        ok &= duplicates == 0 and missing == 0
        print(f"  {workers} dispatcher(s): {rate:8.0f} claims/s   duplicates {duplicates}"
              f"   never claimed {missing}", flush=True)
    if args.dispatch_n:
        print(f"dispatch passes (claim, checks, commit dialing, dial), PostgreSQL, 1 dispatcher, "
              f"{args.dispatch_n} callbacks, batch {args.batch}")
        for label, supervision in (("plain (no customer)", False),
                                   ("post-repair, number checked", True)):
            r = dispatch_run(args.dispatch_n, args.batch, supervision)
            ok &= r.wrong == 0 and r.dialled == args.dispatch_n
            print(f"  {label:28} {r.passes / r.seconds:6.1f} passes/s {r.dialled / r.seconds:7.0f}"
                  f" callbacks/s   SQL statements {r.statements / r.passes:6.1f} per pass, "
                  f"{r.statements / r.dialled:5.2f} per callback   wrong dials {r.wrong}",
                  flush=True)
    if args.lists:
        print(f"campaign uploads, PostgreSQL, {args.lists} lists of {args.list_n} new numbers "
              "into one database")
        for k, (seconds, statements) in enumerate(upload_run(args.lists, args.list_n), start=1):
            print(f"  list {k}: {seconds:6.2f} s   SQL statements {statements}   "
                  f"callbacks before it {(k - 1) * args.list_n}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
