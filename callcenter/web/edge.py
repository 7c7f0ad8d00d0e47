"""Input rules at the HTTP edge, one definition each, shared by every route.

Guarantees:
- An id (path, query or body) is 1..2**31-1, written in ASCII digits: every
  id column is a 32-bit integer on PostgreSQL (SQLite's are wider), so a
  valid id always fits both engines; anything else is "no such row" (404
  in a path) or 422 (in a body or query), never a database error.
- A time zone is an IANA name (`zoneinfo.available_timezones`), not a file
  path or a POSIX rule string.
- A date or time is between `EARLIEST` and `LATEST` (aware, for times), so
  conversions to UTC and "the next day" never overflow.
- No text anywhere in a request (path, query, JSON, form, CSV body) carries a
  NUL character (PostgreSQL refuses it; SQLite would store it): 422, checked
  by `edge_middleware` before any handler runs. It reads the body (cached,
  so handlers read it again with `read`/`json`/`post`, and test
  `body_exists`, not `can_read_body`). Handlers that read their body as a
  raw stream (`reads_raw_body`) check their own.
- `safe_next` keeps a post-login redirect on our own site: a path starting
  with one "/", no backslash, no control character or space, no scheme.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web
from pydantic import AfterValidator, AwareDatetime, Field

from callcenter.web.errors import BadRequest
from crm.call_windows import is_iana_zone

MAX_DB_ID = 2**31 - 1
EARLIEST = date(1970, 1, 1)
LATEST = date(2100, 12, 31)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

DbId = Annotated[int, Field(ge=1, le=MAX_DB_ID)]


def check_time_zone(name: str) -> str:
    if not is_iana_zone(name):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai")
    return name


def check_date(day: date) -> date:
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"dates must lie between {EARLIEST} and {LATEST}")
    return day


def check_instant(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("give the time zone (e.g. 2026-05-18T10:00:00+08:00)")
    check_date(at.date())
    return at.astimezone(UTC)


TimeZoneName = Annotated[str, Field(max_length=64, examples=["Asia/Shanghai"]),
                         AfterValidator(check_time_zone)]
SaneDate = Annotated[date, AfterValidator(check_date)]
SaneInstant = Annotated[AwareDatetime, AfterValidator(check_instant)]


def parse_id(raw: str | None) -> int | None:
    """`raw` as a database id, or None when it cannot be one."""
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_DB_ID else None


def path_id(request: web.Request, name: str) -> int:
    """The id in the path segment `name`; 404 when no row could have it."""
    raw = request.match_info.get(name, "")
    value = parse_id(raw)
    if value is None:
        raise web.HTTPNotFound(reason=f"no such {name.removesuffix('_id')} {raw[:40]!r}")
    return value


def safe_next(value: str | None) -> str:
    """Where to go after logging in: `value` when it is a path on this site, else "/"."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if "\\" in value or any(ch.isspace() or not ch.isprintable() for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


# -- NUL characters ------------------------------------------------------------------------


_RAW_BODY: set[object] = set()


def reads_raw_body(handler: H) -> H:
    """Mark a handler that reads its body as a stream (with its own limits and checks)."""
    _RAW_BODY.add(handler)
    return handler


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _refuse(where: str) -> BadRequest:
    return BadRequest(f"the {where} holds a NUL character", [{"field": where, "message": "NUL character"}])


async def _check_body(request: web.Request) -> None:
    kind = request.content_type
    if not (kind == "application/json" or kind.endswith("+json") or kind.startswith("text/")
            or kind == "application/x-www-form-urlencoded"):
        return
    raw = await request.read()  # cached: the handler reads the same bytes
    if b"\x00" in raw:
        raise _refuse("body")
    if kind == "application/x-www-form-urlencoded" and b"%00" in raw:
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return
        if any("\x00" in k or "\x00" in v for k, v in pairs):
            raise _refuse("body")
    elif b"\\u0000" in raw:
        try:
            parsed = json.loads(raw)
            has_nul = _has_nul(parsed)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return  # not JSON (or nested too deeply): the handler answers that
        if has_nul:
            raise _refuse("body")


@web.middleware
async def edge_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if "\x00" in request.path:
        raise _refuse("path")
    if any("\x00" in k or "\x00" in v for k, v in request.query.items()):
        raise _refuse("query")
    if request.body_exists and request.match_info.route.handler not in _RAW_BODY:
        await _check_body(request)
    return await handler(request)


def same_origin(request: web.Request) -> bool:
    """A WebSocket opened from our own pages (no cross-site hijacking with the session cookie)."""
    origin = request.headers.get("Origin")
    if not origin:
        return True  # not a browser (bench, tests): the session cookie still decides
    return urlsplit(origin).netloc == request.host
