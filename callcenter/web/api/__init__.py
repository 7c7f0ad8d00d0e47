"""The REST API under `/api/`: customers, phones, contacts, calls, jobs, leads, agent state.

`setup(app)` mounts every route declared with `routing.api` and the OpenAPI
document at `/api/openapi.json` (public, like any API description). The route
modules are imported by `setup`, so `callcenter.web.api.schemas` can be
imported on its own without import cycles.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter.appkeys import OPENAPI_DOCUMENT


def setup(app: web.Application) -> None:
    from callcenter.web.api import (  # noqa: F401  (declare)
        agent,
        agent_time,
        calls,
        contacts,
        customers,
        leads,
        wallboard,
    )
    from callcenter.web.api.openapi import openapi_json
    from callcenter.web.api.routing import describe, mount
    from callcenter.web.auth import whoami

    describe("GET", "/api/openapi.json", summary="This document", tag="meta",
             response=Any)(openapi_json)
    describe("GET", "/api/me", summary="Who is logged in (and the session's CSRF token)",
             tag="meta")(whoami)
    app.router.add_get("/api/openapi.json", openapi_json)
    app[OPENAPI_DOCUMENT] = {}
    mount(app)
