"""`callcenter import departments|staff|customers|jobs FILE.csv [--skip-bad]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.imports import REQUIRED, ImportFileError, import_csv

IMPORTERS: dict[str, object] = {}  # extra kinds (e.g. surveys) register here: kind -> coroutine fn


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("import", help="import a CSV file (validated first)")
    parser.add_argument("kind", choices=sorted([*REQUIRED, "surveys"]))
    parser.add_argument("file", type=Path)
    parser.add_argument("--skip-bad", action="store_true", help="import the good rows anyway")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not args.file.is_file():
        print(f"no such file: {args.file}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(_run(args, settings))
    except ImportFileError as exc:
        print(f"cannot import: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for bad in report["bad"]:
            print(f"line {bad['line']}: " + "; ".join(bad["reasons"]), file=sys.stderr)
        if report["written"]:
            print(
                f"{args.kind}: {report['rows']} rows, {report['created']} created, "
                f"{report['updated']} updated, {report['skipped']} bad rows skipped"
            )
        else:
            print(
                f"{args.kind}: nothing imported, {len(report['bad'])} bad row(s); fix them "
                "or pass --skip-bad",
                file=sys.stderr,
            )
    return 0 if report["written"] else 1


async def _run(args: argparse.Namespace, settings: Settings) -> dict[str, object]:
    db = Database.open(settings.database_url)
    try:
        if args.kind in IMPORTERS:
            fn = IMPORTERS[args.kind]
            result: dict[str, object] = await fn(db, args.file, skip_bad=args.skip_bad, settings=settings)  # type: ignore[operator]
            return result
        if args.kind not in REQUIRED:
            raise ImportFileError(f"importing {args.kind} is not available in this build")
        report = await import_csv(
            db, args.kind, args.file, skip_bad=args.skip_bad, centre_zone=settings.timezone,
            default_region=settings.default_region, show_progress=sys.stderr.isatty(),
        )
        return report.as_dict()
    finally:
        await db.close()
