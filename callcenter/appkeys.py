"""Typed keys for what the app factory puts on the aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from callcenter.clock import Clock
from callcenter.jobs import JobLoop
from callcenter.settings import Settings
from callcenter.storage.engine import Database

if TYPE_CHECKING:
    pass

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
CLOCK = web.AppKey("clock", Clock)
JOB_LOOP = web.AppKey("job_loop", JobLoop)
# Feature modules hang their long-lived objects here by name (AMI client, event bus, dialer...).
SERVICES = web.AppKey("services", dict[str, Any])
