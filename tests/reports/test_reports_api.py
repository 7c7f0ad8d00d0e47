"""`/api/reports/...` and `/supervisor` on the real app: who may see and do what (001)."""

from __future__ import annotations

import aiohttp

from callcenter.storage.engine import Database
from tests import factories
from tests.conftest import Served

from .helpers import bearer, local, raw_surveys, shop, verified_survey


async def _get(served: Served, path: str, headers: dict[str, str]) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as http:
        response = await http.get(served.base_url + path, headers=headers, allow_redirects=False)
        await response.read()
        return response


async def test_an_agent_may_not_see_the_supervision_score(served: Served, db: Database) -> None:
    s = await shop(db)
    agent = await factories.staff(db, "agent-wu", ["agent"], s.department_id)
    response = await _get(served, "/api/reports/supervision?month=2026-05", await bearer(db, agent))
    assert response.status == 403


async def test_a_supervisor_reads_the_score_as_json_and_as_a_spreadsheet(served: Served, db: Database) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAC", local("2026-05-10 09:00"), 2)
    headers = await bearer(db, s.supervisor)
    async with aiohttp.ClientSession() as http:
        async with http.get(served.base_url + "/api/reports/supervision?month=2026-05",
                            headers=headers) as response:
            assert response.status == 200
            body = await response.json()
        async with http.get(served.base_url + "/api/reports/supervision?month=2026-05&format=xlsx",
                            headers=headers) as response:
            assert response.status == 200
            assert (await response.read())[:2] == b"PK"
    assert body["supervision"]["departments"][0]["satisfaction"]["average"] == "4"


async def test_a_technician_reads_only_their_own_figures(served: Served, db: Database) -> None:
    s = await shop(db)
    colleague = await factories.staff(db, "tech-2", ["technician"], s.department_id)
    await raw_surveys(db, s, "ABC", local("2026-05-10 09:00"), 2)
    headers = await bearer(db, s.technician)
    async with aiohttp.ClientSession() as http:
        async with http.get(served.base_url + "/api/reports/supervision/me?month=2026-05",
                            headers=headers) as response:
            assert response.status == 200
            mine = await response.json()
        async with http.get(served.base_url + "/api/reports/supervision?month=2026-05",
                            headers=headers) as response:
            assert response.status == 403
        async with http.post(served.base_url + "/api/reports/surveys/1/verify",
                             json={"confirmed": True}, headers=headers) as response:
            assert response.status == 403
    assert mine["figures"]["staff_id"] == s.technician.id and mine["figures"]["points"] == 6
    assert colleague.id not in [mine["figures"]["staff_id"]]
    assert "staff" not in mine["department"]


async def test_a_supervisor_verifies_a_pending_survey_and_it_then_counts(served: Served, db: Database) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 1, verification="pending",
                      source="paper")
    headers = await bearer(db, s.supervisor)
    async with aiohttp.ClientSession() as http:
        async with http.get(served.base_url + "/api/reports/surveys/pending?month=2026-05",
                            headers=headers) as response:
            (pending,) = (await response.json())["surveys"]
        async with http.post(served.base_url + f"/api/reports/surveys/{pending['survey_id']}/verify",
                             json={"confirmed": True, "note": "phoned the customer"},
                             headers=headers) as response:
            assert response.status == 200
        async with http.get(served.base_url + "/api/reports/supervision?month=2026-05",
                            headers=headers) as response:
            body = await response.json()
    assert body["supervision"]["departments"][0]["satisfaction"]["surveys"]["verified"] == 1


async def test_the_supervisor_page_shows_the_charts_and_the_verification_list(
    served: Served, db: Database
) -> None:
    s = await shop(db)
    await verified_survey(db, s, "ABA", local("2026-05-03 10:00"))
    await raw_surveys(db, s, "BBB", local("2026-05-04 10:00"), 1, verification="pending",
                      source="agent")
    response_text = ""
    async with aiohttp.ClientSession() as http:
        async with http.get(served.base_url + "/supervisor?month=2026-05",
                            headers=await bearer(db, s.supervisor)) as response:
            assert response.status == 200
            response_text = await response.text()
    assert '<figure id="chart-trend"><svg' in response_text
    assert '<figure id="chart-complaints"><svg' in response_text
    assert 'type="month" name="month" value="2026-05"' in response_text
    assert "Verify" in response_text and "Dispute" in response_text


async def test_a_manager_reads_the_weekly_report_but_not_the_supervision_score(
    served: Served, db: Database
) -> None:
    s = await shop(db)
    manager = await factories.staff(db, "head", ["manager"], s.department_id)
    headers = await bearer(db, manager)
    weekly = await _get(served, "/api/reports/weekly?period=2026-W20", headers)
    score = await _get(served, "/api/reports/supervision?month=2026-05", headers)
    bad = await _get(served, "/api/reports/weekly?period=2026-20", headers)
    assert (weekly.status, score.status, bad.status) == (200, 403, 422)
