"""The callback staff page and API: today's due callbacks, click to call, feedback by hand.

Routes (thin: parse, call one use case, answer):
- `GET /callbacks`: today's open callbacks (centre time), a call button and a
  feedback form per row (callback staff, supervisors, managers).
- `GET /api/callbacks?day=YYYY-MM-DD`: the same list in JSON (default today).
- `GET /api/callbacks/overdue`: callbacks past their deadline.
  A supervision callback with no trustworthy number to dial is listed with
  state `held`, `held: "no_trustworthy_number"` and `held_reason`
  (`crm.callback_numbers`); click to call releases it once one is on the record.
- `POST /api/callbacks/{id}/call`: dial it on the dispatcher's next pass.
- `POST /api/callbacks/{id}/complete` `{disposition, feedback}`: record the
  outcome; `confirmed` / `disputed` on a verification callback verify the
  survey and need a supervisor outside the scored department (001:
  supervision verifies; checked in `complete_callback`, refusals audited).
- `POST /api/campaigns?name=&flow=&window=09:00-20:00&max_concurrent=5`
  with the CSV as the body (`phone,customer_reference,name`): 422 lists
  every bad line and nothing is written; `flow` must name an outbound IVR
  flow (`ivr.OUTBOUND_FLOWS`), else no call of the campaign could be played.
The page's forms post to `/callbacks/{id}/call|complete` and come back to it.
"""

from __future__ import annotations

import html
from datetime import time, timedelta
from typing import Annotated, Any

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from callcenter.appkeys import CLOCK, DB, SETTINGS
from callcenter.complaints.policy import callback_problem_policy
from callcenter.offload import cpu_pool
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.web.api.routing import describe
from callcenter.web.auth import CSRF, current, requires
from callcenter.web.edge import SaneDate, path_id
from callcenter.web.errors import BadRequest, parse_json
from crm.access import CALLBACK_WORKERS, CAMPAIGN_UPLOADERS
from crm.call_windows import local_to_utc
from crm.errors import InvalidCallWindow
from crm.services.callback_lists import parse_campaign_csv, parse_window, upload_campaign
from crm.services.callback_ports import CallbackRecord
from crm.services.callbacks import call_now, complete_callback, due_on, past_deadline
from ivr.outbound import OUTBOUND_FLOWS

STAFF = CALLBACK_WORKERS  # the use cases check the same tuple


TAG = "callbacks"


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disposition: str = Field(min_length=1, max_length=40)
    feedback: str | None = Field(default=None, max_length=4000)


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(200, ge=1, le=500, description="at most this many (a campaign day has thousands)")
    offset: int = Field(0, ge=0, le=1_000_000)


class DayQuery(PageQuery):
    day: SaneDate | None = Field(None, description="centre-local day; default today")


def _known_flow(name: str) -> str:
    if name not in OUTBOUND_FLOWS:
        raise ValueError(f"unknown outbound flow {name!r}; one of {', '.join(OUTBOUND_FLOWS)}")
    return name


class CampaignQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)
    flow: Annotated[str, Field(max_length=40, json_schema_extra={"enum": list(OUTBOUND_FLOWS)}),
                    AfterValidator(_known_flow)]
    window: str = Field("09:00-20:00", max_length=20, pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")
    max_concurrent: int = Field(5, ge=1, le=1000)


def _uow(request: web.Request) -> SqlUnitOfWork:
    return SqlUnitOfWork(request.app[DB])


def as_json(cb: CallbackRecord) -> dict[str, Any]:
    return {
        "id": cb.id, "kind": cb.kind, "state": cb.state, "phone": cb.phone,
        "timezone": cb.timezone, "priority": cb.priority, "attempts": cb.attempts,
        "due_at": cb.due_at.isoformat(), "next_attempt_at": cb.next_attempt_at.isoformat(),
        "deadline_at": cb.deadline_at.isoformat() if cb.deadline_at else None,
        "customer_id": cb.customer_id, "complaint_id": cb.complaint_id, "job_id": cb.job_id,
        "survey_id": cb.survey_id, "campaign_id": cb.campaign_id, "flow": cb.flow,
        "disposition": cb.disposition, "feedback": cb.feedback,
        # a held supervision callback: why it is not dialled (`crm.callback_numbers`)
        "held": cb.data.get("held"), "held_reason": cb.data.get("held_reason"),
    }


async def _today(request: web.Request) -> list[CallbackRecord]:
    zone = request.app[SETTINGS].zone
    query = DayQuery.model_validate(dict(request.query))
    day = query.day or request.app[CLOCK]().astimezone(zone).date()
    start = local_to_utc(day, time(0), zone)
    return await due_on(start, local_to_utc(day + timedelta(days=1), time(0), zone),
                        _uow(request), current(request), limit=query.limit, offset=query.offset)


@describe("GET", "/api/callbacks", summary="The day's open callbacks (centre time)", tag=TAG,
          query=DayQuery)
@requires(*STAFF)
async def list_due(request: web.Request) -> web.Response:
    return web.json_response({"callbacks": [as_json(cb) for cb in await _today(request)]})


@describe("GET", "/api/callbacks/overdue", summary="Callbacks past their deadline, oldest first",
          tag=TAG, query=PageQuery)
@requires(*STAFF)
async def list_overdue(request: web.Request) -> web.Response:
    query = PageQuery.model_validate(dict(request.query))
    late = await past_deadline(_uow(request), request.app[CLOCK], current(request),
                               limit=query.limit, offset=query.offset)
    return web.json_response({"callbacks": [as_json(cb) for cb in late]})


async def _complete(request: web.Request, body: Feedback) -> CallbackRecord:
    # `confirmed` / `disputed` on a verification callback: the use case checks the supervisor
    return await complete_callback(path_id(request, "id"), body.disposition, body.feedback,
                                   current(request), _uow(request), request.app[CLOCK],
                                   problems=callback_problem_policy(request.app[SETTINGS]))


@describe("POST", "/api/callbacks/{id}/call", summary="Dial the callback on the next pass",
          tag=TAG, status=202)
@requires(*STAFF)
async def api_call(request: web.Request) -> web.Response:
    await call_now(path_id(request, "id"), current(request), _uow(request), request.app[CLOCK])
    return web.json_response({"queued": True}, status=202)


@describe("POST", "/api/callbacks/{id}/complete", summary="Record a callback's outcome by hand",
          tag=TAG, body=Feedback)
@requires(*STAFF)
async def api_complete(request: web.Request) -> web.Response:
    done = await _complete(request, Feedback.model_validate(await parse_json(request)))
    return web.json_response(as_json(done))


@requires(*STAFF)
async def page_call(request: web.Request) -> web.StreamResponse:
    await call_now(path_id(request, "id"), current(request), _uow(request), request.app[CLOCK])
    raise web.HTTPSeeOther("/callbacks")


@requires(*STAFF)
async def page_complete(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    await _complete(request, Feedback(disposition=str(form.get("disposition", "")),
                                      feedback=str(form.get("feedback", "")) or None))
    raise web.HTTPSeeOther("/callbacks")


@describe("POST", "/api/campaigns", summary="Upload a call list (CSV: phone,customer_reference,"
          "name) as a campaign", tag="campaigns", query=CampaignQuery, body=str,
          body_media="text/csv", status=201)
@requires(*CAMPAIGN_UPLOADERS)  # the use case checks the same tuple
async def api_upload_campaign(request: web.Request) -> web.Response:
    q = CampaignQuery.model_validate(dict(request.query))
    try:
        window = parse_window(q.window)
    except InvalidCallWindow as exc:
        raise BadRequest(str(exc), [{"field": "window", "message": str(exc)}]) from exc
    try:
        text = (await request.read()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the list is not UTF-8; save it as CSV UTF-8",
                         [{"field": "body", "message": "not UTF-8"}]) from exc
    # every number through libphonenumber (pure Python): a worker process, not the loop
    parsed = await cpu_pool(request.app).run_in_process(
        parse_campaign_csv, text, request.app[SETTINGS].default_region)
    if parsed.bad:
        raise BadRequest("the list has bad lines; nothing was imported", [
            {"field": f"line {b.line}", "message": "; ".join(b.reasons)} for b in parsed.bad])
    campaign_id, count = await upload_campaign(
        q.name, q.flow, window, parsed.rows, _uow(request),
        request.app[CLOCK], request.app[SETTINGS].timezone, q.max_concurrent,
        identity=current(request))
    return web.json_response({"campaign_id": campaign_id, "callbacks": count}, status=201)


def _row(cb: CallbackRecord, token: str, zone: Any) -> str:
    e = html.escape
    local = cb.next_attempt_at.astimezone(zone)
    deadline = cb.deadline_at.astimezone(zone).strftime("%m-%d %H:%M") if cb.deadline_at else ""
    hidden = f'<input type="hidden" name="csrf_token" value="{e(token)}">'
    reason = cb.data.get("held_reason")
    held = f"<br><small>{e(str(reason))}</small>" if reason else ""
    return (
        f"<tr><td>{cb.id}</td><td>{e(cb.kind)}</td><td>{e(cb.state)}{held}</td>"
        f'<td><a href="tel:{e(cb.phone)}">{e(cb.phone)}</a></td>'
        f"<td>{local:%H:%M}</td><td>{e(deadline)}</td><td>{cb.attempts}</td>"
        f'<td><form method="post" action="/callbacks/{cb.id}/call">{hidden}'
        f'<button type="submit">呼叫 Call</button></form></td>'
        f'<td><form method="post" action="/callbacks/{cb.id}/complete">{hidden}'
        f'<input name="disposition" placeholder="satisfied / dissatisfied / unreached" required>'
        f'<input name="feedback" placeholder="反馈 feedback">'
        f'<button type="submit">保存 Save</button></form></td></tr>'
    )


@requires(*STAFF)
async def page(request: web.Request) -> web.Response:
    zone = request.app[SETTINGS].zone
    rows = "".join(_row(cb, request.get(CSRF) or "", zone) for cb in await _today(request))
    body = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<title>回访 Callbacks</title><link rel="stylesheet" href="/static/app.css"></head>'
        f"<body><main><h1>今日回访 Today's callbacks</h1>"
        f"<p>{request.app[CLOCK]().astimezone(zone):%Y-%m-%d} · {html.escape(str(zone))}</p>"
        "<table><thead><tr><th>#</th><th>类型 Kind</th><th>状态 State</th><th>电话 Phone</th>"
        "<th>下次 Next</th><th>期限 Deadline</th><th>次数 Tries</th><th></th><th></th></tr>"
        f"</thead><tbody>{rows or '<tr><td colspan=9>无 None</td></tr>'}</tbody></table>"
        "</main></body></html>"
    )
    return web.Response(text=body, content_type="text/html")


def setup(app: web.Application) -> None:
    app.router.add_get("/callbacks", page)
    app.router.add_post("/callbacks/{id}/call", page_call)
    app.router.add_post("/callbacks/{id}/complete", page_complete)
    app.router.add_get("/api/callbacks", list_due)
    app.router.add_get("/api/callbacks/overdue", list_overdue)
    app.router.add_post("/api/callbacks/{id}/call", api_call)
    app.router.add_post("/api/callbacks/{id}/complete", api_complete)
    app.router.add_post("/api/campaigns", api_upload_campaign)
