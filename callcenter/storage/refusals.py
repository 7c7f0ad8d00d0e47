"""What the database refused, read the same way on SQLite and PostgreSQL.

`refusal_of(exc)` turns a SQLAlchemy `DBAPIError` into a `Refusal`: its kind
(``unique``, ``foreign_key``, ``not_null``, ``check``, or ``data`` for a value
that does not fit, such as an integer out of range) and where (table and
column or constraint), or None for anything else (a lost connection, our own
bad SQL). The web layer maps kinds to 409/422 in one place
(`callcenter.web.errors`); repositories use it to translate only the
refusals they expect (a taken number) and let the others through.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, IntegrityError

_SQLITE_KINDS = {"SQLITE_CONSTRAINT_UNIQUE": "unique", "SQLITE_CONSTRAINT_PRIMARYKEY": "unique",
                 "SQLITE_CONSTRAINT_FOREIGNKEY": "foreign_key",
                 "SQLITE_CONSTRAINT_NOTNULL": "not_null", "SQLITE_CONSTRAINT_CHECK": "check"}
_PG_KINDS = {"23505": "unique", "23503": "foreign_key", "23502": "not_null", "23514": "check"}


@dataclass(frozen=True)
class Refusal:
    kind: str
    where: str


def refusal_of(exc: DBAPIError) -> Refusal | None:
    orig = exc.orig
    cause = getattr(orig, "__cause__", None)
    sqlstate = str(getattr(cause, "sqlstate", "") or "")
    if sqlstate:  # PostgreSQL (asyncpg)
        kind = _PG_KINDS.get(sqlstate) or ("data" if sqlstate.startswith("22") else None)
        parts = [getattr(cause, "table_name", None),
                 getattr(cause, "column_name", None) or getattr(cause, "constraint_name", None)]
        where = ".".join(p for p in parts if p) or "the request"
    else:  # SQLite
        kind = _SQLITE_KINDS.get(str(getattr(orig, "sqlite_errorname", "")))
        if kind is None and isinstance(exc, IntegrityError):
            kind = "unique" if "UNIQUE" in str(orig) else "check"
        text = str(orig)
        where = text.split(":", 1)[1].strip() if ":" in text else "the request"
    return None if kind is None else Refusal(kind, where[:120])
