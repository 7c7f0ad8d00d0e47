"""The turn tables' INSERTs, one per table, their columns and types from the table metadata.

Every path that adds a row to these tables goes through its `Insert`: the
SQLAlchemy repositories and turn store (`values`: multi-row ``VALUES`` with
typed bind parameters, on SQLite and PostgreSQL alike) and the batched
PostgreSQL statements (`from_arrays`: ``SELECT ... FROM unnest($n::type[],
...)``, one array per column, typed from the metadata). So a column added to
a table is added in one place, and the conflict rule that makes a replayed
event harmless (``ON CONFLICT (call_id, dedupe_key) DO NOTHING``) is written
once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    Table,
    TextClause,
    bindparam,
    text,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

from callcenter.storage.tables import Call, CallEvent, Contact, Survey, SurveyAudit
from callcenter.storage.tables.base import Base
from callcenter.storage.types import utcnow


def _base_type(column: Column[Any]) -> TypeEngine[Any]:
    kind: TypeEngine[Any] = column.type
    while isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    return kind


def pg_array_type(column: Column[Any]) -> str:
    """The PostgreSQL element type of `column`'s array parameter in a batched statement.
    Strings are ``text`` (a cast to ``varchar(n)`` would cut a long value silently; the
    column itself refuses it); JSON travels as text and is cast when selected."""
    kind = _base_type(column)
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, Integer):
        return "bigint"
    if isinstance(kind, Float):
        return "float8"
    if isinstance(kind, DateTime):
        return "timestamptz"
    return "text"


def is_json(column: Column[Any]) -> bool:
    return isinstance(_base_type(column), JSON)


@dataclass(frozen=True)
class Insert:
    """A table's one INSERT: the columns it writes and its conflict rule."""

    table: Table
    columns: tuple[str, ...]
    conflict: str = ""

    @cached_property
    def json_columns(self) -> frozenset[str]:
        return frozenset(c.name for c in self.table.columns if is_json(c))

    def without(self, *names: str) -> Insert:
        """The same INSERT leaving the columns `names` to the database (an id it numbers)."""
        return Insert(self.table, tuple(c for c in self.columns if c not in names), self.conflict)

    @property
    def head(self) -> str:
        return f"INSERT INTO {self.table.name} ({', '.join(self.columns)})"

    def values(self, rows: int, *, returning: str = "") -> TextClause:
        """``INSERT ... VALUES`` of `rows` rows, bind parameters ``<column>_<row>`` typed
        from the metadata (`params` builds them)."""
        return _values(self, rows, returning)

    def select_one(self, where: str) -> TextClause:
        """``INSERT ... SELECT <one row> <where>``: one row (bind parameters as `values`),
        added only when `where` holds."""
        return _select_one(self, where)

    def params(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return {f"{name}_{i}": row[name] for i, row in enumerate(rows) for name in self.columns}

    def from_arrays(self, first: int, alias: str, *, given: Mapping[str, str] | None = None,
                    keys: Sequence[tuple[str, str]] = (), join: str = "", where: str = "",
                    returning: str = "") -> tuple[str, tuple[str, ...]]:
        """``INSERT ... SELECT ... FROM unnest(...)``: one array parameter (numbered from
        ``$first``) per column, but those `given` (an SQL expression each), then one per
        extra `keys` column (name, type) to join on. Returns the SQL and the names of its
        array parameters in order (`arrays` builds them)."""
        given = given or {}
        names = tuple(c for c in self.columns if c not in given) + tuple(k for k, _t in keys)
        types = [pg_array_type(self.table.c[c]) for c in self.columns if c not in given] + \
            [t for _k, t in keys]
        params = ", ".join(f"${first + i}::{t}[]" for i, t in enumerate(types))
        exprs = ", ".join(
            given[c] if c in given else
            f"{alias}.{c}::json" if is_json(self.table.c[c]) else f"{alias}.{c}"
            for c in self.columns)
        sql = (f"{self.head} SELECT {exprs} FROM unnest({params}) AS {alias}({', '.join(names)})"
               f" {join} {where} {self.conflict} {returning}")
        return " ".join(sql.split()), names

    def arrays(self, names: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
        """The array parameters `names` (from `from_arrays`) for `rows`; JSON values dumped."""
        out: list[list[Any]] = []
        json_columns = self.json_columns
        for name in names:
            if name in json_columns:
                out.append([None if row[name] is None else json.dumps(row[name], ensure_ascii=False)
                            for row in rows])
            else:
                out.append([row[name] for row in rows])
        return out


def defaulted(table: Table, given: Sequence[str]) -> Insert:
    """The INSERT of the columns `given` and those with a Python-side default (the ORM's
    INSERT of an object with those set; the rest left to the database)."""
    return Insert(table, tuple(c.name for c in table.columns
                               if c.name in given or c.default is not None))


def with_defaults(insert: Insert, values: Mapping[str, Any]) -> dict[str, Any]:
    """A row for `insert` (from `defaulted`): `values`, the other columns their default."""
    row = dict(values)
    for name in insert.columns:
        if name not in row:
            default: Any = insert.table.c[name].default
            row[name] = default.arg(None) if default.is_callable else default.arg
    return row


@lru_cache(maxsize=64)
def _values(insert: Insert, rows: int, returning: str) -> TextClause:
    values = ", ".join(
        "(" + ", ".join(f":{c}_{i}" for c in insert.columns) + ")" for i in range(rows))
    return text(f"{insert.head} VALUES {values} {insert.conflict} {returning}".strip()).bindparams(
        *(bindparam(f"{c}_{i}", type_=insert.table.c[c].type)
          for i in range(rows) for c in insert.columns))


@lru_cache(maxsize=16)
def _select_one(insert: Insert, where: str) -> TextClause:
    row = ", ".join(f":{c}_0" for c in insert.columns)
    return text(f"{insert.head} SELECT {row} {where}").bindparams(
        *(bindparam(f"{c}_0", type_=insert.table.c[c].type) for c in insert.columns))


def _table(model: type[Base]) -> Table:
    return Base.metadata.tables[model.__tablename__]


CALLS_TABLE = _table(Call)
#: a new call: logged once per (carrier, carrier call id); a second insert adds nothing
CALLS = Insert(CALLS_TABLE, (
    "carrier", "carrier_call_id", "direction", "from_number", "to_number", "customer_id",
    "started_at", "language", "callback_attempt_id", "disposition", "status_rank",
    "ivr_version", "ivr_state", "ivr_path", "hold_s", "wrapup_s", "created_at", "updated_at",
), "ON CONFLICT (carrier, carrier_call_id) DO NOTHING")
#: the call's timeline: an event whose (call, dedupe key) is stored already is skipped
CALL_EVENTS = Insert(_table(CallEvent),
                     ("call_id", "at", "kind", "node", "detail", "dedupe_key"),
                     "ON CONFLICT (call_id, dedupe_key) DO NOTHING")
#: a contact on a customer's record (`contact_row`); a call's is added once per call
#: (`CONTACT_ONCE`, its ``{}`` the row's call id)
CONTACTS = Insert(_table(Contact), tuple(c.name for c in _table(Contact).columns if c.name != "id"))
CONTACT_ONCE = "WHERE NOT EXISTS (SELECT 1 FROM contacts WHERE contacts.call_id = {})"


def contact_row(values: Mapping[str, Any]) -> dict[str, Any]:
    """A contact's row for `CONTACTS`: the columns not in `values` empty, stamped now."""
    return {**dict.fromkeys(CONTACTS.columns), "created_at": utcnow(), **values}
#: a survey: taken in a batched IVR turn under the id the turn reserved, or numbered by the
#: database (``SURVEYS.without("id")``)
SURVEYS = Insert(_table(Survey), tuple(c.name for c in _table(Survey).columns))
SURVEY_AUDIT = Insert(_table(SurveyAudit),
                      ("survey_id", "at", "actor_id", "action", "before", "after"))
