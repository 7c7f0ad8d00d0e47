"""`GET /api/openapi.json`: the OpenAPI 3.1 document, generated from the declared routes.

Guarantee: it lists exactly the routes in `routing.ROUTES`, with their pydantic
request / response schemas, roles, and the error shapes (401, 403, 404, 422).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from callcenter.web.api.routing import ROUTES, Endpoint
from callcenter.web.auth import public

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


def _operation(ep: Endpoint, defs: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": ep.summary, "tags": [ep.tag],
        "description": "Roles: " + (", ".join(r.value for r in ep.roles) or "any logged-in staff")
        + " (admin always).",
        "parameters": [
            {"name": p, "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1} if p.endswith("_id") else {"type": "string"}}
            for p in ep.path_params
        ],
        "responses": {
            "401": {"$ref": "#/components/responses/Error"},
            "403": {"$ref": "#/components/responses/Error"},
            "422": {"$ref": "#/components/responses/Error"},
        },
    }
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
            "application/json": {"schema": _schema(ep.body, defs)}}}
    if ep.response is None:
        op["responses"][str(ep.status if ep.status != 200 else 204)] = {"description": "done"}
    else:
        op["responses"][str(ep.status)] = {"description": "ok", "content": {
            "application/json": {"schema": _schema(ep.response, defs)}}}
    return op


def document() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for ep, _route in ROUTES:
        paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep, defs)
    models = [ep.body for ep, _ in ROUTES if isinstance(ep.body, type) and issubclass(ep.body, BaseModel)]
    _, extra = models_json_schema([(m, "validation") for m in models],
                                  ref_template="#/components/schemas/{model}")
    defs.update(extra.get("$defs", {}))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Call-center hotline API", "version": "1",
                 "description": "Customers, phones, contacts, calls, jobs, leads. Log in with the "
                                "session cookie (send X-CSRF-Token on changes) or a Bearer token."},
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
    return web.json_response(document())
