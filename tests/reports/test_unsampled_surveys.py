"""A survey awaiting verification that was never drawn: counted or excluded by the stated rule."""

from __future__ import annotations

from datetime import UTC, datetime

from callcenter.clock import FixedClock
from callcenter.reporting import builders, publication
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Survey
from callcenter.storage.uow import SqlUnitOfWork
from crm.services.verification_samples import draw_verification_samples
from reports.periods import Month
from tests import factories

from .helpers import local, shop

MAY = Month(2026, 5)


async def _three_paper_forms_one_drawn(db: Database, settings: Settings) -> int:
    s = await shop(db)
    forms = [Survey(department_id=s.department_id, staff_id=s.technician.id,
                    surveyed_at=local(f"2026-05-1{i} 09:00"), created_at=local(f"2026-05-1{i} 09:00"),
                    source="paper", verification="pending", complete=True,
                    timeliness="A", quality="A", attitude="A") for i in range(1, 4)]
    await factories.add(db, *forms)
    june = FixedClock(datetime(2026, 6, 1, 2, 0, tzinfo=UTC))
    draws = await draw_verification_samples(SqlUnitOfWork(db), june, settings.timezone,
                                            percentage=0, minimum=1)
    assert sum(len(d.survey_ids) for d in draws) == 1
    return s.department_id


async def test_by_default_a_never_drawn_form_is_left_out_and_the_report_says_why(
    db: Database, settings: Settings
) -> None:
    department_id = await _three_paper_forms_one_drawn(db, settings)
    payload = await builders.supervision(db, settings, MAY)
    (dept,) = payload["supervision"]["departments"]
    assert dept["satisfaction"]["surveys"]["counted"] == 0
    assert payload["verification_sample"]["rule"] == "exclude"
    assert payload["verification_sample"]["departments"] == {
        str(department_id): {"drawn": 1, "never_drawn": 2}}


async def test_with_the_count_rule_never_drawn_forms_count_and_the_drawn_one_waits(
    db: Database, settings: Settings
) -> None:
    await _three_paper_forms_one_drawn(db, settings)
    counting = settings.model_copy(update={"survey_sample_unsampled": "count"})
    payload = await builders.supervision(db, counting, MAY)
    (dept,) = payload["supervision"]["departments"]
    assert dept["satisfaction"]["surveys"]["counted"] == 2
    assert dept["satisfaction"]["surveys"]["excluded"]["pending_verification"] == 1
    assert payload["verification_sample"]["rule"] == "count"


async def test_publishing_draws_the_months_last_week_before_freezing_the_figures(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    forms = [Survey(department_id=s.department_id, staff_id=s.technician.id,
                    surveyed_at=local(f"2026-05-2{i} 09:00"), created_at=local(f"2026-05-2{i} 09:00"),
                    source="paper", verification="pending", complete=True,
                    timeliness="A", quality="A", attitude="A") for i in range(5, 9)]
    await factories.add(db, *forms)
    counting = settings.model_copy(update={"survey_sample_unsampled": "count"})
    published = await publication.publish(db, counting, MAY, s.supervisor_identity,
                                          local("2026-06-05 08:00"))
    (dept,) = published.figures["supervision"]["departments"]
    assert dept["satisfaction"]["surveys"]["excluded"]["pending_verification"] == 3  # drawn: minimum 3
    assert dept["satisfaction"]["surveys"]["counted"] == 1
    assert published.figures["verification_sample"]["departments"] == {
        str(s.department_id): {"drawn": 3, "never_drawn": 1}}
