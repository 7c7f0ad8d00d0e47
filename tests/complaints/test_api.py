"""The complaints API on a real port: roles, departments, 404 / 409 / 422, major first."""

from __future__ import annotations

from typing import Any

import aiohttp

from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from tests import factories
from tests.complaints.helpers import bearer, org
from tests.conftest import Served


async def _call(
    method: str, url: str, headers: dict[str, str], body: Any = None, raw: str | None = None
) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        kwargs: dict[str, Any] = {"headers": headers}
        if raw is not None:
            kwargs["data"] = raw
            kwargs["headers"] = {**headers, "Content-Type": "application/json"}
        elif body is not None:
            kwargs["json"] = body
        async with http.request(method, url, **kwargs) as resp:
            data = await resp.json() if resp.content_type == "application/json" else await resp.text()
            return resp.status, data


async def test_the_loop_through_the_api(served: Served, db: Database, clock: FixedClock) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    agent, manager = await bearer(db, people.agent), await bearer(db, people.service_manager)
    callback_staff = await factories.staff(db, "cb-wang", ["callback_staff"])
    caller = await bearer(db, callback_staff)
    api = served.base_url + "/api/complaints"
    status, opened = await _call("POST", api, agent, {
        "customer_id": customer.id, "category": "repair_quality", "description": "修了三次还是坏",
    })
    assert status == 201 and opened["ticket"].isdigit()
    one = f"{api}/{opened['complaint_id']}"
    assert (await _call("POST", one + "/assign", manager, {"owner_id": people.agent.id}))[0] == 200
    assert (await _call("POST", one + "/start", agent, {}))[0] == 200
    status, resolved = await _call("POST", one + "/resolve", agent, {"resolution": "换了主板"})
    assert status == 200 and resolved["state"] == "resolved"
    status, reopened = await _call("POST", one + "/verdict", caller, {"verdict": "dissatisfied"})
    assert status == 200 and reopened["state"] == "reopened" and "reopened" in reopened["major_reasons"]
    await _call("POST", one + "/start", agent, {})
    await _call("POST", one + "/resolve", agent, {"resolution": "换了整机"})
    status, closed = await _call("POST", one + "/verdict", caller, {"verdict": "satisfied"})
    assert status == 200 and closed["state"] == "closed"
    status, body = await _call("GET", one, manager)
    actions = [h["action"] for h in body["history"] if h["action"] in {"open", "assign", "start", "resolve", "reopen", "close"}]
    assert actions == ["open", "assign", "assign", "start", "resolve", "reopen", "start", "resolve", "close"]


async def test_a_refused_transition_is_409_naming_the_allowed_actions(served: Served, db: Database) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    manager = await bearer(db, people.service_manager)
    api = served.base_url + "/api/complaints"
    _, opened = await _call("POST", api, manager, {"customer_id": customer.id, "category": "billing", "description": "多收费"})
    status, body = await _call("POST", f"{api}/{opened['complaint_id']}/resolve", manager, {"resolution": "退款"})
    assert status == 409
    assert "allowed now: assign, start" in body["error"]


async def test_an_unknown_complaint_is_404(served: Served, db: Database) -> None:
    people = await org(db)
    headers = await bearer(db, people.supervisor)
    assert (await _call("GET", served.base_url + "/api/complaints/4242", headers))[0] == 404
    assert (await _call("GET", served.base_url + "/api/complaints/abc", headers))[0] == 404


async def test_bad_input_is_422_never_500(served: Served, db: Database) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    agent = await bearer(db, people.agent)
    api = served.base_url + "/api/complaints"
    for body in (
        {"customer_id": customer.id, "category": "weather", "description": "x"},
        {"customer_id": customer.id, "category": "billing", "description": " "},
        {"customer_id": customer.id, "category": "billing", "description": "x", "compensation_claimed": "-1"},
        {"customer_id": customer.id, "category": "billing", "description": "x", "job_id": 777},
        {"category": "billing"},
    ):
        status, answer = await _call("POST", api, agent, body)
        assert status == 422, (body, answer)
    assert (await _call("POST", api, agent, raw="{not json"))[0] == 422
    assert (await _call("GET", api + "?view=everything", agent))[0] == 422
    status, _ = await _call("POST", api, agent, {"customer_id": 999999, "category": "billing", "description": "x"})
    assert status == 404


