"""The customer API over HTTP: creation, card, phones, department limits."""

from __future__ import annotations

from typing import Any

from callcenter.storage.engine import Database
from tests import factories
from tests.crm_api.conftest import People


async def test_agent_creates_a_customer_and_finds_them_by_a_national_number(as_: Any, people: People) -> None:
    api = as_("agent_a")
    status, created = await api.call("POST", "/api/customers", json={
        "name": "张三", "phones": ["138 0013 8000"], "department_id": people.dept_a})
    assert status == 201, created
    status, found = await api.call("GET", "/api/customers/by-phone/013800138000")
    assert status == 200 and found["customer_id"] == created["customer_id"]
    assert found["phones"][0]["e164"] == "+8613800138000"


async def test_card_shows_jobs_contacts_and_open_complaint_count(as_: Any, people: People, db: Database) -> None:
    c = await factories.customer(db, "张三", department_id=people.dept_a)
    await factories.job(db, c.id, "J-7")
    api = as_("agent_a")
    status, _ = await api.call("POST", "/api/contacts", json={
        "customer_id": c.id, "kind": "visit", "notes": "上门维修空调"})
    assert status == 201
    status, card = await api.call("GET", f"/api/customers/{c.id}/card")
    assert status == 200
    assert card["customer"]["name"] == "张三" and not card["unknown_caller"]
    assert [j["reference"] for j in card["jobs"]] == ["J-7"]
    assert card["contacts"][0]["notes"] == "上门维修空调"
    assert card["open_complaints"] == []


async def test_agent_cannot_read_another_departments_customer(as_: Any, people: People, db: Database) -> None:
    c = await factories.customer(db, "张三", department_id=people.dept_b)
    for path in (f"/api/customers/{c.id}", f"/api/customers/{c.id}/card",
                 "/api/customers/by-phone/+8613800138000", f"/api/calls?customer_id={c.id}"):
        status, body = await as_("agent_a").call("GET", path)
        assert status == 403, (path, body)
    status, _ = await as_("agent_b").call("GET", f"/api/customers/{c.id}/card")
    assert status == 200


async def test_search_leaves_out_other_departments(as_: Any, people: People, db: Database) -> None:
    await factories.customer(db, "张三", phones=("+8613800138000",), department_id=people.dept_a)
    await factories.customer(db, "张四", phones=("+8613800138001",), department_id=people.dept_b)
    status, mine = await as_("agent_a").call("GET", "/api/customers?q=张")
    assert status == 200 and [c["name"] for c in mine] == ["张三"]
    status, everyone = await as_("supervisor").call("GET", "/api/customers?q=张")
    assert {c["name"] for c in everyone} == {"张三", "张四"}


async def test_supervisor_reads_but_cannot_change_customers(as_: Any, people: People, db: Database) -> None:
    c = await factories.customer(db, "张三", department_id=people.dept_a)
    status, _ = await as_("supervisor").call("GET", f"/api/customers/{c.id}/card")
    assert status == 200
    status, _ = await as_("supervisor").call("PATCH", f"/api/customers/{c.id}", json={"name": "x"})
    assert status == 403


async def test_linking_an_unknown_callers_number_moves_their_calls(as_: Any, people: People, db: Database) -> None:
    real = await factories.customer(db, "张三", department_id=people.dept_a)
    unknown = await factories.customer(db, "", phones=("+8613900139000",), verified=False)
    status, merged = await as_("agent_a").call(
        "POST", f"/api/customers/{real.id}/phones", json={"phone": "139 0013 9000"})
    assert status == 200, merged
    assert {p["e164"] for p in merged["phones"]} == {"+8613800138000", "+8613900139000"}
    status, _ = await as_("agent_a").call("GET", f"/api/customers/{unknown.id}")
    assert status == 404


async def test_openapi_document_lists_every_resource(served: Any, http: Any) -> None:
    async with http.get(served.base_url + "/api/openapi.json") as resp:
        doc = await resp.json()
    assert doc["openapi"].startswith("3.")
    for path in ("/api/customers", "/api/customers/{customer_id}/phones", "/api/contacts",
                 "/api/calls/{call_id}", "/api/jobs", "/api/leads", "/api/wrap-up"):
        assert path in doc["paths"], path
    body = doc["paths"]["/api/customers"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/CustomerCreate")
    assert "CustomerCreate" in doc["components"]["schemas"]
