"""Supervision apart from execution (001, issue 14): only a supervisor from outside the
department a survey scores verifies or disputes it, whatever the route, the command or
the spelling of the input.

Every route that changes a survey's verification (the API, the /supervisor page's
buttons, a verification callback's outcome by API and by the callbacks page) and the
CLI command (`callcenter import surveys` with `verified_by`) is tried by each role:
the agent, the technician the survey rates, callback staff, the scored department's
manager, another department's manager, a supervisor placed inside the scored
department, an admin, anonymous. Inputs come in odd spellings (case, padding,
full-width letters and digits, zero-width characters, Chinese words, numbers as
strings); lookalike letters from other scripts are refused as input. A refused
attempt leaves the survey pending and is stored in `access_refusals`. Both engines.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from callcenter.appkeys import DB
from callcenter.cli import main
from callcenter.storage.engine import Database
from callcenter.storage.tables import AccessRefusal, Callback, Survey
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import CallbackKind, Grade, SurveySource
from crm.services.callback_ports import NewCallback
from crm.services.surveys import SaveSurvey, save_survey
from tests import factories
from tests.access.people import Org, log_in, org
from tests.conftest import Served

REFUSED = ["agent", "technician", "callback_staff", "scored_manager", "other_manager",
           "inside_supervisor", "admin", "region_supervisor", "region_callback_staff"]
ALL_A = {"timeliness": Grade.A, "quality": Grade.A, "attitude": Grade.B}
TAKEN = datetime(2026, 5, 17, 6, 0, tzinfo=UTC)

# (value sent, what it means: True verify, False dispute, None not a decision at all)
API_DECISIONS: list[tuple[Any, bool | None]] = [
    (True, True), ("true", True), (" TRUE ", True), ("ｔｒｕｅ", True), ("Verify", True),
    ("ｖｅｒｉｆｙ\u200b", True), ("核实", True), ("1", True), (1, True),
    (False, False), ("ＤＩＳＰＵＴＥ", False), (" disputed ", False), ("有异议", False),
    ("v\u0435rify", None), ("tr\u057De", None),  # Cyrillic е, Armenian ս: lookalikes
]
FORM_DECISIONS: list[tuple[str, bool | None]] = [
    ("verify", True), ("VERIFY", True), ("  Verify\t", True), ("ｖｅｒｉｆｙ", True),
    ("核实", True), ("dispute", False), ("Ｄｉｓｐｕｔｅ", False),
    ("v\u0435rify", None), ("", None),
]
DISPOSITIONS: list[tuple[str, bool]] = [
    ("confirmed", True), (" CONFIRMED ", True), ("ｃｏｎｆｉｒｍｅｄ", True), ("Disputed", False),
]


def id_spellings(survey_id: int) -> list[str]:
    full_width = "".join(chr(0xFF10 + int(d)) for d in str(survey_id))
    return [str(survey_id), full_width, "0" + str(survey_id)]


class World:
    def __init__(self, served: Served, people: Org, job_id: int, customer_id: int) -> None:
        self.served, self.people, self.job_id, self.customer_id = served, people, job_id, customer_id
        self.db: Database = served.app[DB]
        self.cookies: dict[str, tuple[aiohttp.ClientSession, str]] = {}
        self.plain = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())

    async def pending_survey(self, minutes: int = 0) -> int:
        saved = await save_survey(SaveSurvey(self.job_id, SurveySource.PAPER, ALL_A,
                                             TAKEN + timedelta(minutes=minutes)),
                                  SqlUnitOfWork(self.db))
        assert saved.verification.value == "pending"
        return saved.id

    async def verification_callback(self, survey_id: int) -> int:
        uow = SqlUnitOfWork(self.db)
        now = datetime(2026, 5, 18, 2, 0, tzinfo=UTC)
        async with uow:
            record, _ = await uow.callbacks.add(NewCallback(
                source_key=f"survey-verification:{survey_id}",
                kind=CallbackKind.SURVEY_VERIFICATION, phone="+8613800138000",
                timezone="Asia/Shanghai", priority=1, due_at=now, deadline_at=None,
                next_attempt_at=now, customer_id=self.customer_id, survey_id=survey_id,
                window_start="09:00", window_end="20:00"))
            await uow.commit()
        return record.id

    async def verification(self, survey_id: int) -> str:
        async with self.db.sessions() as session:
            row = await session.get(Survey, survey_id, populate_existing=True)
            assert row is not None
            return row.verification

    async def refusals(self) -> int:
        async with self.db.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(AccessRefusal)) or 0)

    def headers(self, who: str) -> dict[str, str]:
        if who == "anonymous":
            return {}
        return {"Authorization": f"Bearer {self.people.people[who].token}"}

    async def cookie(self, who: str) -> tuple[aiohttp.ClientSession, str]:
        if who == "anonymous":
            return self.plain, ""
        if who not in self.cookies:
            self.cookies[who] = await log_in(self.served.base_url, self.people.people[who].username)
        return self.cookies[who]

    # -- the four routes -------------------------------------------------------------------

    async def api_verify(self, who: str, survey: str, decision: Any) -> int:
        async with self.plain.post(f"{self.served.base_url}/api/reports/surveys/{survey}/verify",
                                   json={"confirmed": decision, "note": "checked by phone"},
                                   headers=self.headers(who), allow_redirects=False) as resp:
            return resp.status

    async def page_verify(self, who: str, survey: str, decision: str) -> int:
        session, csrf = await self.cookie(who)
        async with session.post(f"{self.served.base_url}/supervisor/surveys/{survey}/verify",
                                data={"csrf_token": csrf, "decision": decision, "month": "2026-05"},
                                allow_redirects=False) as resp:
            return resp.status

    async def api_outcome(self, who: str, callback_id: int, disposition: str) -> int:
        async with self.plain.post(f"{self.served.base_url}/api/callbacks/{callback_id}/complete",
                                   json={"disposition": disposition, "feedback": "customer says"},
                                   headers=self.headers(who), allow_redirects=False) as resp:
            return resp.status

    async def page_outcome(self, who: str, callback_id: int, disposition: str) -> int:
        session, csrf = await self.cookie(who)
        async with session.post(f"{self.served.base_url}/callbacks/{callback_id}/complete",
                                data={"csrf_token": csrf, "disposition": disposition},
                                allow_redirects=False) as resp:
            return resp.status

    async def close(self) -> None:
        await self.plain.close()
        for session, _ in self.cookies.values():
            await session.close()


@pytest.fixture
async def world(served: Served) -> AsyncIterator[World]:
    db = served.app[DB]
    people = await org(db)
    customer = await factories.customer(db)
    job = await factories.job(db, customer.id, "J-SCORED", department_id=people.departments["SVC"],
                              technician_id=people.people["technician"].staff_id,
                              completed_at=datetime(2026, 5, 16, 8, 0, tzinfo=UTC))
    made = World(served, people, job.id, customer.id)
    try:
        yield made
    finally:
        await made.close()


def refused(status: int, who: str) -> bool:
    return status in ((401, 302) if who == "anonymous" else (403,))


async def test_nobody_but_an_outside_supervisor_verifies_through_the_api_or_the_page(
    world: World,
) -> None:
    survey_id = await world.pending_survey()
    wrong = []
    expected_refusals = 0
    for who in ["anonymous", *REFUSED]:
        for survey in id_spellings(survey_id):
            for decision, meaning in API_DECISIONS:
                status = await world.api_verify(who, survey, decision)
                ok = refused(status, who) or (meaning is None and status == 422)
                expected_refusals += status == 403
                if not ok:
                    wrong.append(f"API {who} {survey!r} {decision!r}: {status}")
            for text, meaning in FORM_DECISIONS:
                status = await world.page_verify(who, survey, text)
                ok = refused(status, who) or (meaning is None and status == 422)
                expected_refusals += status == 403
                if not ok:
                    wrong.append(f"page {who} {survey!r} {text!r}: {status}")
    assert not wrong, "\n".join(wrong)
    assert await world.verification(survey_id) == "pending"  # nothing changed
    assert await world.refusals() == expected_refusals > 0  # every refusal is stored

    for survey_spelling, (decision, meaning) in zip(
            id_spellings(0) * 10, API_DECISIONS, strict=False):
        fresh = await world.pending_survey(minutes=len(wrong) + 1 + API_DECISIONS.index((decision, meaning)))
        survey = {"0": str(fresh), "０": "".join(chr(0xFF10 + int(d)) for d in str(fresh)),
                  "00": "0" + str(fresh)}[survey_spelling]
        status = await world.api_verify("supervisor", survey, decision)
        want = {True: "verified", False: "disputed", None: "pending"}[meaning]
        assert (status, await world.verification(fresh)) == (200 if meaning is not None else 422, want), (
            decision, survey)
    for i, (text, meaning) in enumerate(FORM_DECISIONS):
        fresh = await world.pending_survey(minutes=100 + i)
        status = await world.page_verify("supervisor", str(fresh), text)
        want = {True: "verified", False: "disputed", None: "pending"}[meaning]
        assert (status, await world.verification(fresh)) == (303 if meaning is not None else 422, want), text


async def test_a_verification_callback_outcome_verifies_only_for_an_outside_supervisor(
    world: World,
) -> None:
    wrong = []
    for i, (disposition, _) in enumerate(DISPOSITIONS):
        survey_id = await world.pending_survey(minutes=i)
        callback_id = await world.verification_callback(survey_id)
        before = await world.refusals()
        expected = 0
        for who in ["anonymous", *REFUSED]:
            for attempt in (world.api_outcome, world.page_outcome):
                status = await attempt(who, callback_id, disposition)
                expected += status == 403
                if not refused(status, who):
                    wrong.append(f"{attempt.__name__} {who} {disposition!r}: {status}")
        assert await world.verification(survey_id) == "pending"
        assert await world.refusals() - before == expected
        async with world.db.sessions() as session:
            cb = await session.get(Callback, callback_id)
            assert cb is not None and cb.state != "completed"  # a refusal changed nothing
    assert not wrong, "\n".join(wrong)
    for i, (disposition, confirms) in enumerate(DISPOSITIONS):
        survey_id = await world.pending_survey(minutes=50 + i)
        callback_id = await world.verification_callback(survey_id)
        attempt = world.api_outcome if i % 2 else world.page_outcome
        status = await attempt("supervisor", callback_id, disposition)
        assert status in (200, 303), (disposition, status)
        assert await world.verification(survey_id) == ("verified" if confirms else "disputed")


async def test_the_scored_department_cannot_close_a_verification_call_without_a_verdict(
    world: World,
) -> None:
    survey_id = await world.pending_survey(minutes=70)
    callback_id = await world.verification_callback(survey_id)
    before = await world.refusals()
    inside = ["scored_manager", "other_manager", "inside_supervisor", "admin", "technician",
              "region_supervisor", "region_callback_staff"]
    statuses = {who: await world.api_outcome(who, callback_id, " Unreached ") for who in inside}
    assert statuses == dict.fromkeys(inside, 403)
    assert await world.refusals() - before == len(inside)
    async with world.db.sessions() as session:
        cb = await session.get(Callback, callback_id)
        assert cb is not None and cb.state == "scheduled"  # still to be called
    assert await world.api_outcome("callback_staff", callback_id, "unreached") == 200
    assert await world.verification(survey_id) == "pending"


def _survey_file(tmp_path: Path, name: str, verified: str, by: str, minute: int) -> Path:
    path = tmp_path / f"surveys-{minute}.csv"
    path.write_text(
        "job,timeliness,quality,attitude,surveyed_at,source,verified,verified_by\n"
        f"J-SCORED,A,B,A,2026-05-17 14:{minute:02d},{name},{verified},{by}\n", encoding="utf-8")
    return path


async def test_the_import_command_verifies_only_as_an_outside_supervisor(
    world: World, db_url: str, tmp_path: Path
) -> None:
    minute = 0
    for who in REFUSED:
        username = world.people.people[who].username
        for by in (username, f" {username.upper()} ",
                   "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in username)):
            minute += 1
            before = await world.refusals()
            path = _survey_file(tmp_path, "Paper", "ＹＥＳ", by, minute)
            code = await asyncio.to_thread(main, ["--database-url", db_url, "import", "surveys",
                                                  str(path)])
            assert code == 1, (who, by)
            async with world.db.sessions() as session:
                assert await session.scalar(select(func.count()).select_from(Survey)) == 0
            assert await world.refusals() == before + 1, (who, by)
    supervisor = world.people.people["supervisor"].username
    path = _survey_file(tmp_path, " PAPER ", "是", f"  {supervisor.upper()}", 59)
    assert await asyncio.to_thread(main, ["--database-url", db_url, "import", "surveys", str(path)]) == 0
    async with world.db.sessions() as session:
        rows = (await session.scalars(select(Survey))).all()
    assert [(r.verification, r.verified_by) for r in rows] == [
        ("verified", world.people.people["supervisor"].staff_id)]
