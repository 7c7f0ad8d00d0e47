"""identify_caller and the customer use cases, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.storage.engine import Database
from callcenter.storage.uow import SqlUnitOfWork
from crm.customers import MergeRefused, PhoneTaken
from crm.errors import InvalidPhoneNumber
from crm.services import customers as svc
from tests import factories

REGION, TZ = "CN", "Asia/Shanghai"


async def test_caller_is_found_by_a_national_form_of_their_number(db: Database) -> None:
    known = await factories.customer(db, "张三", phones=("+8613800138000",))
    found = await svc.identify_caller("138 0013 8000", SqlUnitOfWork(db), default_region=REGION, default_tz=TZ)
    assert found.customer_id == known.id and found.name == "张三" and found.verified


async def test_caller_is_found_by_their_second_number(db: Database) -> None:
    known = await factories.customer(db, "李四", phones=("+8613800138000", "+861012345678"))
    found = await svc.identify_caller("010-12345678", SqlUnitOfWork(db), default_region=REGION, default_tz=TZ)
    assert found.customer_id == known.id


async def test_unknown_caller_becomes_one_unverified_customer(db: Database) -> None:
    first = await svc.identify_caller("+8613900139000", SqlUnitOfWork(db), default_region=REGION, default_tz=TZ)
    again = await svc.identify_caller("13900139000", SqlUnitOfWork(db), default_region=REGION, default_tz=TZ)
    assert not first.verified and first.name == ""
    assert again.customer_id == first.customer_id
    assert first.primary_phone == "+8613900139000"


async def test_simultaneous_unknown_callers_with_one_number_make_one_customer(db: Database) -> None:
    results = await asyncio.gather(*[
        svc.identify_caller("+8613900139001", SqlUnitOfWork(db), default_region=REGION, default_tz=TZ)
        for _ in range(5)
    ])
    assert len({c.customer_id for c in results}) == 1


async def test_withheld_caller_id_is_refused_as_invalid_number(db: Database) -> None:
    with pytest.raises(InvalidPhoneNumber):
        await svc.identify_caller("anonymous", SqlUnitOfWork(db), default_region=REGION, default_tz=TZ)


async def test_linking_an_unknown_callers_number_merges_their_history(db: Database) -> None:
    real = await factories.customer(db, "张三", phones=("+8613800138000",))
    unknown = await svc.identify_caller("+8613900139000", SqlUnitOfWork(db), default_region=REGION, default_tz=TZ)
    merged = await svc.link_phone(real.id, "13900139000", SqlUnitOfWork(db), default_region=REGION)
    assert {p.e164 for p in merged.phones} == {"+8613800138000", "+8613900139000"}
    with pytest.raises(svc.NoSuchCustomer):
        await svc.get_customer(unknown.customer_id, SqlUnitOfWork(db))


async def test_a_verified_customers_number_cannot_be_taken_by_linking(db: Database) -> None:
    a = await factories.customer(db, "张三", phones=("+8613800138000",))
    await factories.customer(db, "李四", phones=("+8613900139000",))
    with pytest.raises(MergeRefused):
        await svc.link_phone(a.id, "+8613900139000", SqlUnitOfWork(db), default_region=REGION)


async def test_creating_a_customer_with_a_taken_number_is_refused(db: Database) -> None:
    await factories.customer(db, "张三", phones=("+8613800138000",))
    draft = svc.CustomerDraft(name="王五", phones=("13800138000",))
    with pytest.raises(PhoneTaken):
        await svc.create_customer(draft, SqlUnitOfWork(db), default_region=REGION)


async def test_naming_an_unknown_caller_verifies_them(db: Database) -> None:
    unknown = await svc.identify_caller("+8613900139000", SqlUnitOfWork(db), default_region=REGION, default_tz=TZ)
    named = await svc.update_customer(unknown.customer_id, {"name": "赵六"}, SqlUnitOfWork(db))
    assert named.verified and named.name == "赵六"
