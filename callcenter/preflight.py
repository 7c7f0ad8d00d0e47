"""Start-up checks of `callcenter serve` and `callcenter db`: a wrong setting is one clear line.

Each check returns None when all is well, else ONE line saying what is wrong and
which setting to change; the command prints it and exits 2 instead of serving
with a broken configuration (and instead of a traceback).

- `database_problem`: DATABASE_URL reachable (a trivial query within 10 s).
- `ami_problem` (AMI_ENABLED only): Asterisk answers on AMI_HOST:AMI_PORT and
  accepts the login. A refused login (wrong AMI_SECRET, or manager.conf's permit
  list not admitting this host) is an error; Asterisk not answering yet is not
  (it may still be starting; the AMI client keeps reconnecting), only logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.engine import make_url

from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.telephony.asterisk import ami_actions
from callcenter.telephony.asterisk.ami_protocol import (
    NEED_DATA,
    AmiConnection,
    AmiGreeting,
    AmiResponse,
    ConnectionClosed,
)

log = logging.getLogger(__name__)
DB_TIMEOUT_S = 10.0
AMI_TIMEOUT_S = 5.0


def shown_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable)"


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]


async def database_problem(settings: Settings) -> str | None:
    try:
        db = Database.open(settings.database_url, pool_size=1)
    except Exception as exc:  # a malformed URL or a missing driver
        return (f"DATABASE_URL {shown_url(settings.database_url)!r} is not usable ({_reason(exc)}); "
                "set DATABASE_URL to e.g. postgresql+asyncpg://USER:PASSWORD@HOST:5432/NAME")
    try:
        await asyncio.wait_for(db.ping(), DB_TIMEOUT_S)
    except Exception as exc:
        return (f"cannot reach the database {shown_url(settings.database_url)} "
                f"({_reason(exc) if not isinstance(exc, TimeoutError) else 'no answer in 10 s'}); "
                "set DATABASE_URL to a reachable database (and its password)")
    finally:
        with contextlib.suppress(Exception):
            await db.close()
    return None


async def ami_problem(settings: Settings) -> str | None:
    if not settings.ami_enabled:
        return None
    where = f"{settings.ami_host}:{settings.ami_port}"
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(settings.ami_host, settings.ami_port), AMI_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        log.warning("AMI at %s not reachable yet (%s); the client keeps trying", where, _reason(exc))
        return None
    conn = AmiConnection()
    try:
        answer = await asyncio.wait_for(_login(reader, writer, conn, settings), AMI_TIMEOUT_S)
    except Exception as exc:
        log.warning("AMI at %s did not answer the login (%s); the client keeps trying",
                    where, _reason(exc))
        return None
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    if answer is None or answer.ok:
        return None
    return (f"Asterisk's AMI at {where} refused the login of {settings.ami_user!r} "
            f"({answer.message or 'no reason'}): set AMI_SECRET to the Asterisk "
            "side's AMI_SECRET, and AMI_PERMIT there (manager.conf permit) to admit this host")


async def _login(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 conn: AmiConnection, settings: Settings) -> AmiResponse | None:
    sent = False
    while True:
        data = await reader.read(65536)
        conn.receive_data(data)
        while (item := conn.next_event()) is not NEED_DATA:
            if isinstance(item, ConnectionClosed):
                return None
            if isinstance(item, AmiGreeting) and not sent:
                writer.write(conn.send(ami_actions.login(
                    "preflight-1", settings.ami_user, settings.ami_secret.get_secret_value(), "off")))
                sent = True
            elif isinstance(item, AmiResponse) and item.action_id == "preflight-1":
                with contextlib.suppress(Exception):
                    writer.write(conn.send(ami_actions.logoff("preflight-2")))
                return item


def startup_problem(settings: Settings, *, ami: bool = True) -> str | None:
    """The first problem of the database, then AMI; None when the service can start."""

    async def both() -> str | None:
        return await database_problem(settings) or (await ami_problem(settings) if ami else None)

    return asyncio.run(both())
