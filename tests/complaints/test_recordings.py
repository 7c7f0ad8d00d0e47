"""A complaint's recording plays for those who may read the complaint, and only from our own
recording folders or this Twilio account (streamed with the account's credentials)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from callcenter.clock import FixedClock
from callcenter.demo.serving import app_on_port
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from crm.services.complaints import open_complaint
from tests import factories
from tests.complaints.helpers import Org, bearer, complaint, org, uow
from tests.conftest import Served, free_port

SID = "AC" + "1" * 32
TOKEN = "twilio-token-for-recordings"
WAV = b"RIFF$\x00\x00\x00WAVEfmt " + bytes(100)
REC_PATH = f"/2010-04-01/Accounts/{SID}/Recordings/RE{'a' * 32}"


class FakeTwilio:
    """Twilio's recording media endpoint: answers only with this account's Basic auth."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.port = free_port()

    async def media(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, request.headers.get("Authorization")))
        if request.headers.get("Authorization") != aiohttp.encode_basic_auth(SID, TOKEN):
            return web.Response(status=401)
        return web.Response(body=WAV, content_type="audio/x-wav")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio()
    app = web.Application()
    app.router.add_get("/{tail:.*}", fake.media)
    async with app_on_port(app, fake.port):
        yield fake


@pytest.fixture
def settings(settings: Settings, twilio: FakeTwilio) -> Settings:
    return settings.model_copy(update={"twilio_api_base_url": twilio.base, "twilio_account_sid": SID,
                                       "twilio_auth_token": SecretStr(TOKEN)})


async def opened_with(db: Database, clock: FixedClock, people: Org, recording_url: str) -> int:
    customer = await factories.customer(db, department_id=people.service.id)
    opened = await open_complaint(complaint(customer.id, recording_url=recording_url), uow(db),
                                  clock=clock)
    return opened.complaint_id


async def fetch(served: Served, db: Database, who: object, path: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(
            served.base_url + path, headers=await bearer(db, who)) as resp:  # type: ignore[arg-type]
        return resp.status, await resp.read()


async def test_an_asterisk_recording_plays_for_readers_of_the_complaint_only(
        served: Served, db: Database, clock: FixedClock, settings: Settings) -> None:
    people = await org(db)
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    wav = settings.recordings_dir / "complaint-1.wav"
    wav.write_bytes(WAV)
    cid = await opened_with(db, clock, people, str(wav))
    for reader in (people.agent, people.service_manager, people.supervisor):
        assert await fetch(served, db, reader, f"/complaints/{cid}/recording") == (200, WAV)
    status, body = await fetch(served, db, people.other_agent, f"/complaints/{cid}/recording")
    assert status == 403 and WAV not in body
    page_status, page = await fetch(served, db, people.agent, f"/complaints/{cid}")
    assert page_status == 200 and f'src="/complaints/{cid}/recording"'.encode() in page
    assert (await fetch(served, db, people.other_agent, f"/complaints/{cid}"))[0] == 403


@pytest.mark.parametrize("where", ["outside", "link", "not_audio", "missing"])
async def test_a_stored_path_outside_the_recording_folders_is_never_served(
        served: Served, db: Database, clock: FixedClock, settings: Settings, tmp_path: Path,
        where: str) -> None:
    people = await org(db)
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    secret = tmp_path / "elsewhere" / "secret.wav"
    secret.parent.mkdir()
    secret.write_bytes(b"not for callers")
    stored = {
        "outside": str(secret),
        "link": str(settings.recordings_dir / "link.wav"),
        "not_audio": str(settings.recordings_dir / "notes.txt"),
        "missing": str(settings.recordings_dir / "gone.wav"),
    }[where]
    if where == "link":
        os.symlink(secret, stored)
    if where == "not_audio":
        Path(stored).write_text("text")  # noqa: ASYNC240  (test set-up)
    cid = await opened_with(db, clock, people, stored)
    status, body = await fetch(served, db, people.supervisor, f"/complaints/{cid}/recording")
    assert status == 404 and b"not for callers" not in body


async def test_a_twilio_recording_is_streamed_with_the_accounts_credentials(
        served: Served, db: Database, clock: FixedClock, twilio: FakeTwilio) -> None:
    people = await org(db)
    cid = await opened_with(db, clock, people, twilio.base + REC_PATH)
    status, body = await fetch(served, db, people.agent, f"/complaints/{cid}/recording")
    assert (status, body) == (200, WAV)
    assert twilio.seen == [(REC_PATH + ".wav", aiohttp.encode_basic_auth(SID, TOKEN))]
    assert (await fetch(served, db, people.other_agent, f"/complaints/{cid}/recording"))[0] == 403
    assert len(twilio.seen) == 1  # a refused reader never reaches Twilio


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{other}" + REC_PATH,  # another host: our credentials never go there
    "{base}/2010-04-01/Accounts/AC" + "2" * 32 + "/Recordings/RE" + "a" * 32,  # another account
    "{base}/2010-04-01/Accounts/" + SID + "/Calls/CA" + "a" * 32,  # not a recording
    "{base}" + REC_PATH + "?redirect=http://evil.example",
])
async def test_a_recording_url_that_is_not_this_accounts_is_not_fetched(
        served: Served, db: Database, clock: FixedClock, twilio: FakeTwilio, url: str) -> None:
    people = await org(db)
    other = FakeTwilio()
    cid = await opened_with(db, clock, people, url.format(base=twilio.base, other=other.port))
    status, _ = await fetch(served, db, people.supervisor, f"/complaints/{cid}/recording")
    assert status == 404 and twilio.seen == []


async def test_staff_cannot_point_a_complaint_at_a_recording_and_the_api_never_shows_the_path(
        served: Served, db: Database, clock: FixedClock, settings: Settings) -> None:
    people = await org(db)
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    wav = settings.recordings_dir / "1796407067.4967672-ivr-complaint_record.wav"
    wav.write_bytes(WAV)
    cid = await opened_with(db, clock, people, str(wav))  # the IVR's recording
    customer = await factories.customer(db, phones=("+8613900001111",), department_id=people.other.id)
    headers = await bearer(db, people.other_agent)
    async with aiohttp.ClientSession() as http:
        async with http.post(served.base_url + "/api/complaints", headers=headers, json={
                "customer_id": customer.id, "category": "attitude", "description": "x",
                "recording_url": str(wav)}) as resp:
            assert resp.status == 422  # only the IVR stores a recording
        async with http.get(f"{served.base_url}/api/complaints/{cid}",
                            headers=await bearer(db, people.agent)) as resp:
            body = await resp.json()
    assert body["recording"] == f"/complaints/{cid}/recording"
    assert str(wav) not in str(body) and "recording_url" not in body
