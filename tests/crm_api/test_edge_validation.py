"""Every input is checked at the edge: bad values are a 4xx with a message, never a 500.

Time zones, ids, dates, nulls in a PATCH, NUL characters, flow names and
sizes, on both engines; a value the database refuses (taken, or pointing
at nothing) is a 409/422 naming the column; after login we only ever
redirect to a path on our own site.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from callcenter.storage.engine import Database
from callcenter.web.edge import safe_next
from tests import factories
from tests.complaints.test_public_form import _browser, _submit, _token
from tests.conftest import Served
from tests.crm_api.conftest import People

TOO_BIG_ID = str(2**31)


@pytest.mark.parametrize("zone", ["../../etc/passwd", "/usr/share/zoneinfo/UTC", "localtime",
                                  "Mars/Olympus_Mons", "UTC+8", "asia/shanghai", ""])
async def test_a_customer_time_zone_must_be_an_iana_name(as_: Any, people: People, zone: str) -> None:
    status, body = await as_("agent_a").call("POST", "/api/customers", json={
        "name": "张三", "timezone": zone, "department_id": people.dept_a})
    assert status == 422, body
    assert any(e["field"] == "timezone" for e in body["errors"])


async def test_an_iana_time_zone_is_kept(as_: Any, people: People) -> None:
    status, body = await as_("agent_a").call("POST", "/api/customers", json={
        "name": "张三", "timezone": "America/New_York", "department_id": people.dept_a})
    assert status == 201 and body["timezone"] == "America/New_York"
    status, body = await as_("agent_a").call(
        "PATCH", f"/api/customers/{body['customer_id']}", json={"timezone": "Etc/../../x"})
    assert status == 422


@pytest.mark.parametrize("path", [
    f"/api/complaints/{TOO_BIG_ID}", "/api/complaints/%C2%B2", "/api/complaints/%D9%A1",
    f"/api/customers/{TOO_BIG_ID}", "/api/customers/%C2%B2", "/api/leads/%EF%BC%91",
    f"/api/reports/supervision/versions/{TOO_BIG_ID}?month=2026-05",
])
async def test_ids_outside_the_database_range_or_not_ascii_digits_are_404(
    as_: Any, people: People, path: str
) -> None:
    status, body = await as_("admin").call("GET", path)
    assert status in (404, 422), body


@pytest.mark.parametrize("who,path", [
    ("admin", f"/api/callbacks/{TOO_BIG_ID}/call"), ("admin", "/api/callbacks/%C2%B2/call"),
    ("supervisor", f"/api/reports/surveys/{TOO_BIG_ID}/verify"),
    ("admin", f"/api/complaints/notifications/{TOO_BIG_ID}/read")])
async def test_actions_on_impossible_ids_are_404(as_: Any, people: People, who: str, path: str) -> None:
    status, body = await as_(who).call("POST", path, json={"confirmed": True})
    assert status == 404, body


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00",
                                "1900-01-01T00:00:00+00:00", "2026-05-18T10:00:00"])
async def test_a_contact_time_outside_1970_2100_or_without_zone_is_422(
    as_: Any, people: People, db: Database, at: str
) -> None:
    customer = await factories.customer(db, "张三", department_id=people.dept_a)
    status, body = await as_("agent_a").call("POST", "/api/contacts", json={
        "customer_id": customer.id, "kind": "note", "at": at})
    assert status == 422, body
    assert any(e["field"] == "at" for e in body["errors"])


@pytest.mark.parametrize("path", [
    "/api/callbacks?day=9999-12-31", "/api/callbacks?day=0001-01-01",
    "/api/reports/supervision?month=0001-01", "/api/reports/supervision?month=9999-12",
    "/api/reports/daily?period=9999-12-31", "/api/reports/kpi?from=0001-01-01&to=0001-01-02",
    "/api/reports/weekly?period=9999-W52", "/api/reports/surveys/pending?month=0000-01",
    "/api/reports/verification-sample?month=0001-01",
])
async def test_report_and_list_dates_outside_1970_2100_are_422(
    as_: Any, people: People, path: str
) -> None:
    status, body = await as_("admin").call("GET", path)
    assert status == 422, body


async def test_patch_null_clears_an_optional_field_and_is_refused_for_a_required_one(
    as_: Any, people: People, db: Database
) -> None:
    customer = await factories.customer(db, "张三", department_id=people.dept_a, company="ACME")
    url = f"/api/customers/{customer.id}"
    for field in ("name", "timezone", "language", "value_grade", "do_not_call", "vip_official"):
        status, body = await as_("agent_a").call("PATCH", url, json={field: None})
        assert status == 422, (field, body)
        assert [e["field"] for e in body["errors"]] == [field]
    status, body = await as_("agent_a").call("PATCH", url, json={"company": None})
    assert status == 200 and body["company"] is None and body["name"] == "张三"


@pytest.mark.parametrize("method,path,payload", [
    ("GET", "/api/customers?q=%00", None),
    ("GET", "/api/customers?q=a%00b", None),
    ("GET", "/api/customers/by-phone/138%0000", None),
    ("POST", "/api/customers", '{"name": "a\\u0000b"}'),
    ("POST", "/api/customers", '{"name": "x", "address": "line\\u0000two"}'),
    ("POST", "/api/complaints/1/resolve", '{"resolution": "\\u0000"}'),
    ("POST", "/api/reports/runs", '{"kind": "daily", "period": "2026-05-18\\u0000"}'),
])
async def test_a_nul_character_anywhere_is_422(
    as_: Any, people: People, method: str, path: str, payload: str | None
) -> None:
    status, body = await as_("admin").call(method, path, data=payload)
    assert status == 422, body


async def test_a_campaign_list_with_a_nul_character_is_422(as_: Any, people: People) -> None:
    status, body = await as_("admin").call(
        "POST", "/api/campaigns?name=spring&flow=requested_callback",
        data="phone,name\n13800138000,a\x00b\n", headers={"Content-Type": "text/csv"})
    assert status == 422, body


async def test_a_nul_character_in_the_public_complaint_form_is_422(served: Served) -> None:
    async with _browser() as http:
        token = await _token(http, served)
        status, _ = await _submit(http, served, csrf_token=token, description="坏了\x00")
    assert status == 422


async def test_a_nul_character_in_a_login_name_is_refused_not_a_500(served: Served) -> None:
    async with _browser() as http:
        async with http.get(served.base_url + "/login") as resp:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
        assert token
        async with http.post(served.base_url + "/login", allow_redirects=False, data={
                "csrf_token": token.group(1), "username": "admin\x00", "password": "x"}) as resp:
            assert resp.status == 422


@pytest.mark.parametrize("flow", ["campaign", "hotline", "nonexistent", "../x", ""])
async def test_a_campaign_must_name_an_outbound_ivr_flow(as_: Any, people: People, flow: str) -> None:
    status, body = await as_("admin").call(
        "POST", f"/api/campaigns?name=spring&flow={flow}", data="phone\n13800138000\n",
        headers={"Content-Type": "text/csv"})
    assert status == 422, body
    assert any(e["field"] == "flow" for e in body["errors"])


async def test_a_campaign_with_a_known_flow_is_accepted(as_: Any, people: People) -> None:
    status, body = await as_("admin").call(
        "POST", "/api/campaigns?name=spring&flow=post_repair_survey", data="phone\n13800138000\n",
        headers={"Content-Type": "text/csv"})
    assert status == 201, body


@pytest.mark.parametrize("who,path,payload", [
    ("admin", "/api/complaints", {"customer_id": 1, "category": "repair_quality", "description": "x" * 5001}),
    ("supervisor", "/api/reports/runs", {"kind": "daily", "period": "x" * 41}),
    ("supervisor", "/api/reports/runs", {"kind": "supervision", "period": "2026-05",
                                         "department": "d" * 41}),
    ("supervisor", "/api/reports/surveys/1/verify", {"confirmed": True, "note": "n" * 2001}),
    ("admin", "/api/callbacks/1/complete", {"disposition": "d" * 41}),
    ("admin", "/api/me/password", {"current_password": "x", "new_password": "p" * 2000}),
])
async def test_fields_over_their_length_are_422(
    as_: Any, people: People, who: str, path: str, payload: dict[str, Any]
) -> None:
    status, body = await as_(who).call("POST", path, json=payload)
    assert status == 422, body


async def test_a_body_over_the_limit_is_413(as_: Any, people: People, served: Served) -> None:
    limit = served.settings.http_max_body_bytes
    status, _ = await as_("admin").call("POST", "/api/customers", data="x" * (limit + 1))
    assert status == 413


async def test_a_taken_reference_is_409_with_a_message(as_: Any, people: People) -> None:
    first, _ = await as_("agent_a").call("POST", "/api/customers", json={
        "name": "张三", "reference": "CUST-1", "department_id": people.dept_a})
    status, body = await as_("agent_a").call("POST", "/api/customers", json={
        "name": "李四", "reference": "CUST-1", "department_id": people.dept_a})
    assert (first, status) == (201, 409), body
    assert "already belongs" in body["error"]


async def test_a_department_that_does_not_exist_is_422_naming_the_column(
    as_: Any, people: People, db: Database
) -> None:
    status, body = await as_("admin").call("POST", "/api/customers", json={
        "name": "张三", "department_id": 424242})
    assert status == 422, body
    assert body["kind"] == "foreign_key" and "does not exist" in body["error"], body
    customer = await factories.customer(db, "李四", department_id=people.dept_a)
    status, body = await as_("admin").call("PATCH", f"/api/customers/{customer.id}",
                                           json={"department_id": 424242})
    assert status == 422 and body["kind"] == "foreign_key", body


async def test_a_campaign_name_used_twice_is_a_4xx_not_a_500(as_: Any, people: People) -> None:
    statuses = []
    for _ in range(2):
        status, body = await as_("admin").call(
            "POST", "/api/campaigns?name=spring&flow=post_repair_survey",
            data="phone\n13800138000\n", headers={"Content-Type": "text/csv"})
        statuses.append(status)
    assert statuses[0] == 201 and statuses[1] < 500, body


@pytest.mark.parametrize("target", [
    "//evil.example/x", "/\\evil.example", "/\\/evil.example", "/\t/evil.example",
    "https://evil.example", "javascript:alert(1)", "/ /evil", "\\\\evil",
    "/\x00/evil", "evil.example",
])
def test_after_login_we_never_redirect_off_site(target: str) -> None:
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", ["/", "/agent", "/supervisor?month=2026-05", "/complaints#open"])
def test_after_login_our_own_paths_are_kept(target: str) -> None:
    assert safe_next(target) == target


async def test_the_login_form_redirects_an_off_site_next_home(served: Served, db: Database) -> None:
    await factories.staff(db, "agent-wu", ["agent"], with_password=True)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(served.base_url + "/login?next=//evil.example") as resp:
            page = await resp.text()
        assert "evil" not in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        async with http.post(served.base_url + "/login", allow_redirects=False, data={
                "csrf_token": token.group(1), "username": "agent-wu",
                "password": factories.PASSWORD, "next": "/\\evil.example"}) as resp:
            assert resp.status == 302 and resp.headers["Location"] == "/"


@pytest.mark.parametrize("phone", ["1" * 64, "+999999999999999", "+", "()", "abc", "12345"])
async def test_a_phone_that_is_not_a_dialable_number_is_422(
    as_: Any, people: People, db: Database, phone: str
) -> None:
    customer = await factories.customer(db, "张三", department_id=people.dept_a)
    status, body = await as_("agent_a").call("POST", f"/api/customers/{customer.id}/phones",
                                             json={"phone": phone})
    assert status == 422, (phone, body)
    status, body = await as_("agent_a").call("GET", "/api/customers/by-phone/" + "9" * 300)
    assert status in (404, 422), body


@pytest.mark.parametrize("phone", ["138\u200b0013\u200b8000", "+86 139 0013 8000 ext. 12",
                                   "\u0661\u0663\u0667\u0660\u0660\u0661\u0663\u0668\u0660\u0660\u0660"])
async def test_a_readable_number_is_stored_as_e164(
    as_: Any, people: People, db: Database, phone: str
) -> None:
    customer = await factories.customer(db, "张三", department_id=people.dept_a)
    status, body = await as_("agent_a").call("POST", f"/api/customers/{customer.id}/phones",
                                             json={"phone": phone})
    assert status == 200, body
    assert all(p["e164"].startswith("+861") and p["e164"][1:].isdigit() for p in body["phones"])
