"""The public complaint form `/complaint` over real HTTP: CSRF, size, rate limits, a ticket."""

from __future__ import annotations

import re

import aiohttp
from sqlalchemy import select

from callcenter.storage.engine import Database
from callcenter.storage.tables import Complaint, Customer, CustomerPhone, RateEvent
from tests.conftest import Served

PHONE = "138 0013 8000"


def _browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _token(http: aiohttp.ClientSession, served: Served) -> str:
    async with http.get(served.base_url + "/complaint") as resp:
        page = await resp.text()
    assert resp.status == 200 and "投诉内容" in page and "Phone" in page
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


async def _submit(http: aiohttp.ClientSession, served: Served, **fields: str) -> tuple[int, str]:
    form = {"phone": PHONE, "category": "repair_quality", "description": "热水器修完又漏水了", **fields}
    async with http.post(served.base_url + "/complaint", data=form) as resp:
        return resp.status, await resp.text()


async def test_a_valid_form_gives_a_ticket_and_an_unverified_customer(served: Served, db: Database) -> None:
    async with _browser() as http:
        status, page = await _submit(http, served, csrf_token=await _token(http, served))
    assert status == 201
    ticket = re.search(r'class="ticket">(\d+)<', page)
    assert ticket
    async with db.sessions() as session:
        complaint = await session.scalar(select(Complaint))
        customer = await session.scalar(select(Customer).join(CustomerPhone).where(CustomerPhone.e164 == "+8613800138000"))
    assert complaint is not None and customer is not None
    assert (complaint.ticket, complaint.channel, complaint.customer_id) == (ticket.group(1), "web_form", customer.id)
    assert customer.verified is False


async def test_a_form_without_its_token_is_refused(served: Served, db: Database) -> None:
    async with _browser() as http:
        await _token(http, served)  # the cookie is there, the field is not
        status, _ = await _submit(http, served)
    assert status == 403
    async with db.sessions() as session:
        assert await session.scalar(select(Complaint)) is None


async def test_a_forged_token_is_refused(served: Served) -> None:
    async with _browser() as http:
        real = await _token(http, served)
        nonce, _, signature = real.partition(".")
        status, _ = await _submit(http, served, csrf_token=f"{nonce}.{'0' * len(signature)}")
    assert status == 403
    async with _browser() as other_browser:  # a token lifted from someone else's page
        status, _ = await _submit(other_browser, served, csrf_token=real)
    assert status == 403


async def test_an_oversize_body_is_refused_with_413(served: Served) -> None:
    async with _browser() as http:
        status, _ = await _submit(http, served, csrf_token=await _token(http, served), description="x" * 20_000)
    assert status == 413


async def test_a_description_over_the_limit_is_422(served: Served) -> None:
    async with _browser() as http:
        token = await _token(http, served)
        too_long, _ = await _submit(http, served, csrf_token=token, description="y" * 2001)
        just_fits, _ = await _submit(http, served, csrf_token=token, description="y" * 2000)
    assert (too_long, just_fits) == (422, 201)


async def test_a_bad_phone_or_category_is_422(served: Served) -> None:
    async with _browser() as http:
        token = await _token(http, served)
        bad_phone, page = await _submit(http, served, csrf_token=token, phone="12345")
        bad_category, _ = await _submit(http, served, csrf_token=token, category="weather")
        empty, _ = await _submit(http, served, csrf_token=token, description="   ")
    assert (bad_phone, bad_category, empty) == (422, 422, 422)
    assert "电话号码无效" in page


async def test_a_fourth_complaint_from_one_phone_within_the_hour_is_429(served: Served) -> None:
    async with _browser() as http:
        token = await _token(http, served)
        statuses = [(await _submit(http, served, csrf_token=token))[0] for _ in range(4)]
    assert statuses == [201, 201, 201, 429]


async def test_a_sixth_submission_from_one_address_within_the_hour_is_429(served: Served, db: Database) -> None:
    phones = ["13800138001", "13800138002", "13800138003", "13800138004", "13800138005", "13800138006"]
    async with _browser() as http:
        token = await _token(http, served)
        statuses = [(await _submit(http, served, csrf_token=token, phone=p))[0] for p in phones]
    assert statuses == [201, 201, 201, 201, 201, 429]
    async with db.sessions() as session:
        keys = (await session.scalars(select(RateEvent.key))).all()
    assert keys and not any("1380013800" in key for key in keys)  # numbers are not stored in clear


async def test_the_limit_is_over_after_an_hour(served: Served) -> None:
    from callcenter.appkeys import CLOCK

    async with _browser() as http:
        token = await _token(http, served)
        for _ in range(3):
            await _submit(http, served, csrf_token=token)
        served.app[CLOCK].advance(hours=1, seconds=1)  # type: ignore[attr-defined]
        status, _ = await _submit(http, served, csrf_token=token)
    assert status == 201
