"""The supervisor page and API list the surveys that do not count as they stand, with the reason.

Both engines, the real app on a port; surveys stored through the use cases.
"""

from __future__ import annotations

import html
from datetime import timedelta

import aiohttp

from callcenter.storage.engine import Database
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import SurveySource
from crm.services import surveys
from tests import factories
from tests.conftest import Served

from .helpers import bearer, grades, local, shop

STRANGER = "+8613911112222"


async def _month_of_surveys(db: Database):  # type: ignore[no-untyped-def]
    s = await shop(db)
    serviced = local("2026-05-10 09:00")
    three_way = await factories.job(db, s.customer_id, "J-3WAY", technician_id=s.technician.id,
                                    department_id=s.department_id, completed_at=serviced)
    keyed = await factories.job(db, s.customer_id, "J-KEYED", technician_id=s.technician.id,
                                department_id=s.department_id, completed_at=serviced)
    saved = {}
    for name, job, source, number, hours in (
            ("ivr", three_way.id, SurveySource.IVR, s.customer_phone, 2),
            ("callback", three_way.id, SurveySource.CALLBACK, s.customer_phone, 50),
            ("paper", three_way.id, SurveySource.PAPER, None, 60),
            ("stranger", keyed.id, SurveySource.IVR, STRANGER, 3)):
        saved[name] = await surveys.save_survey(surveys.SaveSurvey(
            job, source, grades("ABA"), serviced + timedelta(hours=hours), number=number),
            SqlUnitOfWork(db))
    return s, saved


async def test_the_api_lists_pending_and_superseded_surveys_with_their_reasons(
        served: Served, db: Database) -> None:
    s, saved = await _month_of_surveys(db)
    async with aiohttp.ClientSession() as http:
        async with http.get(served.base_url + "/api/reports/surveys/pending?month=2026-05",
                            headers=await bearer(db, s.supervisor)) as response:
            assert response.status == 200
            body = await response.json()
    (pending,) = body["surveys"]
    assert pending["survey_id"] == saved["stranger"].id and pending["job"] == "J-KEYED"
    assert pending["reason"] == (
        "IVR survey keyed for job J-KEYED from +86139****2222, which is not a number on "
        "that job's customer record")
    superseded = {row["survey_id"]: row for row in body["superseded"]}
    assert sorted(superseded) == sorted([saved["ivr"].id, saved["paper"].id])
    callback = saved["callback"].id
    assert superseded[saved["ivr"].id]["reason"].startswith(
        f"superseded by survey {callback} (callback, first_hand) of the same job")
    assert superseded[saved["paper"].id]["verification"] == "pending"


async def test_the_supervisor_page_shows_why_each_survey_is_left_out(
        served: Served, db: Database) -> None:
    s, saved = await _month_of_surveys(db)
    async with aiohttp.ClientSession() as http:
        async with http.get(served.base_url + "/supervisor?month=2026-05",
                            headers=await bearer(db, s.supervisor)) as response:
            assert response.status == 200
            page = html.unescape(await response.text())
    assert "Surveys awaiting verification (1)" in page
    assert "Superseded surveys (2)" in page
    assert "from +86139****2222, which is not a number on that job's customer record" in page
    assert f"superseded by survey {saved['callback'].id} (callback, first_hand)" in page


async def test_the_score_leaves_out_exactly_the_surveys_the_page_lists(
        served: Served, db: Database) -> None:
    s, _ = await _month_of_surveys(db)
    async with aiohttp.ClientSession() as http:
        async with http.get(served.base_url + "/api/reports/supervision?month=2026-05",
                            headers=await bearer(db, s.supervisor)) as response:
            (department,) = (await response.json())["supervision"]["departments"]
    counts = department["satisfaction"]["surveys"]
    assert (counts["counted"], counts["excluded"]["pending_verification"]) == (1, 1)
    assert (counts["superseded"], counts["jobs_with_several_surveys"]) == (2, 1)
