"""The `callcenter` command: `callcenter --help` lists every subcommand.

Each subcommand lives in `callcenter/commands/<name>.py` with a
`register(subparsers)` that sets `func(args, settings) -> int` (exit code).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from callcenter.commands import COMMANDS
from callcenter.logs import setup_logging
from callcenter.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callcenter",
        description="Complaint and customer-care hotline service for Asterisk and Twilio.",
    )
    parser.add_argument("--database-url", help="override DATABASE_URL")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = {"database_url": args.database_url} if args.database_url else {}
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    # the demo prints its own story; only warnings from the services interrupt it
    level = "WARNING" if args.command == "demo" else settings.log_level
    setup_logging(level, settings.log_json and args.command == "serve")
    result: int = args.func(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
