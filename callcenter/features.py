"""The feature modules the app factory mounts, in order.

Each entry is a `setup(app)` that adds routes, cleanup contexts and periodic
jobs (`app[JOB_LOOP].add(...)`) for one concern.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from callcenter.web import home

FEATURES: list[Callable[[web.Application], None]] = [
    home.setup,
]
