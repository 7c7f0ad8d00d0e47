"""The REST API under `/api/`: customers, phones, contacts, calls, jobs, leads, agent state.

`setup(app)` mounts every route declared with `routing.api` and the OpenAPI
document at `/api/openapi.json` (public, like any API description). The route
modules are imported by `setup`, so `callcenter.web.api.schemas` can be
imported on its own (the screen-pop uses it) without import cycles.
"""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    from callcenter.web.api import (  # noqa: F401  (declare)
        agent,
        calls,
        contacts,
        customers,
        leads,
        wallboard,
    )
    from callcenter.web.api.openapi import openapi_json
    from callcenter.web.api.routing import mount

    app.router.add_get("/api/openapi.json", openapi_json)
    mount(app)
