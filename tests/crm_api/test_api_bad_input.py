"""Bad input never gives a 500: garbage JSON, wrong types, huge ids, unknown ids, bad values."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.storage.engine import Database
from tests import factories
from tests.crm_api.conftest import People

HUGE = "99999999999999999999999"

GARBAGE_BODIES = [
    pytest.param(b"{not json", id="garbage-json"),
    pytest.param(b"", id="empty"),
    pytest.param(b"[1, 2, 3]", id="array"),
    pytest.param(b'"just a string"', id="string"),
    pytest.param(b"\xff\xfe\x00", id="not-utf8"),
    pytest.param(b'{"name": 12, "phones": "138"}', id="wrong-types"),
    pytest.param(b'{"name": "x", "phones": ["abc"]}', id="not-a-phone"),
    pytest.param(b'{"name": "x", "department_id": 99999999999999999999}', id="huge-department"),
    pytest.param(('{"name": "' + "张" * 300 + '"}').encode(), id="name-too-long"),
    pytest.param(b'{"name": "x", "surprise": 1}', id="unknown-field"),
    pytest.param(b'{"name": "x", "value_grade": "GOLD"}', id="unknown-grade"),
    pytest.param(b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", id="nested-too-deep"),
]


@pytest.mark.parametrize("path", ["/api/complaints", "/api/reports/runs",
                                  "/api/reports/supervision/versions", "/api/me/password"])
async def test_json_nested_too_deep_is_a_400_or_422_on_hand_written_routes(
        as_: Any, people: People, path: str) -> None:
    status, body = await as_("admin").call("POST", path, data=b"[" * 100_000 + b"]" * 100_000)
    assert status in (400, 422), body


@pytest.mark.parametrize("raw", GARBAGE_BODIES)
async def test_bad_customer_bodies_are_422_with_field_messages(as_: Any, people: People, raw: bytes) -> None:
    status, body = await as_("agent_a").call("POST", "/api/customers", data=raw)
    assert status == 422, body
    assert body["errors"] and all("field" in e and "message" in e for e in body["errors"])


@pytest.mark.parametrize("path", [
    f"/api/customers/{HUGE}", "/api/customers/0", "/api/customers/-1", "/api/customers/abc",
    "/api/customers/424242", "/api/customers/424242/card", f"/api/calls/{HUGE}", "/api/calls/424242",
    "/api/jobs/424242", f"/api/leads/{HUGE}", "/api/leads/424242",
    "/api/customers/by-phone/+8613800138999",
])
async def test_unknown_or_impossible_ids_are_404(as_: Any, people: People, path: str) -> None:
    status, body = await as_("admin").call("GET", path)
    assert status == 404, body


@pytest.mark.parametrize("query", [
    "limit=abc", "limit=100000", "offset=-5", f"offset={HUGE}", "q=" + "x" * 500,
])
async def test_bad_query_strings_are_422(as_: Any, people: People, query: str) -> None:
    status, body = await as_("agent_a").call("GET", "/api/customers?" + query)
    assert status == 422, body


@pytest.mark.parametrize("path,payload", [
    ("/api/leads", {"customer_id": 1, "need": "x", "demand_level": 4, "follow_up_staff_id": 1}),
    ("/api/leads", {"customer_id": 1, "need": "", "demand_level": 2, "follow_up_staff_id": 1}),
    ("/api/leads", {"customer_id": HUGE, "need": "x", "demand_level": 2, "follow_up_staff_id": 1}),
    ("/api/contacts", {"customer_id": 1, "kind": "telepathy"}),
    ("/api/contacts", {"customer_id": 1, "kind": "note", "at": "yesterday"}),
    ("/api/wrap-up", {"customer_id": 1, "disposition": "shrug"}),
    ("/api/wrap-up", {"customer_id": 1, "disposition": "resolved",
                      "latent_need": {"need": "x", "demand_level": 0, "follow_up_staff_id": 1}}),
    ("/api/customers/1/phones", {"phone": "not a number"}),
    ("/api/customers/1/phones", {"phone": 13800138000}),
    ("/api/jobs", {"reference": "J", "customer_id": 1, "completed_at": "2026-13-45"}),
])
async def test_invalid_values_are_422(
    as_: Any, people: People, db: Database, path: str, payload: dict[str, Any]
) -> None:
    await factories.customer(db, "张三", department_id=people.dept_a)
    status, body = await as_("agent_a").call("POST", path, json=payload)
    assert status == 422, body
    assert body["errors"], body


async def test_lead_for_an_unknown_follow_up_person_is_422(as_: Any, people: People, db: Database) -> None:
    c = await factories.customer(db, "张三", department_id=people.dept_a)
    status, body = await as_("agent_a").call("POST", "/api/leads", json={
        "customer_id": c.id, "need": "新空调", "demand_level": 2, "follow_up_staff_id": 424242})
    assert status == 422, body


async def test_contact_for_an_unknown_customer_is_404(as_: Any, people: People) -> None:
    status, body = await as_("agent_a").call("POST", "/api/contacts", json={"customer_id": 424242, "kind": "note"})
    assert status == 404, body


async def test_duplicate_job_reference_is_409(as_: Any, people: People, db: Database) -> None:
    c = await factories.customer(db, "张三", department_id=people.dept_a)
    await factories.job(db, c.id, "J-1")
    status, body = await as_("agent_a").call("POST", "/api/jobs", json={"reference": "J-1", "customer_id": c.id})
    assert status == 409, body


async def test_without_login_the_api_answers_401(served: Any, http: Any) -> None:
    async with http.get(served.base_url + "/api/customers") as resp:
        assert resp.status == 401


async def test_cookie_session_changes_need_the_csrf_token(served: Any, people: People, db: Database) -> None:
    import aiohttp

    from tests.browser.login import login_cookies

    await factories.staff(db, "agent-c", ["agent"], people.dept_a, with_password=True)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        csrf = await login_cookies(session, served.base_url, "agent-c")
        payload = {"name": "张三", "phones": []}
        async with session.post(served.base_url + "/api/customers", json=payload) as resp:
            assert resp.status == 403
        async with session.post(served.base_url + "/api/customers", json=payload,
                                headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 201


async def test_a_customers_calls_page_deeper_than_the_card_reads_is_422(
        as_: Any, people: People) -> None:
    """`/api/calls` reads offset + limit rows of the card before slicing: the offset is
    bounded, not a million rows of the unidentified-caller record read for one page."""
    from callcenter.web.api.schemas import MAX_CALL_OFFSET

    cid = 1  # the offset is refused before any lookup
    status, body = await as_("agent_a").call(
        "GET", f"/api/calls?customer_id={cid}&offset={MAX_CALL_OFFSET + 1}")
    assert status == 422, body
    status, body = await as_("agent_a").call("GET", f"/api/calls?customer_id={cid}&offset={MAX_CALL_OFFSET}")
    assert status in (200, 404), body
