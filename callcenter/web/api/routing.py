"""One way to declare an API route, so validation, roles and the OpenAPI document agree.

Guarantees:
- Every route declared with `@api(...)` requires a login and one of its roles
  (`callcenter.web.auth.requires`).
- The JSON body and the query string are parsed by the route's pydantic
  models: garbage JSON, wrong types and out-of-range values are 422 with one
  message per field, never a 500.
- Path ids outside 1..2**31-1 are 404 (no such row), before any query
  (`callcenter.web.edge.path_id`).
- Domain errors that reject a value (`CrmError` + `ValueError`) become 422;
  `InvalidTransition` 409; `UnknownCustomer` 404. Others carry `http_status`.
- `ROUTES` lists every declared route. Routes written by hand elsewhere
  (complaints, callbacks, campaigns, reports) carry `@describe(...)`; both
  register their `Endpoint` in `DESCRIBED`, from which
  `callcenter.web.api.openapi` builds the document for every route under
  `/api/` in the app's router (a test fails on any route without one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from callcenter.appkeys import CLOCK, DB, SETTINGS
from callcenter.settings import Settings
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.web.auth import current, requires
from callcenter.web.edge import MAX_DB_ID
from callcenter.web.edge import path_id as edge_path_id
from callcenter.web.errors import BadRequest, json_error, validation_errors
from crm.enums import Role
from crm.errors import CrmError, InvalidPhoneNumber, InvalidTransition, UnknownCustomer
from crm.identity import Identity

M = TypeVar("M", bound=BaseModel)
MAX_ID = MAX_DB_ID


@dataclass
class ApiCall:
    """What a handler gets: the request, who is calling, the parsed body and query."""

    request: web.Request
    identity: Identity
    body: Any = None
    query: Any = None

    @property
    def settings(self) -> Settings:
        return self.request.app[SETTINGS]

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.request.app[DB])

    def now(self) -> Any:
        return self.request.app[CLOCK]()

    def path_id(self, name: str) -> int:
        return edge_path_id(self.request, name)


@dataclass
class Endpoint:
    method: str
    path: str
    summary: str
    roles: tuple[Role, ...]
    tag: str
    body: type[BaseModel] | type[str] | None = None
    query: type[BaseModel] | None = None
    response: Any = None  # a pydantic model, list[model], or None (204)
    status: int = 200
    path_params: tuple[str, ...] = field(default_factory=tuple)
    body_media: str = "application/json"
    path_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)


Route = Callable[[web.Request], Awaitable[web.StreamResponse]]
ROUTES: list[tuple[Endpoint, Route]] = []
#: route handler (as added to the router) -> its description
DESCRIBED: dict[object, Endpoint] = {}
Handler = Callable[[ApiCall], Awaitable[Any]]
R = TypeVar("R", bound=Route)


def _path_params(path: str) -> tuple[str, ...]:
    return tuple(p.strip("{}").split(":")[0] for p in path.split("/") if p.startswith("{"))


def describe(
    method: str,
    path: str,
    *,
    summary: str,
    tag: str,
    body: type[BaseModel] | type[str] | None = None,
    query: type[BaseModel] | None = None,
    response: Any = dict[str, Any],
    status: int = 200,
    body_media: str = "application/json",
    path_schemas: dict[str, dict[str, Any]] | None = None,
) -> Callable[[R], R]:
    """Describe a hand-written route for the OpenAPI document (who may call it is
    read from its `@requires` / `@public` rule). Changes no behaviour.
    `response`: a model or type of the JSON answer, None for no body, `Any` for
    answers in several media types."""

    def wrap(route: R) -> R:
        DESCRIBED[route] = Endpoint(
            method, path, summary, (), tag, body, query, response,
            status, _path_params(path), body_media, path_schemas or {})
        return route

    return wrap


def endpoint_of(handler: object) -> Endpoint | None:
    return DESCRIBED.get(handler)


def _field_of(exc: CrmError) -> str:
    if isinstance(exc, InvalidPhoneNumber):
        return "phone"
    name = type(exc).__name__
    return {"InvalidDemandLevel": "demand_level"}.get(name, "body")


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def dump(value: Any, response: Any) -> bytes:
    """`value` (domain dataclasses or models) validated as `response`, as JSON bytes."""
    if response is None:
        return b""
    adapter = _ADAPTERS.get(response)
    if adapter is None:
        adapter = _ADAPTERS[response] = TypeAdapter(response)
    return adapter.dump_json(adapter.validate_python(value, from_attributes=True))


def api(
    method: str,
    path: str,
    *,
    summary: str,
    roles: tuple[Role, ...],
    tag: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
) -> Callable[[Handler], Handler]:
    """Declare an API route; the handler returns what `response` describes."""
    endpoint = Endpoint(method, path, summary, roles, tag, body, query, response, status,
                        _path_params(path))

    def wrap(handler: Handler) -> Handler:
        @requires(*roles)
        async def route(request: web.Request) -> web.StreamResponse:
            call = ApiCall(request, current(request))
            if query is not None:
                call.query = query.model_validate(dict(request.query))
            if body is not None:
                raw = await request.read()
                if not raw.strip():
                    raise BadRequest("send a JSON body", [{"field": "body", "message": "empty body"}])
                call.body = body.model_validate_json(raw)
            try:
                result = await handler(call)
            except InvalidTransition as exc:
                return json_error(409, str(exc), kind=type(exc).__name__)
            except UnknownCustomer as exc:
                return json_error(404, str(exc), kind=type(exc).__name__)
            except ValidationError as exc:
                raise BadRequest("invalid input", validation_errors(exc)) from exc
            except CrmError as exc:
                if isinstance(exc, ValueError) and getattr(type(exc), "http_status", None) is None:
                    raise BadRequest(str(exc), [{"field": _field_of(exc), "message": str(exc)}]) from exc
                raise
            if isinstance(result, web.StreamResponse):
                return result
            if response is None:
                return web.Response(status=204 if status == 200 else status)
            return web.Response(
                status=status, body=dump(result, response), content_type="application/json"
            )

        ROUTES.append((endpoint, route))
        DESCRIBED[route] = endpoint
        return handler

    return wrap


def mount(app: web.Application) -> None:
    for endpoint, route in ROUTES:
        app.router.add_route(endpoint.method, endpoint.path, route)
