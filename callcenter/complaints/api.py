"""The complaints API (`/api/complaints...`) and `setup`, which mounts all of complaints.

Guarantees:
- Routes are thin: parse with pydantic (bad input is 422 with one message per
  field), call one use case, answer JSON. Refused transitions are 409 and
  name the allowed actions; unknown ids 404; another department's complaint
  403; never a 500 for bad input.
- Roles (`crm.enums.Role`): agents open and read their department's
  complaints (and the ones below it; the hotline every department's), managers
  also assign,
  owners (and managers) progress them; the follow-up verdict (and so the
  closing of a resolved complaint) is recorded by callback staff or a
  supervisor from outside the complaint's department (checked in the use
  case); supervisors otherwise read everything and change nothing.
- `setup(app)` mounts these routes, the managers' page (`complaints.page`),
  the public form (`complaints.form`) and the escalation job on the job loop.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from functools import wraps
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from callcenter.appkeys import CLOCK, DB, SETTINGS
from callcenter.complaints import form as complaint_form
from callcenter.complaints import page as complaint_page
from callcenter.complaints import recordings
from callcenter.complaints.policy import complaint_policy
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.web.api.routing import describe
from callcenter.web.auth import current, requires
from callcenter.web.edge import MAX_DB_ID, path_id
from callcenter.web.errors import BadRequest, parse_json
from crm.access import COMPLAINT_OPENERS, VERDICT_ROLES
from crm.complaint_rules import NUMBER_CONFIRMERS
from crm.complaints import OPEN_STATES, allowed_actions
from crm.enums import ComplaintCategory, ComplaintChannel, ComplaintState, Role
from crm.errors import CrmError
from crm.services.complaint_confirmation import confirm_complaint_number
from crm.services.complaint_escalation import (
    ComplaintQuery,
    ComplaintView,
    list_complaints,
    state_counts,
)
from crm.services.complaints import (
    Actor,
    ComplaintRecord,
    ComplaintStep,
    FlagComplaint,
    HistoryRow,
    OpenComplaint,
    assign_complaint,
    close_complaint,
    complaint_history,
    flag_complaint,
    get_complaint,
    open_complaint,
    record_followup_verdict,
    reopen_complaint,
    resolve_complaint,
    start_complaint,
)

MAX_ID = MAX_DB_ID
M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TAG = "complaints"
ONE = "/api/complaints/{complaint_id}"
READERS = (Role.AGENT, Role.TECHNICIAN, Role.MANAGER, Role.SUPERVISOR, Role.CALLBACK_STAFF)
WORKERS = (Role.AGENT, Role.TECHNICIAN, Role.MANAGER, Role.CALLBACK_STAFF)
VERDICT = VERDICT_ROLES  # and outside the complaint's department (checked in the use case)
Note = Annotated[str, Field(max_length=2000)]
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenIn(In):
    customer_id: DbId
    category: ComplaintCategory
    description: Annotated[str, Field(max_length=5000)] = ""
    channel: ComplaintChannel = ComplaintChannel.AGENT
    compensation_claimed: Annotated[Decimal, Field(ge=0, le=10**9, decimal_places=2)] | None = None
    emotional: bool = False
    contradictory_answers: bool = False
    job_id: DbId | None = None
    call_id: DbId | None = None
    notes: list[Note] = Field(default_factory=list, max_length=20)
    disrespected: bool = False
    product: Annotated[str, Field(max_length=120)] | None = None
    site: Annotated[str, Field(max_length=200)] | None = None


class AssignIn(In):
    owner_id: DbId
    note: Note = ""


class StepIn(In):
    note: Note = ""


class ResolveIn(In):
    resolution: Annotated[str, Field(min_length=1, max_length=5000)]


class FlagsIn(In):
    emotional: bool = False
    contradictory_answers: bool = False
    note: Note = ""
    disrespected: bool = False


class VerdictIn(In):
    verdict: Annotated[str, Field(min_length=1, max_length=40)]  # any spelling: the use case parses
    note: Note = ""


class ListQueryIn(In):
    view: ComplaintView = ComplaintView.STATE
    state: ComplaintState | None = None
    limit: int = Field(200, ge=1, le=1000)
    q: Annotated[str, Field(max_length=100)] | None = Field(
        None, description="a ticket, a customer's name or any of their numbers")


class NotificationsQueryIn(In):
    unread: bool = Field(True, description="only the unread ones")


# -- JSON shapes ---------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def complaint_json(record: ComplaintRecord, now: datetime | None = None) -> dict[str, Any]:
    overdue = bool(
        now and record.resolve_due_at and record.state in _OPEN and now > record.resolve_due_at
    )
    return {
        "complaint_id": record.complaint_id,
        "ticket": record.ticket,
        "customer_id": record.customer_id,
        "channel": str(record.channel),
        "category": str(record.category),
        "description": record.description,
        # where the caller's recording plays (for readers only); never the file path or the
        # carrier's URL, and never settable from outside: only the IVR stores a recording
        "recording": f"/complaints/{record.complaint_id}/recording" if record.recording_url else None,
        "compensation_claimed": str(record.compensation_claimed) if record.compensation_claimed is not None else None,
        "severity": str(record.severity),
        "major": record.major,
        "major_reasons": [str(r) for r in record.major_reasons],
        "emotional": record.emotional,
        "contradictory_answers": record.contradictory_answers,
        "disrespected": record.disrespected,
        "product": record.product,
        "site": record.site,
        "group_id": record.group_id,
        "acknowledged_at": _iso(record.acknowledged_at),
        "owner_id": record.owner_id,
        "department_id": record.department_id,
        "job_id": record.job_id,
        # the job whose department and technician it is charged to (`job_id`, else the
        # customer's recent job); see the opening history row
        "charged_job_id": record.charged_job_id,
        "call_id": record.call_id,
        "state": str(record.state),
        "allowed_actions": [str(a) for a in allowed_actions(record.state)],
        "escalation_level": record.escalation_level,
        "opened_at": _iso(record.opened_at),
        "respond_due_at": _iso(record.respond_due_at),
        "resolve_due_at": _iso(record.resolve_due_at),
        "first_response_at": _iso(record.first_response_at),
        "resolved_at": _iso(record.resolved_at),
        "closed_at": _iso(record.closed_at),
        "overdue": overdue,
        "resolution": record.resolution,
        "verdict": str(record.verdict) if record.verdict else None,
        "version": record.version,
    }


_OPEN = OPEN_STATES


def history_json(row: HistoryRow) -> dict[str, Any]:
    return {
        "at": row.at.isoformat(), "who": row.actor_label, "actor_id": row.actor_id,
        "action": row.action, "from": str(row.from_state) if row.from_state else None,
        "to": str(row.to_state) if row.to_state else None, "note": row.note,
    }


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body, ensure_ascii=False), content_type="application/json"
    )


# -- helpers -------------------------------------------------------------------------------


def _uow(request: web.Request) -> SqlUnitOfWork:
    return SqlUnitOfWork(request.app[DB])


def _id(request: web.Request) -> int:
    return path_id(request, "complaint_id")


async def _body(request: web.Request, model: type[M]) -> M:
    raw = await parse_json(request) if request.body_exists else {}
    if not isinstance(raw, dict):
        raise BadRequest("send a JSON object", [{"field": "body", "message": "not an object"}])
    return model.model_validate(raw)


def bad_values_are_422(handler: Handler) -> Handler:
    """A domain error that rejects a value (a `CrmError` and `ValueError` without its own
    `http_status`, e.g. a naive time or a bad phone number) is the caller's fault: 422."""

    @wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except CrmError as exc:
            if isinstance(exc, ValueError) and getattr(type(exc), "http_status", None) is None:
                raise BadRequest(str(exc), [{"field": "body", "message": str(exc)}]) from exc
            raise

    return guarded


