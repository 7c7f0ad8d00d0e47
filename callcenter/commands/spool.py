"""`callcenter spool import`: complaints the classic AGI fallback left while we were down."""

from __future__ import annotations

import argparse
import asyncio

from callcenter.clock import system_clock
from callcenter.settings import Settings
from callcenter.storage.engine import Database


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("spool", help="the Asterisk fallback spool")
    actions = parser.add_subparsers(dest="spool_command", required=True)
    actions.add_parser("import", help="open a complaint for each new spool entry (once)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.telephony.asterisk.spool import import_spool

    async def main() -> int:
        db = Database.open(settings.database_url)
        try:
            report = await import_spool(db, settings, system_clock)
        finally:
            await db.close()
        print(f"spool {settings.spool_dir}: {len(report.imported)} imported "
              f"({', '.join(report.imported) or '-'}), {len(report.skipped)} already done, "
              f"{len(report.without_complaint)} without a complaint, {len(report.broken)} unreadable")
        return 1 if report.broken else 0

    return asyncio.run(main())
