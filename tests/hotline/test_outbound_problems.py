"""An automated post-repair callback call (driver, both engines) that hears an E opens the
after-sales complaint and puts the customer on the day's problem list (seed 000 §3.2)."""

from __future__ import annotations

from callcenter.clock import FixedClock
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Callback, Complaint
from crm.services import callbacks as cbs
from tests import factories
from tests.complaints.helpers import set_department_manager
from tests.hotline.test_outbound import _answer, _dial, _one, _world


async def test_an_e_for_repair_quality_on_the_automated_call_opens_an_after_sales_complaint(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    w = await _world(db, settings, clock)
    after_sales = await factories.department(db, settings.callback_problem_department)
    head = await factories.staff(db, "aftersales-head", ["manager"], after_sales.id)
    await set_department_manager(db, after_sales, head)
    await cbs.schedule_post_repair(w.job_id, w.uow(), clock)
    req = await _dial(w)
    turns = await _answer(w, req, ["1", "5", "1", "1"])  # timeliness A, quality E, attitude A, confirm
    assert turns[-1].ended
    complaint = await _one(db, Complaint)
    assert complaint.channel == "callback" and complaint.owner_id == head.id
    assert complaint.category == "repair_quality" and complaint.job_id == w.job_id
    callback = await _one(db, Callback)
    assert (callback.disposition, callback.complaint_id) == ("problem", complaint.id)
