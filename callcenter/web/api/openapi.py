"""`GET /api/openapi.json`: the OpenAPI 3.1 document, generated from the declared routes.

Guarantee: it lists every route under `/api/` in the app's router (declared
with `routing.api` or described with `routing.describe`), with their pydantic
request / response schemas, roles, and the error shapes (401, 403, 404, 409,
422). `undocumented(app)` names any route without a description (a test
keeps it empty).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from callcenter.appkeys import OPENAPI_DOCUMENT
from callcenter.web.api.routing import Endpoint, endpoint_of
from callcenter.web.auth import ACCESS_ATTR, Access, public
from callcenter.web.edge import MAX_DB_ID

ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string"}, "status": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}}}},
    },
    "required": ["error", "status"],
}


def _schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    schema = TypeAdapter(tp).json_schema(ref_template="#/components/schemas/{model}")
    defs.update(schema.pop("$defs", {}))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        defs[tp.__name__] = schema
        return {"$ref": f"#/components/schemas/{tp.__name__}"}
    return schema


def _path_parameter(ep: Endpoint, name: str) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "path", "required": True}
    if name in ep.path_schemas:
        param["schema"] = ep.path_schemas[name]
    elif name.endswith("_id") or name == "id":
        param["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_DB_ID}
        param["example"] = 1
    else:
        param["schema"] = {"type": "string"}
    return param


def _operation(ep: Endpoint, defs: dict[str, Any], access: Access | None) -> dict[str, Any]:
    public_route = access is not None and not access.login
    op: dict[str, Any] = {
        "summary": ep.summary, "tags": [ep.tag],
        "description": "Who: " + (access.describe() if access else "?") + ".",
        "parameters": [
            _path_parameter(ep, p) for p in ep.path_params
        ],
        "responses": {
            "401": {"$ref": "#/components/responses/Error"},
            "403": {"$ref": "#/components/responses/Error"},
            "409": {"$ref": "#/components/responses/Error"},
            "422": {"$ref": "#/components/responses/Error"},
        },
    }
    if public_route:
        op["security"] = []
    if ep.path_params:
        op["responses"]["404"] = {"$ref": "#/components/responses/Error"}
    if ep.query is not None:
        query_schema = TypeAdapter(ep.query).json_schema(ref_template="#/components/schemas/{model}")
        defs.update(query_schema.pop("$defs", {}))
        props = query_schema.get("properties", {})
        required = set(ep.query.model_json_schema().get("required", []))
        op["parameters"] += [
            {"name": name, "in": "query", "required": name in required, "schema": prop}
            for name, prop in props.items()
        ]
    if ep.body is not None:
        op["requestBody"] = {"required": True, "content": {
            ep.body_media: {"schema": _schema(ep.body, defs)}}}
    if ep.response is Any:  # several media types (reports: json, csv, xlsx, html, pdf)
        op["responses"][str(ep.status)] = {"description": "ok"}
    elif ep.response is None:
        op["responses"][str(ep.status if ep.status != 200 else 204)] = {"description": "done"}
    else:
        op["responses"][str(ep.status)] = {"description": "ok", "content": {
            "application/json": {"schema": _schema(ep.response, defs)}}}
    return op


def _api_routes(app: web.Application) -> list[tuple[str, str, object]]:
    """(method, path template, handler) of every route under /api/ (HEAD twins left out)."""
    found: list[tuple[str, str, object]] = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = str(info.get("formatter") or info.get("path") or "")
        if path.startswith("/api/") and route.method != "HEAD":
            found.append((route.method, path, route.handler))
    return found


def undocumented(app: web.Application) -> list[str]:
    return [f"{method} {path}" for method, path, handler in _api_routes(app)
            if endpoint_of(handler) is None]


def document(app: web.Application) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    endpoints = []
    for method, path, handler in _api_routes(app):
        ep = endpoint_of(handler)
        if ep is None:
            continue
        endpoints.append(ep)
        access = getattr(handler, ACCESS_ATTR, None)
        paths.setdefault(path, {})[method.lower()] = _operation(ep, defs, access)
    models = [ep.body for ep in endpoints if isinstance(ep.body, type) and issubclass(ep.body, BaseModel)]
    _, extra = models_json_schema([(m, "validation") for m in models],
                                  ref_template="#/components/schemas/{model}")
    defs.update(extra.get("$defs", {}))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Call-center hotline API", "version": "1",
                 "description": "Customers, phones, contacts, calls, jobs, leads, complaints, "
                                "callbacks, campaigns, reports. Log in with the session cookie "
                                "(send X-CSRF-Token on changes) or a Bearer token."},
        "paths": paths,
        "components": {
            "schemas": defs,
            "responses": {"Error": {"description": "error", "content": {
                "application/json": {"schema": ERROR}}}},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "cc_session"},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }


@public("the API description, like any published API")
async def openapi_json(request: web.Request) -> web.Response:
    # made by the first request: the routes are fixed once the app runs, and making it
    # costs ~60 ms of the loop (pydantic schemas), on a public route
    made = request.app[OPENAPI_DOCUMENT]
    if "json" not in made:
        made["json"] = json.dumps(document(request.app)).encode()
    return web.Response(body=made["json"], content_type="application/json")
