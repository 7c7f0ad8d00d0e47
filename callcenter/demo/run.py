"""`callcenter demo`'s walkthrough: migrate, load the sample data, run every step, sum up.

The steps (simulated callers on both carriers, callbacks, complaints, a
supervision report) are listed in `callcenter.demo.steps`; the command
(`callcenter.commands.demo`) only parses its arguments and calls `main`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from callcenter.settings import Settings
from callcenter.storage import migrate
from callcenter.storage.engine import Database
from callcenter.storage.imports import import_csv
from callcenter.storage.tables import (
    Call,
    Callback,
    Complaint,
    Customer,
    Department,
    ServiceJob,
    Staff,
    Survey,
)

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "sample-data"


def main(data: Path, settings: Settings) -> int:
    console = Console()
    console.rule("[bold]Hotline demo")
    console.print(f"database: {settings.database_url}")
    migrate.upgrade(settings.database_url)
    console.print("[green]✓[/] schema migrated")
    return asyncio.run(_run(data, settings, console))


async def _run(data: Path, settings: Settings, console: Console) -> int:
    from callcenter.demo.steps import load_steps

    db = Database.open(settings.database_url)
    try:
        for kind in ("departments", "staff", "customers", "jobs"):
            report = await import_csv(
                db, kind, data / f"{kind}.csv", centre_zone=settings.timezone,  # type: ignore[arg-type]
                default_region=settings.default_region,
            )
            if not report.written:
                for bad in report.bad:
                    console.print(f"[red]{kind} line {bad.line}:[/] {'; '.join(bad.reasons)}")
                return 1
            console.print(
                f"[green]✓[/] {kind}: {report.created} created, {report.updated} updated"
            )
        for title, step in load_steps():
            console.rule(title)
            await step(settings, db, console)
        await print_summary(db, console)
    finally:
        await db.close()
    return 0


async def print_summary(db: Database, console: Console) -> None:
    table = Table(title="What is stored")
    table.add_column("table")
    table.add_column("rows", justify="right")
    async with db.sessions() as session:
        for label, model in (
            ("departments", Department), ("staff", Staff), ("customers", Customer),
            ("service jobs", ServiceJob), ("calls", Call), ("complaints", Complaint),
            ("surveys", Survey), ("callbacks", Callback),
        ):
            count = await session.scalar(select(func.count()).select_from(model))
            table.add_row(label, str(count))
    console.print(table)
