"""Find things: complaints by ticket, phone (any spelling) or customer name; customers by any of
their numbers; from the API and the page, and never a complaint the reader could not open."""

from __future__ import annotations

import aiohttp
import pytest

from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from crm.services.complaints import open_complaint
from tests import factories
from tests.complaints.helpers import bearer, complaint, org, uow
from tests.conftest import Served


async def get(served: Served, headers: dict[str, str], path: str, **params: str) -> tuple[int, object]:
    async with aiohttp.ClientSession() as http, http.get(
            served.base_url + path, headers=headers, params=params) as resp:
        return resp.status, (await resp.json() if resp.content_type == "application/json"
                             else await resp.text())


@pytest.fixture
async def world(db: Database, clock: FixedClock) -> dict[str, object]:
    people = await org(db)
    zhang = await factories.customer(db, "张三丰", phones=("+8613800138000", "+861062345678"),
                                     department_id=people.service.id)
    li = await factories.customer(db, "李四", phones=("+8613900139000",), department_id=people.service.id)
    far = await factories.customer(db, "张三丰", phones=("+8613700137000",), department_id=people.other.id)
    tickets = {}
    for name, customer in (("zhang", zhang), ("li", li), ("far", far)):
        opened = await open_complaint(complaint(customer.id), uow(db), clock=clock)
        tickets[name] = opened.ticket
    return {"people": people, "tickets": tickets, "zhang": zhang.id}


@pytest.mark.parametrize("typed", [
    "138 0013 8000", "+86 138-0013-8000", "13800138000", "010-6234 5678", "(010) 62345678", "张三", "三丰",
])
async def test_a_complaint_is_found_by_any_spelling_of_a_number_or_part_of_the_name(
        served: Served, db: Database, world: dict[str, object], typed: str) -> None:
    people, tickets = world["people"], world["tickets"]
    status, body = await get(served, await bearer(db, people.agent), "/api/complaints",  # type: ignore[attr-defined]
                             view="all", q=typed)
    assert status == 200
    assert [c["ticket"] for c in body["complaints"]] == [tickets["zhang"]]  # type: ignore[index]


async def test_a_complaint_is_found_by_its_ticket_in_any_case_and_a_wildcard_is_literal(
        served: Served, db: Database, world: dict[str, object]) -> None:
    people, tickets = world["people"], world["tickets"]
    headers = await bearer(db, people.supervisor)  # type: ignore[attr-defined]
    ticket = tickets["li"]  # type: ignore[index]
    _, body = await get(served, headers, "/api/complaints", view="all", q=ticket.lower())
    assert [c["ticket"] for c in body["complaints"]] == [ticket]  # type: ignore[index]
    for wildcard in ("%", "_", "%%"):
        _, body = await get(served, headers, "/api/complaints", view="all", q=wildcard)
        assert body["complaints"] == []  # type: ignore[index]


async def test_a_search_never_returns_another_departments_complaint(
        served: Served, db: Database, world: dict[str, object]) -> None:
    people, tickets = world["people"], world["tickets"]
    _, mine = await get(served, await bearer(db, people.agent), "/api/complaints", view="all",  # type: ignore[attr-defined]
                        q="张三丰")
    assert [c["ticket"] for c in mine["complaints"]] == [tickets["zhang"]]  # type: ignore[index]
    _, all_ = await get(served, await bearer(db, people.supervisor), "/api/complaints",  # type: ignore[attr-defined]
                        view="all", q="张三丰")
    assert sorted(c["ticket"] for c in all_["complaints"]) == sorted(  # type: ignore[index]
        [tickets["zhang"], tickets["far"]])  # type: ignore[index]


async def test_the_complaints_page_searches_too(
        served: Served, db: Database, world: dict[str, object]) -> None:
    people, tickets = world["people"], world["tickets"]
    status, page = await get(served, await bearer(db, people.agent), "/complaints", q="138 0013 8000")  # type: ignore[attr-defined]
    assert status == 200 and tickets["zhang"] in page and tickets["li"] not in page  # type: ignore[index, operator]


async def test_a_customer_is_found_by_any_of_their_numbers(
        served: Served, db: Database, world: dict[str, object]) -> None:
    people = world["people"]
    headers = await bearer(db, people.agent)  # type: ignore[attr-defined]
    for typed in ("010 6234 5678", "+86 138 0013 8000"):
        status, found = await get(served, headers, "/api/customers", q=typed)
        assert status == 200 and [c["customer_id"] for c in found] == [world["zhang"]]  # type: ignore[union-attr]
