"""The screen-pop card follows the department rule: the hotline gets every caller's full card.

Real WebSockets on a real port, both engines. The call centre (CC, the default
`HOTLINE_DEPARTMENTS`) answers the hotline for every service department, so its
agent gets the full card of a service team's customer; a manager gets the full
card of a customer of a team below their department; another department's
manager gets the name only (`restricted`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp

from callcenter.screenpop import CallOffer, offer_call
from callcenter.storage.engine import Database
from tests import factories
from tests.access.people import Org, org
from tests.conftest import Served
from tests.crm_api.test_screenpop import next_of, socket

AT = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)
CALLER = "+8613800138000"


async def pop_for(served: Served, people: Org, who: str, http: aiohttp.ClientSession,
                  call_id: str) -> dict[str, Any]:
    ws = await socket(http, served.base_url, people.people[who].token)
    try:
        await offer_call(served.app, CallOffer("twilio", call_id, CALLER, f"client:{people.people[who].username}",
                                               "hotline-agents", "main>repair", AT))
        return await next_of(ws, "offer")
    finally:
        await ws.close()


async def test_the_hotline_agent_gets_the_full_card_of_a_service_teams_customer(
    served: Served, db: Database, http: aiohttp.ClientSession,
) -> None:
    people = await org(db)
    await factories.customer(db, "张三", phones=(CALLER,), department_id=people.departments["SVC-N"])
    pop = await pop_for(served, people, "agent", http, "CA-hotline")
    assert pop["restricted"] is False
    assert pop["card"]["customer"]["name"] == "张三"


async def test_a_manager_gets_the_full_card_of_a_customer_of_a_team_below_them(
    served: Served, db: Database, http: aiohttp.ClientSession,
) -> None:
    people = await org(db)
    await factories.customer(db, "张三", phones=(CALLER,), department_id=people.departments["SVC-N"])
    pop = await pop_for(served, people, "scored_manager", http, "CA-below")
    assert pop["restricted"] is False and pop["card"]["customer"]["name"] == "张三"


async def test_another_departments_manager_gets_the_callers_name_only(
    served: Served, db: Database, http: aiohttp.ClientSession,
) -> None:
    people = await org(db)
    await factories.customer(db, "张三", phones=(CALLER,), department_id=people.departments["SVC-N"])
    pop = await pop_for(served, people, "other_manager", http, "CA-other")
    assert pop["restricted"] is True and pop["card"] is None
    assert pop["customer_name"] == "张三"
