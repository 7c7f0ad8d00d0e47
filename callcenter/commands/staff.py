"""`callcenter staff passwd|token|list`: credentials for staff members."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import secrets
import sys

from sqlalchemy import select

from callcenter.passwords import hash_password
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import ApiToken, Staff
from callcenter.web.auth import sha256


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("staff", help="staff passwords and API tokens")
    actions = parser.add_subparsers(dest="staff_command", required=True)
    pw = actions.add_parser("passwd", help="set a password (asks, or reads one line from stdin)")
    pw.add_argument("username")
    tok = actions.add_parser("token", help="create an API bearer token (printed once)")
    tok.add_argument("username")
    tok.add_argument("--name", default="api")
    actions.add_parser("list", help="list staff")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    db = Database.open(settings.database_url)
    try:
        async with db.sessions() as session:
            if args.staff_command == "list":
                for s in (await session.scalars(select(Staff).order_by(Staff.username))).all():
                    print(f"{s.username}\t{s.name}\t{','.join(s.roles)}\tdept={s.department_id}")
                return 0
            staff = await session.scalar(select(Staff).where(Staff.username == args.username))
            if staff is None:
                print(f"no staff member {args.username!r}; import staff first", file=sys.stderr)
                return 1
            if args.staff_command == "passwd":
                password = (
                    getpass.getpass("new password: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
                )
                try:
                    staff.password_hash = hash_password(password)
                except ValueError as exc:
                    print(str(exc), file=sys.stderr)
                    return 1
                await session.commit()
                print(f"password set for {staff.username}")
                return 0
            token = "cc_" + secrets.token_urlsafe(32)
            session.add(ApiToken(staff_id=staff.id, name=args.name, token_hash=sha256(token)))
            await session.commit()
            print(token)
            return 0
    finally:
        await db.close()
