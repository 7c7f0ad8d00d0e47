"""The agent page's Hold button on a Twilio call, in Chromium: the press asks Twilio (REST, on
Twilio's contract), and the page shows the hold when Twilio's signed hold event arrives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from callcenter.app import create_app
from callcenter.clock import FixedClock
from callcenter.demo.simulated_twilio import SimulatedCaller
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from tests import factories
from tests.conftest import free_port
from tests.factories import PASSWORD
from tests.twilio.conftest import seed_hotline
from tests.twilio.test_twilio_conference import (
    Agent,
    Waiting,
    answered_by,
    ask_for_an_agent,
    conference_event,
)
from tests.twilio_rest import RestRequest, TwilioApi

pytestmark = pytest.mark.browser


@pytest.fixture
async def site(settings: Settings, db: Database, clock: FixedClock,
               twilio_api: TwilioApi) -> AsyncIterator[tuple[str, Settings]]:
    port = free_port()
    settings = settings.model_copy(update={
        "public_base_url": f"http://127.0.0.1:{port}", "http_port": port,
        "route_to_ready_agents": True, "twilio_api_base_url": twilio_api.url,
    })
    runner = web.AppRunner(create_app(settings, db=db, clock=clock), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", settings
    finally:
        await runner.cleanup()


async def requests_to(api: TwilioApi, path_end: str, count: int) -> list[RestRequest]:
    """The REST requests to `path_end` once there are `count` of them (the page sends them)."""
    for _ in range(100):
        found = api.to(path_end)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    return api.to(path_end)


async def on_a_conference_call(site: tuple[str, Settings], db: Database, clock: FixedClock,
                               browser: Any, http: aiohttp.ClientSession) -> tuple[Any, Waiting]:
    """agent-wu logged in on the agent page, ready, talking to a caller in a Twilio conference."""
    base, settings = site
    await seed_hotline(db)
    person = await factories.staff(db, "agent-wu", ["agent"], with_password=True, name="吴坐席")
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(base + "/login?next=/agent")
    await page.fill('input[name="username"]', "agent-wu")
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_url(base + "/agent")
    await page.wait_for_selector('body[data-socket="open"]')
    await page.click("#ready")
    await page.wait_for_selector('#status[data-status="ready"]')
    token = settings.twilio_auth_token.get_secret_value()
    waiting = await ask_for_an_agent(lambda **kw: SimulatedCaller(http, base, token, **kw))
    await page.wait_for_selector('#status[data-status="ringing"]')
    await answered_by(waiting, clock, Agent(person.id, "agent-wu", None))  # type: ignore[arg-type]
    await page.wait_for_selector('#status[data-status="on_call"]')
    return page, waiting


async def test_the_hold_button_shows_the_hold_twilio_reports_for_a_conference_call(
    site: tuple[str, Settings], db: Database, clock: FixedClock, browser: Any,
    twilio_api: TwilioApi,
) -> None:
    from playwright.async_api import expect

    async with aiohttp.ClientSession() as http:
        page, waiting = await on_a_conference_call(site, db, clock, browser, http)
        hold = page.locator("#hold")
        await expect(hold).to_have_text("保持 Hold")

        await hold.click()  # asks Twilio; nothing is on hold until Twilio says so
        asked = await requests_to(twilio_api, f"/Participants/{waiting.sim.call_sid}.json", 1)
        assert [r.one("Hold") for r in asked] == ["true"] and asked[0].status == 200
        await expect(page.locator("#status")).to_have_attribute("data-status", "on_call")
        clock.advance(seconds=5)
        await conference_event(waiting, clock, "participant-hold")
        await expect(page.locator("#status")).to_have_attribute("data-status", "hold")
        await expect(hold).to_have_text("恢复 Resume")

        await hold.click()
        await requests_to(twilio_api, f"/Participants/{waiting.sim.call_sid}.json", 2)
        clock.advance(seconds=20)
        await conference_event(waiting, clock, "participant-unhold")
        await expect(page.locator("#status")).to_have_attribute("data-status", "on_call")
        await expect(hold).to_have_text("保持 Hold")
        asked = await requests_to(twilio_api, f"/Participants/{waiting.sim.call_sid}.json", 2)
        assert [r.one("Hold") for r in asked] == ["true", "false"]


async def test_the_transfer_form_moves_the_caller_to_another_queue_and_wraps_up(
    site: tuple[str, Settings], db: Database, clock: FixedClock, browser: Any,
    twilio_api: TwilioApi,
) -> None:
    from playwright.async_api import expect

    async with aiohttp.ClientSession() as http:
        page, waiting = await on_a_conference_call(site, db, clock, browser, http)
        await page.fill('#transfer input[name="queue"]', "billing")
        await page.click("#transfer button")
        await expect(page.locator("#status")).to_have_attribute("data-status", "wrap_up")
        (moved,) = await requests_to(twilio_api, f"/Calls/{waiting.sim.call_sid}.json", 1)
        assert moved.status == 200 and moved.one("Url").endswith("/twilio/requeue?queue=billing")