def _actor(request: web.Request) -> Actor:
    return Actor.of(current(request))


# -- API -----------------------------------------------------------------------------------


@describe("GET", "/api/complaints", summary="Complaints you may read, by state or by deadline",
          tag=TAG, query=ListQueryIn)
@requires(*READERS)
@bad_values_are_422
async def list_api(request: web.Request) -> web.Response:
    query = ListQueryIn.model_validate(dict(request.query))
    now = request.app[CLOCK]()
    records = await list_complaints(
        ComplaintQuery(query.view, query.state, query.limit, query.q), _uow(request),
        identity=current(request), now=now,
    )
    return _json({"view": str(query.view), "complaints": [complaint_json(r, now) for r in records]})


@describe("GET", "/api/complaints/counts", summary="How many complaints in each state", tag=TAG)
@requires(*READERS)
@bad_values_are_422
async def counts_api(request: web.Request) -> web.Response:
    return _json({"states": await state_counts(_uow(request), identity=current(request))})


@describe("POST", "/api/complaints", summary="Open a complaint (owner, severity and deadlines are set)",
          tag=TAG, body=OpenIn, status=201)
@requires(*COMPLAINT_OPENERS)  # the use case checks the same tuple
@bad_values_are_422
async def open_api(request: web.Request) -> web.Response:
    body = await _body(request, OpenIn)
    opened = await open_complaint(
        OpenComplaint(
            customer_id=body.customer_id, channel=body.channel, category=body.category,
            description=body.description,
            compensation_claimed=body.compensation_claimed, emotional=body.emotional,
            contradictory_answers=body.contradictory_answers, job_id=body.job_id,
            call_id=body.call_id, actor=_actor(request), notes=tuple(body.notes),
            disrespected=body.disrespected, product=body.product, site=body.site,
        ),
        _uow(request), clock=request.app[CLOCK], policy=complaint_policy(request.app[SETTINGS]),
    )
    return _json(
        {
            "complaint_id": opened.complaint_id, "ticket": opened.ticket,
            "severity": str(opened.severity), "major_reasons": [str(r) for r in opened.major_reasons],
            "owner_id": opened.owner_id, "department_id": opened.department_id,
            "charged_job_id": opened.charged_job_id, "state": str(opened.state), "resolve_due_at": opened.resolve_due_at.isoformat(),
        },
        201,
    )


