"""Statements over long value lists planned with their values, on PostgreSQL.

asyncpg prepares each statement once per connection and the pool keeps the connection.
After five runs PostgreSQL may switch a prepared statement to a *generic* plan, made once
without the values and kept until the table is next analyzed, chosen whenever it looks
cheaper than the plans made so far with values. For ``key IN ($1 ... $500)`` a generic
plan made while the table was small is a sequential scan that compares every row with
every value one by one (a list is hashed only when its values are known): each run
costs rows x values, so the lookups of a campaign list slowed with every list stored
before it (the 5th list of 10,000 numbers: 20 s, the 1st: 1 s).

Guarantee: after `plan_with_values(session, n)` with a list of at least `LONG_LIST`
values, every statement of the current transaction (up to its end, or to the rollback of
the savepoint it was called in) is planned with its values: an index lookup on a big
table, a hashed list on a small one. One ``SET LOCAL`` per transaction; nothing for a
shorter list (one callback made, a dispatch batch: a generic plan compares each row with
a few values, and the hot path keeps its plans), nothing on SQLite, which plans every
statement anew.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

#: values in a list from which its statement is planned with them
LONG_LIST = 100
_SET = "callcenter.plans.set_in"  # session.info: the transaction the setting was made in


async def plan_with_values(session: AsyncSession, values: int) -> None:
    """The rest of the transaction planned with its values, when a list of `values` is long."""
    if values < LONG_LIST or session.bind.dialect.name != "postgresql":
        return
    sync = session.sync_session
    current = sync.get_nested_transaction() or sync.get_transaction()
    if current is not None and session.info.get(_SET) is current:
        return
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    session.info[_SET] = sync.get_nested_transaction() or sync.get_transaction()
