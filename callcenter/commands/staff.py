"""`callcenter staff passwd|token|tokens|revoke|list`: credentials for staff members.

Guarantees:
- `passwd` sets a new password and ends every browser session of that staff
  member (whoever knew the old password is logged out).
- `token` prints a new bearer token once (only its hash is kept); with
  `--expires-days N` it stops working N days later.
- `tokens USER` lists a member's tokens (id, name, created, last used,
  expiry, state), never the tokens themselves; `revoke ID` revokes one at once.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import secrets
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from callcenter.passwords import hash_password
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import ApiToken, Staff, WebSession
from callcenter.web.auth import sha256


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("staff", help="staff passwords and API tokens")
    actions = parser.add_subparsers(dest="staff_command", required=True)
    pw = actions.add_parser("passwd", help="set a password (asks, or reads one line from stdin); "
                            "ends the member's browser sessions")
    pw.add_argument("username")
    tok = actions.add_parser("token", help="create an API bearer token (printed once)")
    tok.add_argument("username")
    tok.add_argument("--name", default="api")
    tok.add_argument("--expires-days", type=int, help="the token stops working after this many days")
    listing = actions.add_parser("tokens", help="list a staff member's API tokens")
    listing.add_argument("username")
    revoke = actions.add_parser("revoke", help="revoke an API token by its id (see `tokens`)")
    revoke.add_argument("token_id", type=int)
    actions.add_parser("list", help="list staff")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    db = Database.open(settings.database_url)
    try:
        async with db.sessions() as session:
            if args.staff_command == "list":
                for s in (await session.scalars(select(Staff).order_by(Staff.username))).all():
                    print(f"{s.username}\t{s.name}\t{','.join(s.roles)}\tdept={s.department_id}")
                return 0
            if args.staff_command == "revoke":
                found = await session.get(ApiToken, args.token_id)
                if found is None:
                    print(f"no API token with id {args.token_id}; `callcenter staff tokens USER` "
                          "lists them", file=sys.stderr)
                    return 1
                found.revoked = True
                await session.commit()
                print(f"token {found.id} ({found.name}) revoked")
                return 0
            staff = await session.scalar(select(Staff).where(Staff.username == args.username))
            if staff is None:
                print(f"no staff member {args.username!r}; import staff first", file=sys.stderr)
                return 1
            now = datetime.now(UTC)
            if args.staff_command == "tokens":
                print("id\tname\tcreated\tlast used\texpires\tstate")
                for t in (await session.scalars(select(ApiToken).where(ApiToken.staff_id == staff.id)
                                                .order_by(ApiToken.id))).all():
                    state = ("revoked" if t.revoked else
                             "expired" if t.expires_at is not None and t.expires_at <= now else "active")
                    print(f"{t.id}\t{t.name}\t{_when(t.created_at)}\t{_when(t.last_used_at)}\t"
                          f"{_when(t.expires_at) if t.expires_at else 'never'}\t{state}")
                return 0
            if args.staff_command == "passwd":
                password = (
                    getpass.getpass("new password: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
                )
                try:
                    staff.password_hash = hash_password(password)
                except ValueError as exc:
                    print(str(exc), file=sys.stderr)
                    return 1
                ended = await session.execute(delete(WebSession).where(WebSession.staff_id == staff.id))
                await session.commit()
                print(f"password set for {staff.username}; {ended.rowcount} browser session(s) ended")
                return 0
            if args.expires_days is not None and args.expires_days < 1:
                print("--expires-days must be at least 1", file=sys.stderr)
                return 2
            token = "cc_" + secrets.token_urlsafe(32)
            expires = now + timedelta(days=args.expires_days) if args.expires_days else None
            session.add(ApiToken(staff_id=staff.id, name=args.name, token_hash=sha256(token),
                                 expires_at=expires))
            await session.commit()
            print(token)
            return 0
    finally:
        await db.close()
