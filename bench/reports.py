"""Benchmark: the monthly supervision report and the KPI report over 10 million rows.

    python bench/reports.py                 # PostgreSQL (TEST_PG_DSN), 10 M surveys + 10 M calls
    python bench/reports.py --rows 1000000  # smaller
    python bench/reports.py --frames-only   # no database: the pure core on generated frames

Database mode creates a throwaway database ``cc_bench_<random>``, migrates it,
generates the rows *inside PostgreSQL* (``INSERT ... SELECT generate_series``,
deterministic arithmetic, in time order over 24 months as a live system
stores them; faster than COPY from Python), then times the report builders exactly as the CLI runs them (SQL
read with COPY TO STDOUT, pandas, the `reports` core), and drops the
database. Frames mode times the pure core on one month of ``--rows`` rows
held in memory (the worst case: every row in the scored month). Each timing
prints the peak RSS of the process. `bench/run_all.py` records the output in
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callcenter.reporting import builders, publication  # noqa: E402
from callcenter.settings import Settings  # noqa: E402
from callcenter.storage import migrate  # noqa: E402
from callcenter.storage.engine import Database  # noqa: E402
from reports.kpi import Scope, call_kpis  # noqa: E402
from reports.periods import Granularity, Month, report_window  # noqa: E402
from reports.scoring import score_month_frame  # noqa: E402

PG_ADMIN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
MONTH = Month(2026, 5)
DEPARTMENTS, TECHS_PER_DEPARTMENT, AGENTS = 20, 25, 80
MARK = "---frames---\n"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, lines: list[str], fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    took = time.perf_counter() - start
    line = f"| {label} | {took:.2f} s | {peak_rss_mb():.0f} MB |"
    print(line, file=sys.stderr, flush=True)  # progress; stdout gets the tables once
    lines.append(line)
    return result


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _generate_sql(rows: int) -> list[str]:
    n_tech = DEPARTMENTS * TECHS_PER_DEPARTMENT
    # rows arrive in time order, as stored surveys and calls do (729 days from 2024-06-01)
    span = f"(timestamptz '2024-06-01 00:00+08' + ((g::bigint * 62985600 / {rows}) * interval '1 second'))"
    grade = "substr('AAAABBBCCDE', 1 + ((g::bigint * {m}) % 11)::int, 1)"
    return [
        "ALTER TABLE surveys DISABLE TRIGGER ALL",
        "ALTER TABLE calls DISABLE TRIGGER ALL",
        "ALTER TABLE complaints DISABLE TRIGGER ALL",
        "DROP INDEX IF EXISTS ix_surveys_customer_id, ix_surveys_job_id, ix_surveys_staff_id, "
        "ix_surveys_department_id, ix_surveys_verification, ix_surveys_surveyed_at",
        "DROP INDEX IF EXISTS ix_calls_agent_id, ix_calls_callback_attempt_id, ix_calls_customer_id, "
        "ix_calls_disposition, ix_calls_started_at",
        "ALTER TABLE calls DROP CONSTRAINT IF EXISTS uq_calls_carrier",
        f"""INSERT INTO surveys (department_id, staff_id, surveyed_at, source, timeliness, quality,
            attitude, complete, verification, created_at, updated_at)
            SELECT 1 + ((g % {n_tech}) / {TECHS_PER_DEPARTMENT}), 1 + (g % {n_tech}), {span},
              CASE WHEN g % 10 < 6 THEN 'ivr' WHEN g % 10 < 8 THEN 'agent' ELSE 'paper' END,
              {grade.format(m=31)}, {grade.format(m=37)},
              CASE WHEN g % 50 = 0 THEN NULL ELSE {grade.format(m=41)} END, g % 50 <> 0,
              CASE WHEN g % 10 < 6 THEN 'first_hand' WHEN g % 7 = 0 THEN 'pending'
                   WHEN g % 13 = 0 THEN 'disputed' ELSE 'verified' END, now(), now()
            FROM generate_series(1, {rows}) g""",
        "CREATE INDEX ix_surveys_surveyed_at ON surveys (surveyed_at)",
        f"""INSERT INTO calls (carrier, carrier_call_id, direction, started_at, queue, agent_id,
            queued_at, answered_at, ended_at, disposition, status_rank, hold_s, wrapup_s,
            ivr_version, created_at, updated_at)
            SELECT 'twilio', 'CA' || g, 'inbound', s, q, CASE WHEN d = 'answered' THEN {n_tech} + 1 + (g % {AGENTS}) END,
              CASE WHEN d <> 'ivr_only' THEN s + interval '30 seconds' END,
              CASE WHEN d = 'answered' THEN s + interval '30 seconds' + (g % 40) * interval '1 second' END,
              s + interval '30 seconds' + (g % 40) * interval '1 second' + (g % 600) * interval '1 second',
              d, 4, (g % 20), (g % 60), 0, now(), now()
            FROM (SELECT g, {span} AS s,
                    CASE WHEN g % 20 = 0 THEN 'ivr_only' WHEN g % 9 = 0 THEN 'abandoned'
                         WHEN g % 97 = 0 THEN 'timeout' ELSE 'answered' END AS d,
                    CASE WHEN g % 3 = 0 THEN 'complaints' ELSE 'repair' END AS q
                  FROM generate_series(1, {rows}) g) x""",
        "CREATE INDEX ix_calls_started_at ON calls (started_at)",
        f"""INSERT INTO complaints (ticket, customer_id, channel, category, department_id, opened_at,
            state, severity, major, major_reasons, emotional, contradictory_answers,
            escalation_level, version, created_at, updated_at)
            SELECT 'B' || g, 1, 'agent', 'repair_quality', 1 + ((g / 100) % {DEPARTMENTS}), {span}, 'new',
              'ordinary', false, '[]', false, false, 0, 1, now(), now()
            FROM generate_series(1, {max(rows // 100, 1)}) g0, LATERAL (SELECT g0 * 100 AS g) x""",
        "ANALYZE",
    ]


async def _seed(url: str, rows: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for d in range(1, DEPARTMENTS + 1):
            await conn.execute("INSERT INTO departments (id, code, name, created_at, updated_at) "
                               "VALUES ($1, $2, $2, now(), now())", d, f"SVC-{d:02d}")
        await conn.execute("INSERT INTO customers (id, name, language, timezone, value_grade, vip_high_spend, "
                           "vip_official, vip_public_figure, vip_journalist, do_not_call, verified, "
                           "created_at, updated_at) VALUES (1, 'bench', 'zh-CN', 'Asia/Shanghai', 'normal', "
                           "false, false, false, false, false, true, now(), now())")
        n_tech = DEPARTMENTS * TECHS_PER_DEPARTMENT
        await conn.execute(f"""INSERT INTO staff (id, username, name, department_id, roles, active,
            created_at, updated_at) SELECT i, 'tech-' || i, 'tech ' || i,
            1 + ((i - 1) / {TECHS_PER_DEPARTMENT}), '["technician"]', true, now(), now()
            FROM generate_series(1, {n_tech}) i""")
        await conn.execute(f"""INSERT INTO staff (id, username, name, roles, active, created_at,
            updated_at) SELECT i, 'agent-' || i, 'agent ' || i, '["agent"]', true, now(), now()
            FROM generate_series({n_tech + 1}, {n_tech + AGENTS}) i""")
        for sql in _generate_sql(rows):
            started = time.perf_counter()
            await conn.execute(sql)
            print(f"  {sql.split()[0]} {' '.join(sql.split()[1:4])}: {time.perf_counter() - started:.1f} s",
                  file=sys.stderr, flush=True)
    finally:
        await conn.close()


def database_bench(rows: int, lines: list[str]) -> None:
    name = f"cc_bench_{uuid.uuid4().hex[:10]}"
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        migrate.upgrade(url)
        started = time.perf_counter()
        asyncio.run(_seed(url, rows))
        print(f"generated {rows:,} surveys and {rows:,} calls in PostgreSQL in "
              f"{time.perf_counter() - started:.0f} s (INSERT ... SELECT generate_series)")
        settings = Settings(database_url=url, reports_dir=Path("var/bench-reports"))
        now = datetime(2026, 6, 5, 8, 0, tzinfo=UTC)
        window = report_window(Granularity.MONTH, MONTH.first_day, settings.timezone)

        async def count() -> tuple[int, int]:
            import asyncpg

            conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
            try:
                s = await conn.fetchval("SELECT count(*) FROM surveys WHERE surveyed_at >= $1 "
                                        "AND surveyed_at < $2", window.start_utc, window.end_utc)
                c = await conn.fetchval("SELECT count(*) FROM calls WHERE started_at >= $1 "
                                        "AND started_at < $2", window.start_utc, window.end_utc)
                return int(s), int(c)
            finally:
                await conn.close()

        in_month = asyncio.run(count())
        lines.append(f"\nDatabase mode: PostgreSQL, {rows:,} surveys + {rows:,} calls over 24 months; "
                     f"{MONTH} holds {in_month[0]:,} surveys and {in_month[1]:,} calls.\n")
        lines.append("| step | time | peak RSS |\n|---|---|---|")

        async def run(kind: str, **kw: object) -> dict:
            db = Database.open(url)
            try:
                if kind == "supervision":
                    return await builders.supervision(db, settings.model_copy(update=kw), MONTH)
                return await builders.kpi(db, settings, MONTH.first_day, date(2026, 5, 31), now=now)
            finally:
                await db.close()

        timed(f"supervision {MONTH}, 1 month + previous (no trend)", lines,
              lambda: asyncio.run(run("supervision", report_trend_months=1)))
        timed(f"supervision {MONTH} with the 6-month trend (7 months read)", lines,
              lambda: asyncio.run(run("supervision")))
        timed(f"KPI report {MONTH} (day x centre/queue/agent, CSAT, callbacks, IVR, FCR)", lines,
              lambda: asyncio.run(run("kpi")))

        async def publishing(step: str) -> object:
            db = Database.open(url)
            try:
                if step == "publish":
                    return await publication.publish(db, settings, MONTH, publication.SCHEDULE, now)
                if step == "rerun":
                    return await publication.make_version(db, settings, MONTH, now, "bench")
                return await publication.correct_published_months(db, settings, now, "bench")
            finally:
                await db.close()

        timed(f"publish {MONTH} (report with trend, stored as version 1)", lines,
              lambda: asyncio.run(publishing("publish")))
        timed(f"rerun {MONTH}, nothing changed (no new version)", lines,
              lambda: asyncio.run(publishing("rerun")))
        timed("corrections pass over the published months, nothing changed", lines,
              lambda: asyncio.run(publishing("corrections")))
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def frames_bench(rows: int, lines: list[str]) -> None:
    rng = np.random.default_rng(9)
    n_tech = DEPARTMENTS * TECHS_PER_DEPARTMENT
    tech = rng.integers(0, n_tech, rows)
    letters = pd.Categorical.from_codes(rng.integers(0, 5, rows), ["A", "B", "C", "D", "E"])
    month = pd.Categorical.from_codes((rng.random(rows) < 0.1).astype(np.int8), [str(MONTH), str(MONTH.previous())])
    source = rng.integers(0, 10, rows)
    surveys = pd.DataFrame({
        "department_id": (tech // TECHS_PER_DEPARTMENT + 1).astype(np.int64),
        "staff_id": (tech + 1).astype(np.int64), "month": month,
        "timeliness": letters, "quality": pd.Categorical.from_codes(rng.integers(0, 5, rows), letters.categories),
        "attitude": pd.Categorical.from_codes(rng.integers(0, 5, rows), letters.categories),
        "source": pd.Categorical.from_codes((source >= 6).astype(np.int8), ["ivr", "paper"]),
        "verification": pd.Categorical.from_codes(np.where(source < 6, 0, 1 + (source % 3 == 0)),
                                                  ["first_hand", "verified", "pending"]),
        "complete": rng.random(rows) > 0.02,
    })
    start = pd.Timestamp(report_window(Granularity.MONTH, MONTH.first_day, "Asia/Shanghai").start_utc)
    dispositions = pd.Categorical.from_codes(rng.choice(4, rows, p=[0.8, 0.1, 0.05, 0.05]),
                                             ["answered", "abandoned", "ivr_only", "timeout"])
    calls = pd.DataFrame({
        "call_id": np.arange(rows), "started_at": start + pd.to_timedelta(rng.integers(0, 30 * 86400, rows), unit="s"),
        "queue": pd.Categorical.from_codes(rng.integers(0, 2, rows), ["repair", "complaints"]),
        "agent_id": rng.integers(1, AGENTS + 1, rows), "disposition": dispositions,
        "wait_s": rng.exponential(15, rows), "talk_s": rng.exponential(200, rows),
        "hold_s": np.zeros(rows), "wrapup_s": np.full(rows, 30.0),
    })
    lines.append(f"\nFrames mode (no database): {rows:,} surveys and {rows:,} calls generated in memory, "
                 f"90 % of the surveys and every call in {MONTH} (worst case).\n")
    lines.append("| step | time | peak RSS |\n|---|---|---|")
    lines.append(f"| frames generated | - | {peak_rss_mb():.0f} MB |")
    timed(f"score_month_frame {MONTH} over {rows:,} surveys", lines,
          lambda: score_month_frame(MONTH, surveys, departments=range(1, DEPARTMENTS + 1)))
    timed(f"call_kpis per day centre-wide over {rows:,} calls", lines,
          lambda: call_kpis(calls, Granularity.DAY, "Asia/Shanghai"))
    timed(f"call_kpis per day per agent over {rows:,} calls", lines,
          lambda: call_kpis(calls, Granularity.DAY, "Asia/Shanghai", scope=Scope.AGENT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--frames-only", action="store_true")
    args = parser.parse_args()
    lines: list[str] = []
    if args.frames_only:
        frames_bench(args.rows, lines)
        print(MARK + "\n".join(lines))
        return
    database_bench(args.rows, lines)
    # the frames run in a fresh process, so its peak RSS is its own
    out = subprocess.run([sys.executable, __file__, "--frames-only", "--rows", str(args.rows)],
                         capture_output=True, text=True, check=True).stdout
    frames = out.split(MARK, 1)[1] if MARK in out else out
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nTarget: each report < 5 s and < 2 GB peak RSS. Load average after the run: {load}.")
    print("\n".join(lines))
    print(frames)

if __name__ == "__main__":
    main()