async def test_an_agent_of_another_department_cannot_read_the_complaint(served: Served, db: Database) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    opened = (await _call("POST", served.base_url + "/api/complaints", await bearer(db, people.agent), {
        "customer_id": customer.id, "category": "attitude", "description": "态度恶劣"}))[1]
    one = f"{served.base_url}/api/complaints/{opened['complaint_id']}"
    outsider = await bearer(db, people.other_agent)
    assert (await _call("GET", one, outsider))[0] == 403
    _, listed = await _call("GET", served.base_url + "/api/complaints?view=all", outsider)
    assert listed["complaints"] == []
    for reader in (people.agent, people.region_manager, people.supervisor):
        assert (await _call("GET", one, await bearer(db, reader)))[0] == 200


async def test_a_supervisor_reads_but_cannot_progress(served: Served, db: Database) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    opened = (await _call("POST", served.base_url + "/api/complaints", await bearer(db, people.agent), {
        "customer_id": customer.id, "category": "attitude", "description": "态度恶劣"}))[1]
    status, _ = await _call(
        "POST", f"{served.base_url}/api/complaints/{opened['complaint_id']}/start", await bearer(db, people.supervisor), {}
    )
    assert status == 403


async def test_major_complaints_come_first_in_every_list(served: Served, db: Database, clock: FixedClock) -> None:
    people = await org(db)
    plain = await factories.customer(db, department_id=people.service.id)
    vip = await factories.customer(db, "王局长", ("+8613900139000",), department_id=people.service.id, vip_official=True)
    agent = await bearer(db, people.agent)
    api = served.base_url + "/api/complaints"
    await _call("POST", api, agent, {"customer_id": plain.id, "category": "billing", "description": "first, ordinary"})
    clock.advance(hours=1)
    await _call("POST", api, agent, {"customer_id": plain.id, "category": "attitude", "description": "second, ordinary"})
    await _call("POST", api, agent, {"customer_id": vip.id, "category": "billing", "description": "last, but major"})
    clock.advance(days=4)
    manager = await bearer(db, people.service_manager)
    for view in ("state", "all", "overdue", "mine"):
        _, body = await _call("GET", f"{api}?view={view}", manager)
        listed = [c["description"] for c in body["complaints"]]
        assert listed == ["last, but major", "first, ordinary", "second, ordinary"], view
    _, major = await _call("GET", f"{api}?view=major", manager)
    assert [c["description"] for c in major["complaints"]] == ["last, but major"]


async def test_the_owner_is_told_through_the_api(served: Served, db: Database) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    _, opened = await _call("POST", served.base_url + "/api/complaints", await bearer(db, people.agent), {
        "customer_id": customer.id, "category": "timeliness", "description": "等了一周"})
    _, body = await _call("GET", served.base_url + "/api/complaints/notifications", await bearer(db, people.service_manager))
    assert [(n["kind"], n["ticket"]) for n in body["notifications"]] == [("complaint_assigned", opened["ticket"])]


async def test_the_managers_page_lists_the_views(served: Served, db: Database) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id, vip_journalist=True)
    _, opened = await _call("POST", served.base_url + "/api/complaints", await bearer(db, people.agent), {
        "customer_id": customer.id, "category": "attitude", "description": "态度 <b>恶劣</b>"})
    status, page = await _call("GET", served.base_url + "/complaints?view=major", await bearer(db, people.service_manager))
    assert status == 200
    assert opened["ticket"] in page and "vip_journalist" in page
    assert "&lt;b&gt;" in page and "<b>恶劣" not in page
