"""`callcenter report publish|versions --month YYYY-MM`: publish a month's supervision figures.

``publish`` needs ``--as USERNAME``, an active supervisor (or admin): the use
case (`callcenter.reporting.publication.publish`) checks the role, so the
command line cannot publish on anyone's authority but a supervisor's.
Without ``--version`` it publishes the month's current figures (a new
version when they changed); with it, that version, which must be the latest.
``versions`` prints every version of the month with its status and diff.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from sqlalchemy import select

from callcenter.clock import system_clock
from callcenter.identities import identity_of
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Staff
from crm.identity import PermissionDenied
from reports.periods import Month

__all__ = ["register_under"]


def register_under(kinds: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = kinds.add_parser("publish", help="publish a month's supervision figures (a supervisor)")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--as", dest="username", required=True, help="the publishing supervisor's username")
    p.add_argument("--version", type=int, help="the version to publish (default: current figures)")
    p.set_defaults(func=run_publish)
    p = kinds.add_parser("versions", help="the versions of a month's supervision figures, with diffs")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.set_defaults(func=run_versions)


async def _publish(args: argparse.Namespace, settings: Settings) -> dict[str, object]:
    from callcenter.reporting import publication  # pandas: not for every `callcenter` start

    db = Database.open(settings.database_url)
    try:
        async with db.sessions() as session:
            staff = await session.scalar(select(Staff).where(Staff.username == args.username))
        if staff is None or not staff.active:
            raise PermissionDenied(f"no active staff member {args.username!r}")
        version = await publication.publish(db, settings, Month.parse(args.month),
                                            identity_of(staff), system_clock(), args.version)
    finally:
        await db.close()
    return {"month": version.period, "version": version.version,
            "published_at": str(version.published_at), "published_by": version.published_by}


def run_publish(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.reporting import publication

    try:
        result = asyncio.run(_publish(args, settings))
    except (ValueError, PermissionDenied, publication.VersionConflict) as exc:
        print(f"not published: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False))
    return 0


async def _versions(args: argparse.Namespace, settings: Settings) -> list[dict[str, object]]:
    from callcenter.reporting import versions

    db = Database.open(settings.database_url)
    try:
        stored = await versions.all_versions(db, str(Month.parse(args.month)))
    finally:
        await db.close()
    published = max((v.version for v in stored if v.published_at is not None), default=None)
    return [{k: v for k, v in s.to_dict(published).items() if k != "figures"} for s in stored]


def run_versions(args: argparse.Namespace, settings: Settings) -> int:
    try:
        listing = asyncio.run(_versions(args, settings))
    except ValueError as exc:
        print(f"cannot list: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(listing, ensure_ascii=False, indent=2, default=str))
    return 0
