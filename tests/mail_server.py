"""A real SMTP server for tests: aiosmtpd on a free port, keeping what it accepts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.conftest import free_port


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.content, policy=policy.default)  # type: ignore[attr-defined]
        self.messages.append((list(envelope.rcpt_tos), parsed))  # type: ignore[attr-defined, arg-type]
        return "250 Message accepted for delivery"


@contextmanager
def running_smtp() -> Iterator[tuple[Inbox, int]]:
    """Start aiosmtpd on 127.0.0.1 (its own thread); stop it when the block ends."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
