"""The caller's language: key 8 on the main menu switches zh-CN <-> en for the rest of the call,
and the caller's record keeps the choice for the next call."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.storage.engine import Database
from callcenter.storage.tables import Customer
from ivr.prompts import prompt_text
from tests.twilio.conftest import Hotline, NewCaller


async def language_of(db: Database, customer_id: int) -> str:
    async with db.sessions() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        return customer.language


async def test_key_8_switches_to_english_and_the_next_call_starts_in_english(
        db: Database, hotline: Hotline, caller: NewCaller) -> None:
    first = await caller().call(["8", "9"])  # switch, then hear the menu again
    assert prompt_text("greeting", "zh-CN") in first.said
    assert first.said.count(prompt_text("main_menu", "en")) >= 1
    assert await language_of(db, hotline.customer_id) == "en"
    second = await caller().call(["8"])
    assert second.said[0] == prompt_text("greeting", "en")  # remembered
    assert prompt_text("main_menu", "zh-CN") in second.said  # and switched back
    assert await language_of(db, hotline.customer_id) == "zh-CN"


async def test_a_withheld_caller_switches_for_the_call_without_a_record(
        db: Database, hotline: Hotline, caller: NewCaller) -> None:
    result = await caller(from_number="anonymous").call(["8"])
    assert prompt_text("main_menu", "en") in result.said
    async with db.sessions() as session:
        assert list(await session.scalars(select(Customer).where(Customer.verified.is_(False)))) == []
