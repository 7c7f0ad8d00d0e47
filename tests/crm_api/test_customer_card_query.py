"""The card, read in one statement, keeps each list newest first, limited and the customer's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.storage.engine import Database
from callcenter.storage.uow import SqlUnitOfWork
from crm.services.customers import customer_card
from tests import factories

MAY = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


async def test_card_lists_the_newest_jobs_first_up_to_the_history_limit(db: Database) -> None:
    wang = await factories.customer(db, "王五", phones=("+8613900000001",))
    other = await factories.customer(db, "赵六", phones=("+8613900000002",))
    for day in (3, 1, 4, 2):
        await factories.job(db, wang.id, f"W-{day}", completed_at=MAY + timedelta(days=day))
    await factories.job(db, other.id, "Z-9", completed_at=MAY + timedelta(days=9))

    card = await customer_card(wang.id, SqlUnitOfWork(db), history_limit=3)

    assert [j.reference for j in card.jobs] == ["W-4", "W-3", "W-2"]
    assert card.jobs[0].completed_at == MAY + timedelta(days=4)
    assert (card.complaints, card.surveys, card.contacts, card.calls, card.leads) == ([], [], [], [], [])