@describe("GET", ONE, summary="One complaint with its history", tag=TAG)
@requires(*READERS)
@bad_values_are_422
async def get_api(request: web.Request) -> web.Response:
    complaint_id = _id(request)
    identity = current(request)
    record = await get_complaint(complaint_id, _uow(request), identity=identity)
    history = await complaint_history(complaint_id, _uow(request), identity=identity)
    body = complaint_json(record, request.app[CLOCK]())
    body["history"] = [history_json(h) for h in history]
    return _json(body)


@describe("GET", ONE + "/history", summary="A complaint's history", tag=TAG)
@requires(*READERS)
@bad_values_are_422
async def history_api(request: web.Request) -> web.Response:
    rows = await complaint_history(_id(request), _uow(request), identity=current(request))
    return _json({"history": [history_json(h) for h in rows]})


@describe("POST", ONE + "/assign", summary="Give the complaint an owner", tag=TAG, body=AssignIn)
@requires(Role.MANAGER)
@bad_values_are_422
async def assign_api(request: web.Request) -> web.Response:
    body = await _body(request, AssignIn)
    record = await assign_complaint(
        _id(request), body.owner_id, _actor(request), _uow(request), clock=request.app[CLOCK], note=body.note,
        policy=complaint_policy(request.app[SETTINGS]),
    )
    return _json(complaint_json(record))


@describe("POST", ONE + "/start", summary="Start handling (first response)", tag=TAG, body=StepIn)
@requires(*WORKERS)
@bad_values_are_422
async def start_api(request: web.Request) -> web.Response:
    body = await _body(request, StepIn)
    step = ComplaintStep(_id(request), _actor(request), body.note)
    return _json(complaint_json(await start_complaint(step, _uow(request), clock=request.app[CLOCK])))


@describe("POST", ONE + "/resolve", summary="Record how it was solved", tag=TAG, body=ResolveIn)
@requires(*WORKERS)
@bad_values_are_422
async def resolve_api(request: web.Request) -> web.Response:
    body = await _body(request, ResolveIn)
    step = ComplaintStep(_id(request), _actor(request), body.resolution)
    record = await resolve_complaint(step, _uow(request), clock=request.app[CLOCK])
    return _json(complaint_json(record))


@describe("POST", ONE + "/close", summary="Close the complaint", tag=TAG, body=StepIn)
@requires(*VERDICT, admin=False)
@bad_values_are_422
async def close_api(request: web.Request) -> web.Response:
    body = await _body(request, StepIn)
    step = ComplaintStep(_id(request), _actor(request), body.note)
    return _json(complaint_json(await close_complaint(step, _uow(request), clock=request.app[CLOCK])))


