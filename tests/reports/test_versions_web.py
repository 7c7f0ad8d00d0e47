"""Report versions on the real app: publish, rerun, the versions page with its diff, who may."""

from __future__ import annotations

from typing import Any

import aiohttp
from sqlalchemy import func, select

from callcenter.storage.engine import Database
from callcenter.storage.tables import ReportVersion, Survey
from tests import factories
from tests.browser.login import login_cookies
from tests.conftest import Served

from .helpers import bearer, local, raw_surveys, shop


async def _post(served: Served, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.post(served.base_url + path, json=body, headers=headers) as response:
            return response.status, await response.json()


async def _count(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ReportVersion)) or 0)


async def test_a_supervisor_publishes_then_a_late_survey_shows_as_a_draft_with_its_diff(
    served: Served, db: Database
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 2)
    headers = await bearer(db, s.supervisor)
    status, body = await _post(served, "/api/reports/supervision/publish", {"month": "2026-05"}, headers)
    assert (status, body["version"], body["published_by"]) == (200, 1, f"staff:{s.supervisor.id}")
    (late,) = await factories.add(db, Survey(
        department_id=s.department_id, staff_id=s.technician.id, surveyed_at=local("2026-05-29 09:00"),
        source="ivr", verification="first_hand", complete=True, timeliness="E", quality="E",
        attitude="E"))
    status, body = await _post(served, "/api/reports/supervision/versions", {"month": "2026-05"}, headers)
    assert (status, body["version"], body["new"]) == (201, 2, True)
    async with aiohttp.ClientSession() as http:
        async with http.get(served.base_url + "/supervisor/versions?month=2026-05",
                            headers=headers) as response:
            assert response.status == 200
            page = await response.text()
        async with http.get(served.base_url + "/api/reports/supervision/versions?month=2026-05",
                            headers=headers) as response:
            listing = await response.json()
    assert "Version 2" in page and 'class="draft"' in page and 'class="published"' in page
    assert "late survey" in page and f"<td>{late.id}</td>" in page
    assert "<td>average</td><td>6</td><td>2</td>" in page
    assert "Publish version 2" in page
    assert listing["published"] == 1
    assert [v["status"] for v in listing["versions"]] == ["published", "draft"]


async def test_staff_of_a_scored_department_may_not_publish_or_rerun(served: Served, db: Database) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 2)
    for roles in (["manager"], ["callback_staff"], ["agent"], ["technician"]):
        person = await factories.staff(db, f"p-{roles[0]}", roles, s.department_id)
        headers = await bearer(db, person)
        for path in ("/api/reports/supervision/publish", "/api/reports/supervision/versions"):
            status, _ = await _post(served, path, {"month": "2026-05"}, headers)
            assert status == 403, (roles, path)
    assert await _count(db) == 0


async def test_bad_publish_requests_get_a_clear_error_and_change_nothing(
    served: Served, db: Database
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 1)
    headers = await bearer(db, s.supervisor)
    for body in ({"month": "2026-13"}, {"month": "May"}, {}, {"month": "2026-05", "version": "x"},
                 {"month": "2026-05", "version": 0}, ["2026-05"]):
        status, answer = await _post(served, "/api/reports/supervision/publish", body, headers)
        assert status == 422, (body, answer)
    assert await _count(db) == 0
    status, answer = await _post(served, "/api/reports/supervision/publish",
                                 {"month": "2026-05", "version": 3}, headers)
    assert status == 409 and "latest" in answer["error"]
    assert await _count(db) == 0


async def test_the_versions_page_publishes_a_draft_from_its_button(served: Served, db: Database) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAB", local("2026-05-10 09:00"), 2)
    inspector = await factories.staff(db, "inspector", ["supervisor"], None, with_password=True)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        csrf = await login_cookies(http, served.base_url, inspector.username)
        form = {"csrf_token": csrf, "month": "2026-05"}
        async with http.post(served.base_url + "/supervisor/versions/rerun", data=form,
                             allow_redirects=False) as response:
            assert response.status == 303
        async with http.post(served.base_url + "/supervisor/versions/publish",
                             data={**form, "version": "1"}, allow_redirects=False) as response:
            assert response.status == 303
        async with http.get(served.base_url + "/supervisor/versions?month=2026-05") as response:
            page = await response.text()
    assert "published version 1" in page and f"by staff:{inspector.id}" in page


async def test_the_published_version_downloads_as_it_was_published(served: Served, db: Database) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 2)
    headers = await bearer(db, s.supervisor)
    await _post(served, "/api/reports/supervision/publish", {"month": "2026-05"}, headers)
    await raw_surveys(db, s, "EEE", local("2026-05-11 09:00"), 2)
    await _post(served, "/api/reports/supervision/versions", {"month": "2026-05"}, headers)
    base = served.base_url + "/api/reports/supervision/versions"
    manager = await factories.staff(db, "boss", ["manager"], s.department_id)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/1?month=2026-05", headers=headers) as response:
            first = await response.json()
        async with http.get(f"{base}/2?month=2026-05", headers=headers) as response:
            second = await response.json()
        async with http.get(f"{base}/1?month=2026-05&format=xlsx", headers=headers) as response:
            assert response.status == 200 and (await response.read())[:2] == b"PK"
        async with http.get(f"{base}/3?month=2026-05", headers=headers) as response:
            assert response.status == 404
        async with http.get(f"{base}/1?month=2026-05&format=exe", headers=headers) as response:
            assert response.status == 422
        async with http.get(f"{base}/1?month=2026-05", headers=await bearer(db, manager)) as response:
            assert response.status == 403
    assert first["version"] == 1 and first["published_at"] is not None
    assert first["supervision"]["departments"][0]["satisfaction"]["average"] == "6"
    assert second["published_at"] is None
    assert second["supervision"]["departments"][0]["satisfaction"]["average"] == "0"


async def test_the_supervisor_page_of_a_published_month_says_the_published_version_counts(
    served: Served, db: Database
) -> None:
    """/supervisor shows live figures; for a published month it says the published version is
    what counts and lists where live differs (here a late all-E survey moved the average)."""
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 2)
    headers = await bearer(db, s.supervisor)
    async with aiohttp.ClientSession() as http:
        async with http.get(served.base_url + "/supervisor?month=2026-05", headers=headers) as response:
            before = await response.text()
    assert response.status == 200 and 'id="published-notice"' not in before
    status, _ = await _post(served, "/api/reports/supervision/publish", {"month": "2026-05"}, headers)
    assert status == 200
    async with aiohttp.ClientSession() as http:
        async with http.get(served.base_url + "/supervisor?month=2026-05", headers=headers) as response:
            same = await response.text()
    assert "published version is what counts" in same and "match the published version" in same
    await factories.add(db, Survey(
        department_id=s.department_id, staff_id=s.technician.id, surveyed_at=local("2026-05-29 09:00"),
        source="ivr", verification="first_hand", complete=True, timeliness="E", quality="E",
        attitude="E"))
    async with aiohttp.ClientSession() as http:
        async with http.get(served.base_url + "/supervisor?month=2026-05", headers=headers) as response:
            page = await response.text()
    notice = page[page.index('id="published-notice"'):page.index('<div class="card">', page.index(
        'id="published-notice"'))]
    assert "Published: version 1" in notice and "published version is what counts" in notice
    assert "<td>SVC-N</td><td>average</td><td>6</td><td>2</td>" in notice
    assert 'href="/supervisor/versions?month=2026-05"' in notice
