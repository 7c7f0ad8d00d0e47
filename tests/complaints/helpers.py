"""Shared set-up for complaint tests: a three-level department chain with managers."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.storage.engine import Database
from callcenter.storage.tables import Department, Staff
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import ComplaintCategory, ComplaintChannel
from crm.services.complaints import Actor, OpenComplaint
from tests import factories


@dataclass
class Org:
    """HQ <- Region <- Service department; a manager on each, an agent in service."""

    hq: Department
    region: Department
    service: Department
    other: Department
    hq_manager: Staff
    region_manager: Staff
    service_manager: Staff
    agent: Staff
    other_agent: Staff
    supervisor: Staff


async def set_department_manager(db: Database, department: Department, manager: Staff) -> None:
    async with db.sessions() as session:
        row = await session.get(Department, department.id)
        assert row is not None
        row.manager_id = manager.id
        await session.commit()
    department.manager_id = manager.id


async def org(db: Database, *, with_password: bool = False) -> Org:
    hq = await factories.department(db, "HQ")
    region = await factories.department(db, "REGION", parent_id=hq.id)
    service = await factories.department(db, "SVC", parent_id=region.id)
    other = await factories.department(db, "OTHER", parent_id=hq.id)
    hq_manager = await factories.staff(db, "boss-hq", ["manager"], hq.id, with_password=with_password)
    region_manager = await factories.staff(db, "boss-region", ["manager"], region.id, with_password=with_password)
    service_manager = await factories.staff(db, "boss-svc", ["manager"], service.id, with_password=with_password)
    agent = await factories.staff(db, "agent-li", ["agent"], service.id, with_password=with_password)
    other_agent = await factories.staff(db, "agent-zhao", ["agent"], other.id, with_password=with_password)
    supervisor = await factories.staff(db, "inspector", ["supervisor"], hq.id, with_password=with_password)
    for dept, manager in ((hq, hq_manager), (region, region_manager), (service, service_manager)):
        await set_department_manager(db, dept, manager)
    return Org(hq, region, service, other, hq_manager, region_manager, service_manager, agent,
               other_agent, supervisor)


def uow(db: Database) -> SqlUnitOfWork:
    return SqlUnitOfWork(db)


def complaint(customer_id: int, **kw: object) -> OpenComplaint:
    fields: dict[str, object] = {
        "customer_id": customer_id,
        "channel": ComplaintChannel.AGENT,
        "category": ComplaintCategory.REPAIR_QUALITY,
        "description": "空调修好后第二天又坏了 (the air conditioner broke again the next day)",
        "actor": Actor.system("test"),
    }
    fields.update(kw)
    return OpenComplaint(**fields)  # type: ignore[arg-type]


async def bearer(db: Database, person: Staff) -> dict[str, str]:
    """Authorization header of a fresh API token for `person`."""
    import secrets

    from callcenter.storage.tables import ApiToken
    from callcenter.web.auth import sha256

    token = "cc_" + secrets.token_urlsafe(16)
    await factories.add(db, ApiToken(staff_id=person.id, name="test", token_hash=sha256(token)))
    return {"Authorization": f"Bearer {token}"}


async def followup_callback(db: Database, complaint_id: int) -> int:
    """The id of the complaint's follow-up callback (scheduled when it was resolved)."""
    from sqlalchemy import select

    from callcenter.storage.tables import Callback

    async with db.sessions() as session:
        found = await session.scalar(select(Callback.id).where(Callback.complaint_id == complaint_id))
    assert found is not None, "resolving the complaint schedules its follow-up callback"
    return found
