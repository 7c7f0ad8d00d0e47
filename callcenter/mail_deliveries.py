"""Send an e-mail once per key and keep a record of what was sent (`mail_deliveries`).

Guarantees:
- The record is claimed (committed, status ``sending``) before the message is
  handed to SMTP, so two job-loop processes never both send the same key: the
  unique key lets one insert win. A ``failed`` record (or a ``sending`` one
  older than `STALE_AFTER`: its process died) is claimed again on a later
  pass, at most `MAX_ATTEMPTS` times.
- After the attempt the record says ``sent`` (with the time and Message-ID)
  or ``failed`` (with the reason); the recipients, subject and attachment
  names are kept either way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import and_, or_, select, update

from callcenter.mail import MailError, MailSettings, send_mail
from callcenter.storage.claims import claim
from callcenter.storage.engine import Database
from callcenter.storage.tables import MailDelivery

log = logging.getLogger(__name__)
STALE_AFTER = timedelta(minutes=30)
MAX_ATTEMPTS = 5

Build = Callable[[], Awaitable[EmailMessage]]


async def _claim(db: Database, key: str, kind: str, subject: str, to: Sequence[str], now: datetime) -> bool:
    return await claim(
        db, MailDelivery(key=key, kind=kind, subject=subject[:300], recipients=list(to),
                         attachments=[], status="sending", attempts=1, at=now),
        update(MailDelivery)
        .where(MailDelivery.key == key, MailDelivery.attempts < MAX_ATTEMPTS,
               or_(MailDelivery.status == "failed",
                   and_(MailDelivery.status == "sending", MailDelivery.at < now - STALE_AFTER)))
        .values(status="sending", at=now, attempts=MailDelivery.attempts + 1, recipients=list(to),
                error=None))


async def _finish(db: Database, key: str, **values: object) -> None:
    async with db.sessions() as session:
        await session.execute(update(MailDelivery).where(MailDelivery.key == key).values(**values))
        await session.commit()


async def deliver_once(
    db: Database, config: MailSettings, *, key: str, kind: str, subject: str, to: Sequence[str],
    build: Build, now: datetime,
) -> str | None:
    """Send the message `build()` makes unless `key` was sent (or is being sent) already.

    Returns "sent" or "failed" for an attempt this call made, None when it made none.
    """
    if not to or not config.configured:
        return None
    if not await _claim(db, key, kind, subject, to, now):
        return None
    names: list[str] = []
    try:
        message = await build()
        names = [part.get_filename() or "" for part in message.iter_attachments()]
        await send_mail(message, config)
    except MailError as exc:
        log.warning("mail %s not sent: %s", key, exc)
        await _finish(db, key, status="failed", error=str(exc)[:2000], attachments=names)
        return "failed"
    except Exception as exc:  # building the report failed: recorded, retried next pass
        log.exception("mail %s not built", key)
        await _finish(db, key, status="failed", error=f"building the message failed: {exc}"[:2000],
                      attachments=names)
        return "failed"
    await _finish(db, key, status="sent", sent_at=now, message_id=str(message["Message-ID"])[:200],
                  attachments=names)
    log.info("mail %s sent to %d recipient(s)", key, len(to))
    return "sent"


async def deliveries(db: Database, kind: str | None = None, limit: int = 500) -> list[MailDelivery]:
    """The record of what was sent, newest first, the latest `limit`."""
    async with db.sessions() as session:
        query = select(MailDelivery).order_by(MailDelivery.at.desc(), MailDelivery.id.desc())
        if kind is not None:
            query = query.where(MailDelivery.kind == kind)
        return list((await session.scalars(query.limit(limit))).all())