@describe("POST", ONE + "/reopen", summary="Reopen the complaint", tag=TAG, body=StepIn)
@requires(*WORKERS)
@bad_values_are_422
async def reopen_api(request: web.Request) -> web.Response:
    body = await _body(request, StepIn)
    step = ComplaintStep(_id(request), _actor(request), body.note)
    record = await reopen_complaint(
        step, _uow(request), clock=request.app[CLOCK], policy=complaint_policy(request.app[SETTINGS])
    )
    return _json(complaint_json(record))


@describe("POST", ONE + "/flags", summary="Flag an emotional caller or contradictory answers",
          tag=TAG, body=FlagsIn)
@requires(Role.AGENT, Role.MANAGER)
@bad_values_are_422
async def flags_api(request: web.Request) -> web.Response:
    body = await _body(request, FlagsIn)
    cmd = FlagComplaint(_id(request), _actor(request), body.emotional, body.contradictory_answers, body.note,
                        disrespected=body.disrespected)
    record = await flag_complaint(
        cmd, _uow(request), clock=request.app[CLOCK], policy=complaint_policy(request.app[SETTINGS])
    )
    return _json(complaint_json(record))


@describe("POST", ONE + "/verdict", summary="The follow-up call's verdict (satisfied closes, not satisfied reopens)",
          tag=TAG, body=VerdictIn)
@requires(*VERDICT, admin=False)
@bad_values_are_422
async def verdict_api(request: web.Request) -> web.Response:
    body = await _body(request, VerdictIn)
    record = await record_followup_verdict(
        _id(request), body.verdict, _uow(request), clock=request.app[CLOCK], actor=_actor(request),
        note=body.note, policy=complaint_policy(request.app[SETTINGS]),
    )
    return _json(complaint_json(record))


class ConfirmNumberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Note = ""


@describe("POST", ONE + "/confirm-number",
          summary="Confirm a public-form complaint's number is the complainer's (it then counts)",
          tag=TAG, body=ConfirmNumberIn)
@requires(*NUMBER_CONFIRMERS)
@bad_values_are_422
async def confirm_number_api(request: web.Request) -> web.Response:
    body = await _body(request, ConfirmNumberIn)
    at = await confirm_complaint_number(_id(request), _uow(request), at=request.app[CLOCK](),
                                        identity=current(request), note=body.note)
    return _json({"complaint_id": _id(request), "number_confirmed_at": at.isoformat()})


@describe("GET", "/api/complaints/notifications", summary="Your complaint notifications",
          tag=TAG, query=NotificationsQueryIn)
@requires(*READERS)
@bad_values_are_422
async def notifications_api(request: web.Request) -> web.Response:
    unread = NotificationsQueryIn.model_validate(dict(request.query)).unread
    uow = _uow(request)
    async with uow:
        rows = await uow.complaints.notifications(current(request).staff_id, unread_only=unread)
    return _json({"notifications": rows})


@describe("POST", "/api/complaints/notifications/{notification_id}/read", summary="Mark a notification read",
          tag=TAG, response=None, status=204)
@requires(*READERS)
@bad_values_are_422
async def read_notification_api(request: web.Request) -> web.Response:
    notification_id = path_id(request, "notification_id")
    uow = _uow(request)
    async with uow:
        found = await uow.complaints.mark_read(current(request).staff_id, notification_id,
                                               request.app[CLOCK]())
        await uow.commit()
    if not found:
        raise web.HTTPNotFound(reason=f"no notification {notification_id} of yours")
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    complaint_policy(app[SETTINGS])  # a malformed setting stops start-up, not the first complaint
    r = app.router
    one = ONE
    r.add_get("/api/complaints", list_api)
    r.add_post("/api/complaints", open_api)
    r.add_get("/api/complaints/counts", counts_api)
    r.add_get("/api/complaints/notifications", notifications_api)
    r.add_post("/api/complaints/notifications/{notification_id}/read", read_notification_api)
    r.add_get(one, get_api)
    r.add_get(one + "/history", history_api)
    r.add_post(one + "/assign", assign_api)
    r.add_post(one + "/start", start_api)
    r.add_post(one + "/resolve", resolve_api)
    r.add_post(one + "/close", close_api)
    r.add_post(one + "/reopen", reopen_api)
    r.add_post(one + "/flags", flags_api)
    r.add_post(one + "/verdict", verdict_api)
    r.add_post(one + "/confirm-number", confirm_number_api)
    r.add_get("/complaints", complaint_page.page)
    r.add_get("/complaints/{complaint_id}", complaint_page.detail)
    recordings.setup(app)
    complaint_form.setup(app)
