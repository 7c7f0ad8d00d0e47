"""A supervisor in a real browser: the month's versions with their diff, and publishing a draft."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.reporting import publication
from callcenter.storage.engine import Database
from callcenter.storage.tables import Survey
from reports.periods import Month
from tests import factories
from tests.conftest import Served
from tests.factories import PASSWORD
from tests.reports.helpers import local, raw_surveys, shop

pytestmark = pytest.mark.browser


async def test_a_supervisor_reads_the_diff_of_a_correction_and_publishes_it(
    served: Served, db: Database, browser: Any
) -> None:
    s = await shop(db)
    await raw_surveys(db, s, "AAA", local("2026-05-10 09:00"), 2)
    inspector = await factories.staff(db, "inspector", ["supervisor"], None, with_password=True)
    await publication.publish(db, served.settings, Month(2026, 5), s.supervisor_identity,
                              local("2026-06-05 08:00"))
    await factories.add(db, Survey(
        department_id=s.department_id, staff_id=s.technician.id, surveyed_at=local("2026-05-29 09:00"),
        source="ivr", verification="first_hand", complete=True, timeliness="E", quality="E",
        attitude="E"))
    await publication.correct_published_months(db, served.settings, local("2026-06-06 08:00"), "loop")

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(served.base_url + "/login?next=/supervisor/versions%3Fmonth%3D2026-05")
    await page.fill('input[name="username"]', inspector.username)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_selector("#v2")
    assert await page.inner_text("#v2 h3") == "Version 2 · draft"
    assert "correction: 1 late survey" in await page.inner_text("#v2")
    average = page.locator("#v2 table.figures tr", has_text="average").first
    assert (await average.inner_text()).split("\t")[-2:] == ["6", "2"]
    await page.click("text=Publish version 2")
    await page.wait_for_selector("text=published version 2")
    assert await page.inner_text("#v1 h3") == "Version 1 · superseded"
    assert await page.inner_text("#v2 h3") == "Version 2 · published"
