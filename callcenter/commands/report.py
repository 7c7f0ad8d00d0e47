"""`callcenter report supervision|daily|weekly|monthly|kpi ...`: make a report for any period.

Each run is kept in ``report_runs`` (replacing that period's earlier run)
and its files under ``REPORTS_DIR``; ``-o FILE`` also writes the chosen
format to FILE (``-o -`` prints it). Long runs show a progress bar on a
terminal. The command acts as the system (like `callcenter import`): it runs
with the database's authority, so it is for operators, not for the scored
staff, who read their own figures through the web.

Also registers `callcenter import surveys FILE.csv`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callcenter.clock import system_clock
from callcenter.commands import imports, publish
from callcenter.reporting import exports, runs
from callcenter.reporting.config import FORMATS
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.imports import ImportFileError

if TYPE_CHECKING:
    from rich.console import Console


async def import_surveys(db: Database, path: Path, **kw: Any) -> dict[str, Any]:
    """`callcenter.reporting.survey_import.import_surveys`, loaded when a file comes."""
    from callcenter.reporting.survey_import import import_surveys as load

    return await load(db, path, **kw)


imports.IMPORTERS["surveys"] = import_surveys


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("report", help="make a report (supervision score, daily, weekly, monthly, call KPIs)")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")

    def add(kind: str, help_text: str) -> argparse.ArgumentParser:
        p = kinds.add_parser(kind, help=help_text)
        p.add_argument("--format", choices=FORMATS, default="json", help="output format (default json)")
        p.add_argument("-o", "--output", help="write the report to this file ('-' = stdout)")
        p.set_defaults(func=run)
        return p

    p = add("supervision", "monthly supervision score of the service departments (001)")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--department", help="department code (or id); default: every service department")
    add("daily", "problem customers of the day's callbacks, satisfaction, calls").add_argument(
        "--date", required=True, help="YYYY-MM-DD (local date)")
    add("weekly", "callback results, satisfaction, problem customers, complaint report").add_argument(
        "--week", required=True, help="ISO week, e.g. 2026-W21")
    add("monthly", "月客户满意度回访表: the month's satisfaction callback table").add_argument(
        "--month", required=True, help="YYYY-MM")
    publish.register_under(kinds)
    p = add("kpi", "call KPIs per day, queue and agent; CSAT, callbacks, IVR drop-out, FCR")
    p.add_argument("--from", dest="first", required=True, help="YYYY-MM-DD (local, inclusive)")
    p.add_argument("--to", dest="last", required=True, help="YYYY-MM-DD (local, inclusive)")


def _period(args: argparse.Namespace) -> str:
    if args.kind in ("supervision", "monthly"):
        return str(args.month)
    if args.kind == "daily":
        return str(args.date)
    if args.kind == "weekly":
        return str(args.week)
    return f"{args.first}..{args.last}"


def run(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console  # the terminal's pretty output: only for this command

    from callcenter.reporting.builders import UnknownDepartment  # pandas: only to report

    console = Console(stderr=True)
    try:
        stored = asyncio.run(_run(args, settings, console))
    except (ValueError, UnknownDepartment) as exc:
        console.print(f"[red]cannot make the report:[/] {exc}")
        return 2
    data = exports.render(stored.payload, args.format)
    if args.output == "-":
        sys.stdout.buffer.write(data)
    elif args.output:
        Path(args.output).write_bytes(data)
        console.print(f"[green]✓[/] {args.output}")
    for name in stored.files:
        console.print(f"kept: {Path(settings.reports_dir) / name}")
    return 0


async def _run(args: argparse.Namespace, settings: Settings, console: Console) -> runs.StoredRun:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    db = Database.open(settings.database_url)
    formats = tuple(dict.fromkeys(("json", args.format)))
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console, transient=True, disable=not console.is_terminal) as bar:
            task = bar.add_task(f"{args.kind} report", total=None)

            def step(text: str) -> None:
                bar.update(task, description=f"{args.kind}: {text}")

            stored = await runs.run_report(
                db, settings, args.kind, _period(args), now=system_clock(),
                generated_by=f"cli:{getpass.getuser()}", department=getattr(args, "department", None),
                formats=formats, progress=step)
    finally:
        await db.close()
    assert stored is not None  # manual runs always produce a run
    return stored


__all__ = ["register", "run", "ImportFileError"]
