"""Outgoing e-mail over SMTP: reports (seed 000: 上报) and escalation notices.

Why the standard library: `smtplib` + `email.message.EmailMessage` are
maintained with CPython, speak STARTTLS, implicit TLS and AUTH, and build
correct MIME (UTF-8 subjects, HTML bodies, attachments); mail is a few
messages a day. The blocking conversation
runs in threads of its own (`callcenter.offload.IoThreads`), never on the event loop the calls
share nor in its default executor.

Guarantees:
- `send_mail` returns only once the server accepted the message for at least
  one recipient; otherwise it raises `MailError` saying what went wrong
  (refused recipients, connection, authentication), never a raw socket error.
- Nothing is sent when SMTP is not configured (`MailSettings.configured`);
  callers check it and record "not configured" instead of failing.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from callcenter.offload import IoThreads
from callcenter.settings import Settings

log = logging.getLogger(__name__)


class MailError(RuntimeError):
    """The message was not accepted; the text says why (and what to check)."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str


XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
PDF = ("application", "pdf")


@dataclass(frozen=True)
class MailSettings:
    host: str = ""
    port: int = 587
    security: str = "starttls"  # none | starttls | ssl
    username: str = ""
    password: str = field(default="", repr=False)
    sender: str = "hotline@localhost"
    timeout_s: float = 30.0

    @property
    def configured(self) -> bool:
        return bool(self.host.strip())

    @classmethod
    def of(cls, settings: Settings) -> MailSettings:
        return cls(
            host=settings.smtp_host, port=settings.smtp_port, security=settings.smtp_security,
            username=settings.smtp_username, password=settings.smtp_password.get_secret_value(),
            sender=settings.smtp_from, timeout_s=settings.smtp_timeout_s,
        )


def build_message(
    sender: str, to: Sequence[str], subject: str, html: str, text: str = "",
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """A multipart message: plain text and HTML alternatives, then the attachments."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message.set_content(text or "This message is best read as HTML.")
    message.add_alternative(html, subtype="html")
    for item in attachments:
        message.add_attachment(item.content, maintype=item.maintype, subtype=item.subtype,
                               filename=item.filename)
    return message


def _send_blocking(message: EmailMessage, config: MailSettings) -> None:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if config.security == "ssl":
        smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_s, context=context)
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
    with smtp:
        smtp.ehlo()
        if config.security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if config.username:
            smtp.login(config.username, config.password)
        refused = smtp.send_message(message)
    if refused:
        log.warning("SMTP server refused %d recipient(s): %s", len(refused), ", ".join(refused))


#: mail goes out a few at a time in threads of its own, never the loop's default executor
_SMTP_THREADS = IoThreads("smtp", 2)


async def send_mail(message: EmailMessage, config: MailSettings) -> None:
    """Hand `message` to the SMTP server (in a thread); raise `MailError` if it is not accepted."""
    if not config.configured:
        raise MailError("SMTP_HOST is not set: configure SMTP to send mail")
    try:
        await _SMTP_THREADS.run(_send_blocking, message, config)
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"every recipient was refused: {', '.join(exc.recipients)}") from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError("SMTP login refused: check SMTP_USERNAME / SMTP_PASSWORD") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(
            f"SMTP {config.host}:{config.port} ({config.security}) failed: {exc}; "
            "check SMTP_HOST, SMTP_PORT and SMTP_SECURITY"
        ) from exc
