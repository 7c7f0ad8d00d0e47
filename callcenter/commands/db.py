"""`callcenter db upgrade|downgrade|current|history`: schema migrations."""

from __future__ import annotations

import argparse
import sys

from callcenter.preflight import startup_problem
from callcenter.settings import Settings
from callcenter.storage import migrate


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("db", help="database migrations")
    actions = parser.add_subparsers(dest="db_command", required=True)
    up = actions.add_parser("upgrade", help="migrate to the newest schema (default: heads)")
    up.add_argument("revision", nargs="?", default="heads")
    down = actions.add_parser("downgrade", help="migrate back (e.g. -1, or base)")
    down.add_argument("revision")
    actions.add_parser("current", help="show the current revision")
    actions.add_parser("history", help="list migrations")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    url = settings.database_url
    problem = startup_problem(settings, ami=False)
    if problem is not None:
        print(f"configuration error: {problem}", file=sys.stderr)
        return 2
    if args.db_command == "upgrade":
        migrate.upgrade(url, args.revision)
        print(f"database at {args.revision}")
    elif args.db_command == "downgrade":
        migrate.downgrade(url, args.revision)
        print(f"database at {args.revision}")
    elif args.db_command == "current":
        migrate.current(url)
    else:
        migrate.history(url)
    return 0
