"""Every caller is served, and complaints' status by phone, through the hotline driver on
both engines (the PostgreSQL fast path on, as deployed): withheld, foreign and
unparseable numbers file complaints against an "unidentified caller" record and key in a
callback number; tickets are read only to their own caller; the follow-up call speaks
the complaint's state."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.clock import FixedClock
from callcenter.hotline.turns import HotlineDriver, Turn
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, Callback, Complaint, Customer, CustomerPhone
from callcenter.storage.turn_store_pg import PgTurnStore
from callcenter.storage.turn_store_sql import SqlTurnStore
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import Carrier
from crm.services import customers as customer_svc
from ivr import actions as act
from ivr import events as ev
from tests.hotline.test_driver import CALLER, RECORDED, _setup

KEYED = "13912345678#"
KEYED_E164 = "+8613912345678"


@pytest.fixture
async def driver(db: Database, settings: Settings, clock: FixedClock) -> AsyncIterator[HotlineDriver]:
    await _setup(db)
    fast = PgTurnStore.for_database(db, True)
    yield HotlineDriver(fast or SqlTurnStore(db), settings, clock)
    if fast is not None:
        await fast.close()


async def _call(driver: HotlineDriver, sid: str, inputs: list[Any], caller: str | None) -> list[Turn]:
    turns = [await driver.begin(Carrier.TWILIO, sid, from_number=caller, to_number="+864008001234")]
    for item in inputs:
        if item == "HANGUP":
            await driver.hangup(Carrier.TWILIO, sid)
            break
        event = ev.Digits(item) if isinstance(item, str) else item
        turns.append(await driver.feed(Carrier.TWILIO, sid, event, expected_version=turns[-1].version))
    return turns


def _media(turns: list[Turn]) -> list[act.Action]:
    return [m for t in turns for m in t.media]


def _prompts(turns: list[Turn]) -> list[str]:
    out: list[str] = []
    for m in _media(turns):
        if isinstance(m, act.Say):
            out.append(m.prompt_id)
        elif isinstance(m, act.Gather):
            out.extend(m.prompt_ids)
    return out


async def _rows(db: Database, model: type, *where: Any) -> list[Any]:
    async with db.sessions() as session:
        return list(await session.scalars(select(model).where(*where)))


async def _call_row(db: Database, sid: str) -> Call:
    (call,) = await _rows(db, Call, Call.carrier_call_id == sid)
    return call  # type: ignore[no-any-return]


@pytest.mark.parametrize("caller", ["anonymous", "", None, "+266696687", "12"],
                         ids=["anonymous", "empty", "none", "twilio-withheld", "unparseable"])
async def test_a_caller_without_a_readable_number_files_a_complaint_on_an_unidentified_record(
    db: Database, driver: HotlineDriver, caller: str | None, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    turns = await _call(driver, "CA-anon", ["1", "2", RECORDED, "2"], caller)
    (complaint,) = await _rows(db, Complaint)
    (record,) = await _rows(db, Customer, Customer.id == complaint.customer_id)
    assert not record.verified and record.name == ""
    assert await _rows(db, CustomerPhone, CustomerPhone.customer_id == record.id) == []
    assert (await _call_row(db, "CA-anon")).customer_id == record.id
    assert act.SayDigits(complaint.ticket) in _media(turns)
    assert "system_error" not in _prompts(turns)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_withheld_caller_keys_a_callback_number_and_is_called_back_on_it(
    db: Database, driver: HotlineDriver, caplog: pytest.LogCaptureFixture,
) -> None:
    turns = await _call(driver, "CA-anon-cb", ["3", KEYED, "1", "2"], "anonymous")
    assert act.SayDigits("13912345678") in _media(turns)
    (callback,) = await _rows(db, Callback)
    assert callback.kind == "requested" and callback.phone == KEYED_E164
    (record,) = await _rows(db, Customer, Customer.id == callback.customer_id)
    assert not record.verified
    assert (await _call_row(db, "CA-anon-cb")).customer_id == record.id
    assert "callback_confirmed_tomorrow_morning" in _prompts(turns)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_withheld_callers_complaint_and_callback_land_on_one_record(
    db: Database, driver: HotlineDriver,
) -> None:
    await _call(driver, "CA-anon-both", ["1", "3", RECORDED, "1", "3", KEYED, "1", "1"],
                "anonymous")
    (complaint,) = await _rows(db, Complaint)
    (callback,) = await _rows(db, Callback)
    assert complaint.customer_id == callback.customer_id
    assert len(await _rows(db, Customer, Customer.verified.is_(False))) == 1


async def test_a_foreign_caller_files_against_their_number_and_keys_a_local_one(
    db: Database, driver: HotlineDriver,
) -> None:
    await _call(driver, "CA-foreign", ["3", KEYED, "1", "2"], "+447911123456")
    (callback,) = await _rows(db, Callback)
    assert callback.phone == KEYED_E164
    (phone,) = await _rows(db, CustomerPhone, CustomerPhone.customer_id == callback.customer_id)
    assert phone.e164 == "+447911123456"


async def test_an_invalid_keyed_number_is_asked_again_then_an_agent_takes_the_call(
    db: Database, driver: HotlineDriver,
) -> None:
    turns = await _call(driver, "CA-bad-number", ["3", "12345#", "+447911123456#"], "anonymous")
    prompts = _prompts(turns)
    assert prompts.count("callback_number_invalid") == 1
    assert prompts.count("callback_enter_number") == 2
    assert turns[-1].transfer is not None and turns[-1].transfer.reason == "retries_exhausted"
    assert await _rows(db, Callback) == []
    assert (await _call_row(db, "CA-bad-number")).queued_at is not None


async def test_an_agent_links_the_unidentified_record_to_the_real_customer(
    db: Database, driver: HotlineDriver,
) -> None:
    await _call(driver, "CA-anon-merge", ["1", "1", RECORDED], "anonymous")
    (complaint,) = await _rows(db, Complaint)
    listed = await customer_svc.list_unidentified_callers(SqlUnitOfWork(db))
    assert [c.customer_id for c in listed] == [complaint.customer_id]
    (real,) = await _rows(db, Customer, Customer.verified.is_(True))
    merged = await customer_svc.merge_caller_into(complaint.customer_id, real.id, SqlUnitOfWork(db))
    assert merged.customer_id == real.id
    (complaint,) = await _rows(db, Complaint)
    assert complaint.customer_id == real.id
    assert (await _call_row(db, "CA-anon-merge")).customer_id == real.id
    assert await customer_svc.list_unidentified_callers(SqlUnitOfWork(db)) == []


# --- complaint status by phone ---------------------------------------------------------------


async def _filed_ticket(db: Database, driver: HotlineDriver, caller: str, sid: str) -> str:
    await _call(driver, sid, ["1", "2", RECORDED, "2"], caller)
    (complaint,) = await _rows(db, Complaint, Complaint.call_id == (await _call_row(db, sid)).id)
    return str(complaint.ticket)


async def test_a_caller_keys_their_ticket_and_hears_state_department_and_due_date(
    db: Database, driver: HotlineDriver,
) -> None:
    ticket = await _filed_ticket(db, driver, CALLER, "CA-file")
    turns = await _call(driver, "CA-status", ["4", "1", ticket + "#", "2"], CALLER)
    media = _media(turns)
    (complaint,) = await _rows(db, Complaint)
    start = media.index(act.Say("status_ticket"))
    assert media[start + 1] == act.SayDigits(ticket)
    assert media[start + 2] == act.Say(f"state_{complaint.state}")
    assert media[start + 3:start + 5] == [act.Say("status_department"), act.SayName("SVC", "SVC")]
    assert media[start + 5] == act.Say("status_due")
    due = complaint.resolve_due_at
    assert due is not None
    from datetime import UTC
    from zoneinfo import ZoneInfo
    local = due.replace(tzinfo=due.tzinfo or UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    assert media[start + 6:start + 8] == [act.Say(f"month_{local.month}"), act.Say(f"day_{local.day}")]


async def test_another_callers_ticket_is_only_said_not_found(db: Database, driver: HotlineDriver) -> None:
    ticket = await _filed_ticket(db, driver, CALLER, "CA-file")
    turns = await _call(driver, "CA-nosy", ["4", "1", ticket + "#", "99999#", "1#"], "13912340000")
    media = _media(turns)
    assert _prompts(turns).count("status_not_found") == 2
    assert act.SayDigits(ticket) not in media
    assert not [m for m in media if isinstance(m, act.SayName)]
    assert not [p for p in _prompts(turns) if p.startswith("state_")]
    assert turns[-1].transfer is not None


async def test_a_withheld_caller_is_told_no_ticket_in_detail(db: Database, driver: HotlineDriver) -> None:
    ticket = await _filed_ticket(db, driver, CALLER, "CA-file")
    turns = await _call(driver, "CA-anon-status", ["4", "1", ticket + "#"], "anonymous")
    assert "status_not_found" in _prompts(turns)
    assert act.SayDigits(ticket) not in _media(turns)


async def test_the_open_complaints_on_the_callers_number_are_read(db: Database, driver: HotlineDriver) -> None:
    ticket = await _filed_ticket(db, driver, CALLER, "CA-file")
    turns = await _call(driver, "CA-own", ["4", "2"], CALLER)
    assert act.SayDigits(ticket) in _media(turns)
    empty = await _call(driver, "CA-own-none", ["4", "2"], "13912340000")
    assert "status_none_open" in _prompts(empty)


async def test_status_is_spoken_in_english_for_an_english_customer(
    db: Database, driver: HotlineDriver,
) -> None:
    ticket = await _filed_ticket(db, driver, CALLER, "CA-file")
    async with db.sessions() as session:
        (row,) = list(await session.scalars(select(Customer).where(Customer.verified.is_(True))))
        row.language = "en"
        await session.commit()
    turns = await _call(driver, "CA-en", ["4", "1", ticket + "#"], CALLER)
    assert turns[-1].language == "en"
    from ivr.prompts import prompt_text
    said = [prompt_text(m.prompt_id, "en") for m in _media(turns) if isinstance(m, act.Say)]
    assert "It is handled by" in said and "It is due by" in said


async def test_the_follow_up_call_tells_the_customer_the_complaint_is_resolved(
    db: Database, settings: Settings, clock: FixedClock,
) -> None:
    from tests.hotline.test_outbound import _answer, _dial, _resolved_complaint, _world

    w = await _world(db, settings, clock)
    await _resolved_complaint(w)
    clock.advance(hours=1)
    turns = await _answer(w, await _dial(w), [])
    said = [m for m in turns[0].media if isinstance(m, act.Say | act.SayDigits)]
    assert act.Say("followup_state_resolved") in said
    assert said.index(act.Say("followup_state_resolved")) > said.index(act.Say("followup_greeting"))


@pytest.mark.parametrize("keys", [
    ["2", "880042#", "1", "2", "1", "1", "2"],  # rate a visit by its job number
    ["4", "2", "2"],  # hear the open complaints on "my number"
    ["4", "1", "12345#", "2#", "3#"],  # key tickets that are not theirs
    ["1", "4", "HANGUP"],  # hang up before recording: the complaint is still filed
    ["3", "HANGUP"],  # hang up at the number prompt
    ["0"],  # an agent
], ids=["survey", "status-own", "status-ticket", "partial-complaint", "callback-hangup", "agent"])
async def test_every_menu_serves_a_withheld_caller_without_an_error(
    db: Database, driver: HotlineDriver, keys: list[Any], caplog: pytest.LogCaptureFixture,
) -> None:
    from datetime import UTC, datetime

    from tests import factories

    (customer,) = await _rows(db, Customer)
    await factories.job(db, customer.id, "880042", completed_at=datetime(2026, 5, 16, tzinfo=UTC))
    caplog.set_level(logging.INFO)
    turns = await _call(driver, "CA-anon-menu", keys, "anonymous")
    call = await _call_row(db, "CA-anon-menu")
    async with db.sessions() as session:
        from callcenter.storage.tables import CallEvent

        outcomes = list(await session.scalars(
            select(CallEvent.detail).where(CallEvent.call_id == call.id,
                                           CallEvent.kind == "ivr_step")))
    assert not [o for o in outcomes if (o or {}).get("outcome") in ("effect_failed",
                                                                     "effect_impossible")]
    assert "system_error" not in _prompts(turns)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_known_foreign_caller_is_asked_for_a_local_number_on_every_path(
    db: Database, driver: HotlineDriver,
) -> None:
    await _call(driver, "CA-foreign-1", ["2"], "+447911123456")  # now a known (unverified) caller
    turns = await _call(driver, "CA-foreign-2", ["3"], "+447911123456")  # fast path on PostgreSQL
    assert "callback_enter_number" in _prompts(turns)
    known = await _call(driver, "CA-local", ["3"], CALLER)
    assert "callback_enter_number" not in _prompts(known) and "callback_menu" in _prompts(known)
