"""Map exceptions to HTTP answers so bad input never becomes a 500.

- `aiohttp.web.HTTPException`: passed through (JSON body for `/api/` paths).
- pydantic `ValidationError` / `BadRequest`: 422 with one message per field.
- Domain errors carry an `http_status` class attribute (404 unknown id, 409
  refused transition, 403 not allowed...) and a message saying what to do.
- A row the database refuses (`sqlalchemy.exc.IntegrityError`, or a data
  error such as a number out of range) is the caller's: a value already
  taken is 409, a reference to a row that does not exist, a missing
  required value or an out-of-range value is 422; each says which table and
  column, on SQLite and PostgreSQL alike (`database_refusal`).
- Anything else is our bug: logged with the call id and answered 500 without
  internals.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from callcenter.storage.refusals import refusal_of

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadRequest(Exception):
    """Input that fails validation outside pydantic; `errors` is [{field, message}]."""

    http_status = 422

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    body = {"error": message, "status": status, **extra}
    return web.Response(
        status=status, text=json.dumps(body, ensure_ascii=False), content_type="application/json"
    )


def validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
        for err in exc.errors(include_url=False)
    ]


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


_MESSAGES = {
    "unique": (409, "that value is already taken ({where}); choose another or change the existing record"),
    "foreign_key": (422, "a referenced record does not exist ({where}); check the ids you sent"),
    "not_null": (422, "a required value is missing ({where})"),
    "check": (422, "a value is outside what the record allows ({where})"),
    "data": (422, "a value does not fit the database ({where}); check numbers and text"),
}


def database_refusal(exc: DBAPIError) -> tuple[int, str, str] | None:
    """(status, message, kind) when the database refused the caller's values, else None."""
    refusal = refusal_of(exc)
    if refusal is None:
        return None
    status, template = _MESSAGES[refusal.kind]
    return status, template.format(where=refusal.where), refusal.kind


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if _wants_json(request) and exc.status >= 400 and exc.content_type != "application/json":
            answer = json_error(exc.status, exc.reason or exc.text or "error")
            for name, value in exc.headers.items():  # e.g. X-Access-Denied, WWW-Authenticate
                if name.lower() not in ("content-type", "content-length"):
                    answer.headers[name] = value
            return answer
        raise
    except ValidationError as exc:
        return json_error(422, "invalid input", errors=validation_errors(exc))
    except BadRequest as exc:
        return json_error(422, str(exc), errors=exc.errors)
    except DBAPIError as exc:
        refused = database_refusal(exc)
        if refused is None:
            log.exception("database error on %s %s", request.method, request.path)
            return json_error(500, "internal error; it has been logged") if _wants_json(request) \
                else web.Response(status=500, text="internal error; it has been logged")
        code, message, kind = refused
        log.info("database refused %s %s: %s", request.method, request.path, kind)
        if _wants_json(request):
            return json_error(code, message, kind=kind)
        return web.Response(status=code, text=message)
    except Exception as exc:
        status = getattr(type(exc), "http_status", None)
        if isinstance(status, int) and 400 <= status < 500:
            if _wants_json(request):
                return json_error(status, str(exc), kind=type(exc).__name__)
            return web.Response(status=status, text=str(exc))
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json(request):
            return json_error(500, "internal error; it has been logged")
        return web.Response(status=500, text="internal error; it has been logged")


async def parse_json(request: web.Request) -> Any:
    try:
        return await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest("body is not valid JSON", [{"field": "body", "message": str(exc)}]) from exc
    except RecursionError as exc:  # [[[[...]]]] deeper than the parser goes
        raise BadRequest("body is nested too deeply", [{"field": "body", "message": str(exc)}]) from exc
