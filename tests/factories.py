"""Rows for tests, written straight through a session (fast: no argon2 unless asked)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from callcenter.passwords import hash_password
from callcenter.storage.engine import Database
from callcenter.storage.tables import Customer, CustomerPhone, Department, ServiceJob, Staff

# One precomputed hash of "pass-word-1", so tests that log in don't pay argon2 each time.
_PASSWORD = "pass-word-1"
_HASH: str | None = None


def password_hash() -> str:
    global _HASH
    if _HASH is None:
        _HASH = hash_password(_PASSWORD)
    return _HASH


PASSWORD = _PASSWORD


async def add(db: Database, *rows: Any) -> list[Any]:
    async with db.sessions() as session:
        session.add_all(rows)
        await session.commit()
    return list(rows)


async def department(db: Database, code: str = "SVC", parent_id: int | None = None, **kw: Any) -> Department:
    (row,) = await add(db, Department(code=code, name=kw.pop("name", code), parent_id=parent_id, **kw))
    return row  # type: ignore[no-any-return]


async def staff(
    db: Database, username: str, roles: list[str], department_id: int | None = None,
    *, with_password: bool = False, **kw: Any,
) -> Staff:
    (row,) = await add(
        db,
        Staff(
            username=username, name=kw.pop("name", username), roles=roles,
            department_id=department_id,
            password_hash=password_hash() if with_password else None, **kw,
        ),
    )
    return row  # type: ignore[no-any-return]


async def headed_department(db: Database, code: str) -> tuple[Department, Staff]:
    """A department `code` with a manager (`<code>-head`) set as its head."""
    dep = await department(db, code)
    head = await staff(db, f"{code.lower()}-head", ["manager"], dep.id)
    async with db.sessions() as session:
        row = await session.get(Department, dep.id)
        assert row is not None
        row.manager_id = head.id
        await session.commit()
    return dep, head


async def customer(db: Database, name: str = "张三", phones: tuple[str, ...] = ("+8613800138000",), **kw: Any) -> Customer:
    async with db.sessions() as session:
        row = Customer(name=name, **kw)
        session.add(row)
        await session.flush()
        for i, e164 in enumerate(phones):
            session.add(CustomerPhone(customer_id=row.id, e164=e164, is_primary=i == 0))
        await session.commit()
    return row


async def job(
    db: Database, customer_id: int, reference: str = "J-1", *, technician_id: int | None = None,
    department_id: int | None = None, completed_at: datetime | None = None,
) -> ServiceJob:
    (row,) = await add(
        db,
        ServiceJob(
            reference=reference, customer_id=customer_id, technician_id=technician_id,
            department_id=department_id,
            completed_at=completed_at or datetime(2026, 5, 17, 8, 0, tzinfo=UTC),
        ),
    )
    return row  # type: ignore[no-any-return]
