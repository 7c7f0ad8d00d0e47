"""Structured logging: one JSON object per line, carrying the call id of the current call.

Entrypoints bind the carrier's call id (`agi_uniqueid`, `CallSid`) with
`bind_call_id(...)`; every line logged in that task then carries it as the
`call_id` field. Phone numbers are masked at INFO (`mask_number`).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

call_id_var: ContextVar[str | None] = ContextVar("call_id", default=None)

_STD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


@contextmanager
def bind_call_id(call_id: str | None) -> Iterator[None]:
    token = call_id_var.set(call_id)
    try:
        yield
    finally:
        call_id_var.reset(token)


def mask_number(number: str | None) -> str:
    """+8613800138000 -> +86138****8000: enough to recognise, not to dial."""
    if not number:
        return ""
    if len(number) <= 7:
        return "*" * len(number)
    return number[:6] + "****" + number[-4:]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        call_id = call_id_var.get()
        if call_id:
            out["call_id"] = call_id
        for key, value in vars(record).items():
            if key not in _STD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        call_id = call_id_var.get()
        base = super().format(record)
        return f"{base} [call {call_id}]" if call_id else base


def setup_logging(level: str = "INFO", json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
