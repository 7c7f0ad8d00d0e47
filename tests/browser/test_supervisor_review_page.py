"""A supervisor in a real browser: why surveys are left out, and verifying a superseded form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from callcenter.storage.engine import Database
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import SurveySource
from crm.services import surveys
from tests import factories
from tests.conftest import Served
from tests.factories import PASSWORD
from tests.reports.helpers import grades, local, shop

pytestmark = pytest.mark.browser


async def test_a_supervisor_sees_why_surveys_are_left_out_and_a_verified_form_then_counts(
    served: Served, db: Database, browser: Any
) -> None:
    s = await shop(db)
    serviced = local("2026-05-10 09:00")
    job = await factories.job(db, s.customer_id, "J-TWICE", technician_id=s.technician.id,
                              department_id=s.department_id, completed_at=serviced)
    ivr = await surveys.save_survey(surveys.SaveSurvey(
        job.id, SurveySource.IVR, grades("CCC"), serviced + timedelta(hours=3),
        number=s.customer_phone), SqlUnitOfWork(db))
    paper = await surveys.save_survey(surveys.SaveSurvey(
        job.id, SurveySource.PAPER, grades("AAA"), serviced + timedelta(hours=5)),
        SqlUnitOfWork(db))
    inspector = await factories.staff(db, "inspector", ["supervisor"], None, with_password=True)

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(served.base_url + "/login?next=/supervisor%3Fmonth%3D2026-05")
    await page.fill('input[name="username"]', inspector.username)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_selector("#superseded")
    row = await page.inner_text(f"#superseded #survey-{paper.id}")
    assert f"superseded by survey {ivr.id} (ivr, first_hand) of the same job" in row
    assert "Nothing to verify this month." in await page.inner_text("#pending")

    # the supervisor phones the customer and verifies the form: it now stands for the job
    await page.click(f"#superseded #survey-{paper.id} >> text=Verify")
    await page.wait_for_selector(f"#superseded #survey-{ivr.id}")
    row = await page.inner_text(f"#superseded #survey-{ivr.id}")
    assert f"superseded by survey {paper.id} (verified, verified) of the same job" in row
