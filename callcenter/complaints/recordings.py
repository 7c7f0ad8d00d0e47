"""`GET /complaints/{complaint_id}/recording`: the caller's recording, for whoever may see it.

Guarantees:
- The complaint is read through `get_complaint` with the caller's identity:
  nobody hears a complaint they may not read (403), and an unknown complaint
  or one without a recording is 404.
- Asterisk recordings are files: served only when the stored path, resolved
  (links followed), lies inside RECORDINGS_DIR or SPOOL_DIR and is an audio
  file; anything else is 404 and logged. Never a path from the request.
- Twilio recordings are fetched from the Twilio API with the account's
  credentials and streamed through: only a URL on TWILIO_API_BASE_URL's host,
  of this account's `/Recordings/RE...`, is fetched (no request forgery with
  our credentials), and the browser never sees the URL or the credentials.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from callcenter.appkeys import DB, SETTINGS
from callcenter.settings import Settings
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.web.auth import current, requires
from crm.enums import Role
from crm.services.complaints import get_complaint

__all__ = ["AUDIO_TYPES", "complaint_recording", "recording_file", "setup", "twilio_recording_url"]

log = logging.getLogger(__name__)
READERS = (Role.AGENT, Role.TECHNICIAN, Role.MANAGER, Role.SUPERVISOR, Role.CALLBACK_STAFF)
AUDIO_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".gsm": "audio/x-gsm"}
MAX_ID = 2**31 - 1
_TWILIO_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-fA-F]{32})/Recordings/RE[0-9a-fA-F]{32}(?P<ext>\.(wav|mp3))?$")
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=5)


def recording_file(stored: str, settings: Settings) -> Path | None:
    """The stored path when it is an audio file inside our recording folders, else None."""
    try:
        path = Path(stored).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    roots = [settings.recordings_dir.resolve(), settings.spool_dir.resolve()]
    if path.suffix.lower() not in AUDIO_TYPES or not path.is_file():
        return None
    return path if any(path.is_relative_to(root) for root in roots) else None


def twilio_recording_url(stored: str, settings: Settings) -> str | None:
    """The URL to fetch a Twilio recording from, or None when it is not ours to fetch."""
    base, url = urlsplit(settings.twilio_api_base_url), urlsplit(stored)
    if (url.scheme, url.netloc.lower()) != (base.scheme, base.netloc.lower()) or url.query:
        return None
    found = _TWILIO_PATH.match(url.path)
    if found is None or found["sid"] != settings.twilio_account_sid:
        return None
    return f"{base.scheme}://{base.netloc}{url.path}{'' if found['ext'] else '.wav'}"


async def _stream_twilio(request: web.Request, url: str, settings: Settings) -> web.StreamResponse:
    auth = aiohttp.encode_basic_auth(settings.twilio_account_sid,
                                     settings.twilio_auth_token.get_secret_value())
    async with aiohttp.ClientSession(timeout=FETCH_TIMEOUT) as session:
        try:
            async with session.get(url, headers={"Authorization": auth},
                                   allow_redirects=False) as upstream:
                if upstream.status == 404:
                    raise web.HTTPNotFound(reason="Twilio has no such recording (deleted?)")
                if upstream.status != 200:
                    log.warning("Twilio answered %s for a recording", upstream.status)
                    raise web.HTTPBadGateway(reason="Twilio did not give the recording; try later")
                response = web.StreamResponse(headers={
                    "Content-Type": upstream.headers.get("Content-Type", "audio/wav"),
                    "Cache-Control": "private, no-store", "Content-Disposition": "inline"})
                await response.prepare(request)
                async for chunk in upstream.content.iter_chunked(64 * 1024):
                    await response.write(chunk)
                await response.write_eof()
                return response
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("fetching a Twilio recording failed: %s", exc)
            raise web.HTTPBadGateway(reason="Twilio could not be reached; try later") from exc


@requires(*READERS)
async def complaint_recording(request: web.Request) -> web.StreamResponse:
    raw = request.match_info.get("complaint_id", "")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise web.HTTPNotFound(reason="no such complaint")
    settings = request.app[SETTINGS]
    record = await get_complaint(int(raw), SqlUnitOfWork(request.app[DB]),
                                 identity=current(request))  # 403 for another department
    stored = record.recording_url
    if not stored:
        raise web.HTTPNotFound(reason=f"complaint {record.ticket} has no recording")
    if stored.lower().startswith(("http://", "https://")):
        url = twilio_recording_url(stored, settings)
        if url is None:
            log.warning("complaint %s: recording URL is not this Twilio account's; not fetched",
                        record.ticket)
            raise web.HTTPNotFound(reason="this recording cannot be fetched here")
        return await _stream_twilio(request, url, settings)
    path = recording_file(stored, settings)
    if path is None:
        log.warning("complaint %s: recording file missing or outside the recording folders",
                    record.ticket)
        raise web.HTTPNotFound(reason="the recording file is not available")
    return web.FileResponse(path, headers={
        "Content-Type": AUDIO_TYPES[path.suffix.lower()], "Cache-Control": "private, no-store",
        "Content-Disposition": "inline"})


def setup(app: web.Application) -> None:
    app.router.add_get("/complaints/{complaint_id}/recording", complaint_recording)
