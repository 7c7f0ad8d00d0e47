"""The wallboard: who may see it, that it moves live, and that today's figures are the report's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import aiohttp
import pytest

from callcenter.clock import FixedClock
from callcenter.reporting import builders
from callcenter.screenpop import service
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call
from crm.agent_states import AgentState
from tests import factories
from tests.conftest import Served
from tests.crm_api.conftest import Api, People, token_for


async def seed_today(db: Database, clock: FixedClock) -> None:
    """Today's calls of every kind (local day of the clock), and two callers waiting now."""
    now = clock()
    t = lambda minutes: now - timedelta(minutes=minutes)  # noqa: E731
    rows = [  # (started, queued, answered, ended, disposition, hold, wrap-up)
        (t(90), t(89), t(88.9), t(80), "answered", 30.0, 20.0),  # answered in 6 s
        (t(70), t(69), t(68), t(60), "answered", 0.0, 45.0),  # answered in 60 s: outside SL 20 s
        (t(50), t(49), None, t(48.95), "abandoned", 0.0, 0.0),  # short abandon (3 s)
        (t(40), t(39), None, t(38), "abandoned", 0.0, 0.0),  # abandon after 60 s
        (t(30), None, None, t(29), "ivr_only", 0.0, 0.0),
        (t(2), t(1.5), None, None, "in_progress", 0.0, 0.0),  # waiting
        (t(1), t(0.5), None, None, "in_progress", 0.0, 0.0),  # waiting
        (now - timedelta(days=1, hours=1), None, None, None, "answered", 0.0, 0.0),  # yesterday
    ]
    for n, (started, queued, answered, ended, disposition, hold, wrap) in enumerate(rows):
        await factories.add(db, Call(
            carrier="asterisk", carrier_call_id=f"wb-{n}", direction="inbound", started_at=started,
            queued_at=queued, answered_at=answered, ended_at=ended, disposition=disposition,
            queue="hotline-agents" if queued else None, hold_s=hold, wrapup_s=wrap))


async def test_todays_wallboard_equals_todays_daily_report_at_the_same_moment(
    as_: Callable[[str], Api], db: Database, clock: FixedClock, settings: Settings,
) -> None:
    await seed_today(db, clock)
    status, board = await as_("supervisor").call("GET", "/api/wallboard")
    assert status == 200, board
    report = await builders.daily(db, settings, clock().date(), clock())
    assert board["today"] == report["calls"][0]  # type: ignore[index]
    today = board["today"]  # type: ignore[index]
    assert (today["offered"], today["answered"], today["abandoned"], today["short_abandoned"],
            today["ivr_only"], today["in_progress"]) == (4, 2, 2, 1, 1, 2)
    # AHT = (talk without hold + hold + wrap-up) / answered: ((534-30)+30+20 + 480+0+45) / 2
    assert today["aht_s"] == pytest.approx(539.5) and today["service_level"] == pytest.approx(1 / 3)
    assert board["waiting"] == 2 and board["queues"][0]["longest_wait_s"] == 90  # type: ignore[index]


async def test_agents_are_counted_by_state_and_reason(
    served: Served, as_: Callable[[str], Api], people: People,
) -> None:
    pop = service(served.app)
    await pop.set_status(people.agent_a, AgentState.NOT_READY, "break")
    await pop.set_status(people.agent_b, AgentState.READY)
    _, board = await as_("supervisor").call("GET", "/api/wallboard")
    assert board["agents"]["ready"] == 1 and board["agents"]["not_ready"] == 1  # type: ignore[index]
    assert board["not_ready_by_reason"] == {"break": 1}  # type: ignore[index]


@pytest.mark.parametrize(("who", "allowed"), [("agent_a", False), ("supervisor", True),
                                              ("admin", True), ("manager", True)])
async def test_only_supervisors_managers_and_admins_see_the_wallboard(
    served: Served, people: People, db: Database, http: aiohttp.ClientSession, who: str,
    allowed: bool,
) -> None:
    if who == "manager":
        head = await factories.staff(db, "head-a", ["manager"], people.dept_a)
        people.tokens["manager"] = await token_for(db, head.id, "manager")
    api = Api(http, served.base_url, people.tokens[who])
    status, _ = await api.call("GET", "/api/wallboard")
    assert status == (200 if allowed else 403)
    headers = {"Authorization": f"Bearer {people.tokens[who]}"}
    if allowed:
        async with http.ws_connect(served.base_url + "/wallboard/ws", headers=headers) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "wallboard"
    else:
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(served.base_url + "/wallboard/ws", headers=headers)


async def test_an_agent_going_not_ready_reaches_the_wallboard_socket_at_once(
    served: Served, people: People, http: aiohttp.ClientSession,
) -> None:
    headers = {"Authorization": f"Bearer {people.tokens['supervisor']}"}
    async with http.ws_connect(served.base_url + "/wallboard/ws", headers=headers) as ws:
        first = await ws.receive_json(timeout=5)
        assert first["agents"]["not_ready"] == 0
        await service(served.app).set_status(people.agent_a, AgentState.NOT_READY, "meeting")
        update = await ws.receive_json(timeout=1.0)  # pushed, not the 2 s refresh
        assert update["agents"]["not_ready"] == 1 and update["not_ready_by_reason"] == {"meeting": 1}
