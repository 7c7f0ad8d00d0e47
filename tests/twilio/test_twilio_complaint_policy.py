"""Probe: a complaint filed on the IVR follows the site's complaint settings like every other
channel (routing by category, the default department, time limits).

The hotline's complaint effect opened complaints with the built-in policy: the settings'
COMPLAINT_CATEGORY_DEPARTMENTS, COMPLAINT_DEFAULT_DEPARTMENT and time limits were ignored
on the IVR (an unknown caller's complaint went to no department, so it counted for nobody).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.demo.simulated_twilio import Speak
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Complaint
from tests import factories
from tests.twilio.conftest import STRANGER, Hotline, NewCaller


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "complaint_category_departments": "attitude=QA",
        "complaint_default_department": "CC",
        "complaint_ordinary_resolve_hours": 30,
    })


async def _departments(db: Database) -> dict[str, int]:
    found = {}
    for code in ("QA", "CC"):
        dep, _ = await factories.headed_department(db, code)
        found[code] = dep.id
    return found


async def test_an_ivr_complaint_is_routed_and_timed_by_the_settings(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    departments = await _departments(db)
    await caller().call(["1", "2", Speak(20), "2"])  # attitude
    await caller(from_number=STRANGER).call(["1", "5", Speak(8), "2"])  # other, unknown caller
    async with db.sessions() as session:
        rows = (await session.scalars(select(Complaint).order_by(Complaint.id))).all()
    assert [r.category for r in rows] == ["attitude", "other"]
    assert rows[0].department_id == departments["QA"]
    assert rows[0].resolve_due_at - rows[0].opened_at == timedelta(hours=30)
    assert rows[1].department_id == departments["CC"]
