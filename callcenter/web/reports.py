"""Reports on the web: `/api/reports/...` (JSON or a file) and the `/supervisor` page.

Guarantees (001: supervision is separated from execution):
- Supervision scores and re-runs: supervisors and admins only. Survey
  verification: a supervisor (the role; admin alone is not enough) outside
  the department the survey scores, checked in the use case. Operational reports (daily / weekly / monthly / KPIs):
  supervisors, managers and admins.
- Any logged-in staff member reads their *own* figures for a month
  (`/api/reports/supervision/me`) and nothing of anyone else's; no route
  here lets the scored staff change a survey, complaint or report.
- The page's verify / dispute buttons go through
  `crm.services.surveys.verify_survey` (role-checked, audited) with the
  session's CSRF token.
- Building (database reads, pandas) and rendering (charts, PDF, XLSX) run off
  the serving loop in the CPU pool (`callcenter.offload`), CPU_WORKERS at a time.
- The scheduled reports' jobs are in `callcenter.reporting.jobs`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from callcenter.appkeys import CLOCK, DB, SETTINGS
from callcenter.offload import cpu_pool, in_worker
from callcenter.reporting import exports, runs, scope, versions
from callcenter.reporting.config import supervision_rules
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.web.api.routing import describe
from callcenter.web.auth import CSRF, current, requires
from callcenter.web.errors import BadRequest, parse_json
from crm.access import InvalidChoice, parse_decision, parse_id
from crm.enums import Role
from crm.services.surveys import verify_survey
from reports.periods import Granularity, Month, report_window
from reports.versions import version_diff

T = TypeVar("T")

__all__ = ["setup"]

_KINDS = ("daily", "weekly", "monthly", "kpi")
_MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8",
          "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
          "html": "text/html; charset=utf-8", "pdf": "application/pdf"}

if TYPE_CHECKING:
    from callcenter.reporting.pending import PendingSurvey


BUILDERS = "callcenter.reporting.builders"  # pandas: named here, imported by the worker processes


TAG = "reports"
Format = Literal["json", "csv", "xlsx", "html", "pdf"]
MonthText = Annotated[str, Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-05"])]
Department = Annotated[str, Field(min_length=1, max_length=40, description="department id or code")]


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MonthQuery(_Query):
    month: MonthText | None = Field(None, description="default: this month (centre time)")


class SupervisionQuery(MonthQuery):
    department: Department | None = None
    format: Format = "json"


class OperationalQuery(_Query):
    period: Annotated[str, Field(max_length=20, description="daily 2026-05-18, weekly 2026-W21, "
                                                            "monthly 2026-05")] = ""
    from_: Annotated[str, Field(max_length=10, alias="from", description="kpi: first day")] = ""
    to: Annotated[str, Field(max_length=10, description="kpi: last day")] = ""
    format: Format = "json"


class RerunIn(_Query):
    kind: Literal["supervision", "daily", "weekly", "monthly", "kpi"]
    period: Annotated[str, Field(max_length=40)] = ""
    department: Department | None = None


class VerifyIn(_Query):
    confirmed: bool | Annotated[str, Field(max_length=20)] = Field(
        description="true / false, or verify / dispute in any spelling")
    note: Annotated[str, Field(max_length=2000)] | None = None


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def _month(request: web.Request) -> Month:
    text = request.query.get("month")
    if not text:
        local = request.app[CLOCK]().astimezone(request.app[SETTINGS].zone).date()
        return Month.of(local)
    try:
        return scope.parse_month(text)
    except ValueError as exc:
        raise BadRequest(str(exc), [{"field": "month", "message": "use YYYY-MM (1970..2100)"}]) from exc


async def _answer(request: web.Request, payload: dict[str, Any], fmt: str) -> web.Response:
    if fmt not in _MEDIA:
        raise BadRequest(f"format must be one of {sorted(_MEDIA)}", [{"field": "format", "message": fmt}])
    if fmt == "json":
        return web.json_response(payload, dumps=_dumps)
    name = runs.file_stem(payload["kind"], payload["period"], payload["scope"]) + f".{fmt}"
    body = await cpu_pool(request.app).run_in_process(exports.render, payload, fmt)  # charts, PDF
    return web.Response(body=body, headers={
        "Content-Type": _MEDIA[fmt], "Content-Disposition": f'attachment; filename="{name}"'})


async def off_loop(request: web.Request, fn: Callable[..., Awaitable[T]] | str,
                   *args: Any, **kwargs: Any) -> T:
    """Run report job `fn(db, *args)` (database reads + pandas) in a worker process."""
    return await in_worker(request.app, fn, *args, **kwargs)


async def _supervision_payload(request: web.Request, month: Month,
                               department: str | None) -> dict[str, Any]:
    settings = request.app[SETTINGS]
    try:
        return await off_loop(request, f"{BUILDERS}:supervision", settings, month, department)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


@describe("GET", "/api/reports/supervision", summary="The month's supervision score "
          "(json, csv, xlsx, html or pdf)", tag=TAG, query=SupervisionQuery, response=Any)
@requires(Role.SUPERVISOR)
async def supervision_api(request: web.Request) -> web.Response:
    query = SupervisionQuery.model_validate(dict(request.query))
    payload = await _supervision_payload(request, _month(request), query.department)
    return await _answer(request, payload, query.format)


@describe("GET", "/api/reports/supervision/me", summary="Your own line of the month's score",
          tag=TAG, query=MonthQuery)
@requires()
async def my_figures_api(request: web.Request) -> web.Response:
    """The caller's own line of the month's score, and their department's headline."""
    MonthQuery.model_validate(dict(request.query))
    me = current(request)
    if me.department_id is None:
        raise web.HTTPNotFound(reason="you belong to no department, so you have no score")
    payload = await _supervision_payload(request, _month(request), str(me.department_id))
    department = payload["supervision"]["departments"][0]
    mine = next((s for s in department["staff"] if s["staff_id"] == me.staff_id), None)
    return web.json_response({
        "month": payload["period"], "staff_id": me.staff_id, "department_id": me.department_id,
        "figures": mine or {"staff_id": me.staff_id, "surveys": 0, "surveys_excluded": 0,
                            "points": 0, "average": None, "complaints": 0, "leads_found": 0,
                            "leads_won": 0},
        "department": {"satisfaction": department["satisfaction"],
                       "complaints": department["complaints"],
                       "total_amount": department["total_amount"]},
    }, dumps=_dumps)


@describe("GET", "/api/reports/{kind}", summary="A daily, weekly, monthly or call-KPI report "
          "(json, csv, xlsx, html or pdf)", tag=TAG, query=OperationalQuery, response=Any,
          path_schemas={"kind": {"type": "string", "enum": list(_KINDS)}})
@requires(Role.SUPERVISOR, Role.MANAGER)
async def operational_api(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    query = OperationalQuery.model_validate(dict(request.query))
    period = query.period
    if kind == "kpi":
        period = f"{query.from_}..{query.to}"
    try:
        # a manager reads the rows of their own departments (the same rule as one by one)
        departments = await scope.readable_departments(request.app[DB], current(request))
        settings, now = request.app[SETTINGS], request.app[CLOCK]()
        payload = await off_loop(request, f"{BUILDERS}:build", settings, kind, period, now,
                                 departments=departments)
    except ValueError as exc:
        raise BadRequest(str(exc), [{"field": "period", "message": str(exc)}]) from exc
    return await _answer(request, payload, query.format)


@describe("POST", "/api/reports/runs", summary="Re-run and keep a report for any period",
          tag=TAG, body=RerunIn, status=201)
@requires(Role.SUPERVISOR)
async def rerun_api(request: web.Request) -> web.Response:
    """Re-run and keep a report for any period: body {"kind", "period", "department"?}."""
    body = RerunIn.model_validate(await parse_json(request))
    settings = request.app[SETTINGS]
    try:
        now, label = request.app[CLOCK](), current(request).label
        stored = await off_loop(request, runs.run_report_for, settings, body.kind,
                                body.period, now, label, body.department,
                                ("json", "xlsx", "html"))
    except ValueError as exc:
        raise BadRequest(str(exc), [{"field": "period", "message": str(exc)}]) from exc
    assert stored is not None
    return web.json_response({"id": stored.id, "kind": stored.kind, "period": stored.period,
                              "scope": stored.scope, "files": stored.files}, status=201)


class RefusalsQuery(_Query):
    limit: int = Field(100, ge=1, le=500)


@describe("GET", "/api/reports/refusals", summary="Refused attempts (who tried what, on which "
          "row, why), newest first: the audit of access_refusals", tag=TAG, query=RefusalsQuery)
@requires(Role.SUPERVISOR)
async def refusals_api(request: web.Request) -> web.Response:
    query = RefusalsQuery.model_validate(dict(request.query))
    async with SqlUnitOfWork(request.app[DB]) as uow:
        rows = await uow.refusals.list(limit=query.limit)
    return web.json_response({"refusals": [{
        "at": r.at.isoformat(), "staff_id": r.staff_id, "actor": r.actor, "action": r.action,
        "subject": r.subject, "reason": r.reason} for r in rows]}, dumps=_dumps)


class DeliveriesQuery(_Query):
    kind: Literal["report", "escalation", "lead"] | None = Field(None, description="default: every kind")


@describe("GET", "/api/reports/deliveries", summary="What the service e-mailed (reports, "
          "escalation notices, lead reminders), newest first", tag=TAG, query=DeliveriesQuery)
@requires(Role.SUPERVISOR, Role.MANAGER)
async def deliveries_api(request: web.Request) -> web.Response:
    from callcenter.mail_deliveries import deliveries

    query = DeliveriesQuery.model_validate(dict(request.query))
    rows = await deliveries(request.app[DB], query.kind)
    return web.json_response({"deliveries": [{
        "key": r.key, "kind": r.kind, "subject": r.subject, "recipients": r.recipients,
        "attachments": r.attachments, "status": r.status, "attempts": r.attempts,
        "at": r.at.isoformat(), "sent_at": r.sent_at.isoformat() if r.sent_at else None,
        "error": r.error} for r in rows]})


@describe("GET", "/api/reports/surveys/pending", summary="The month's surveys awaiting "
          "verification", tag=TAG, query=MonthQuery)
@requires(Role.SUPERVISOR)
async def pending_api(request: web.Request) -> web.Response:
    MonthQuery.model_validate(dict(request.query))
    month = _month(request)
    rows, superseded = await _review(request, month)
    return web.json_response({"month": str(month), "surveys": [r.to_dict() for r in rows],
                              "superseded": [r.to_dict() for r in superseded]}, dumps=_dumps)


async def _review(request: web.Request,
                  month: Month) -> tuple[list[PendingSurvey], list[PendingSurvey]]:
    """The month's pending and superseded surveys, each with its reason (service month)."""
    settings = request.app[SETTINGS]
    window = report_window(Granularity.MONTH, month.first_day, settings.timezone)
    return await off_loop(request, "callcenter.reporting.verification_queue:month_review",  # pandas
                          window.start_utc, window.end_utc, settings.timezone,
                          supervision_rules(settings))


def _decision(value: object, field: str) -> bool:
    """verify / dispute in any spelling (true/false, 核实/有异议, full-width, any case)."""
    try:
        return parse_decision(value)
    except InvalidChoice as exc:
        raise BadRequest(str(exc), [{"field": field, "message": "verify or dispute"}]) from exc


def _survey_id(request: web.Request) -> int:
    try:
        return parse_id(request.match_info["survey_id"], "survey id")
    except InvalidChoice as exc:
        raise web.HTTPNotFound(reason=str(exc)) from exc


@describe("POST", "/api/reports/surveys/{survey_id}/verify", summary="Verify or dispute a "
          "survey", tag=TAG, body=VerifyIn)
@requires(Role.SUPERVISOR, admin=False)
async def verify_api(request: web.Request) -> web.Response:
    body = VerifyIn.model_validate(await parse_json(request))
    survey = await verify_survey(_survey_id(request), _decision(body.confirmed, "confirmed"),
                                 current(request), request.app[CLOCK](), SqlUnitOfWork(request.app[DB]),
                                 note=body.note)
    return web.json_response({"survey_id": survey.id, "verification": survey.verification.value})


_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>监察 Supervision · {month}</title>
<link rel="stylesheet" href="/static/app.css"><style>{css}</style></head><body>
<header class="top"><h1>监察 Supervision</h1><nav><a href="/">Home</a></nav>
<form method="get" action="/supervisor" style="margin-left:auto"><label style="display:inline">月份 Month
<input type="month" name="month" value="{month}"></label> <button>Show</button></form></header>
<main>{published}<div class="card">{report}</div>
<div class="card" id="pending"><h2>待核实问卷 Surveys awaiting verification ({pending_count})</h2>{pending}</div>
<div class="card" id="superseded"><h2>被取代问卷 Superseded surveys ({superseded_count})</h2>
<p>One survey counts per repair job; these are kept but not counted.</p>{superseded}</div>
<div class="card"><p>Exports: {exports} · <a href="/supervisor/versions?month={month}">版本 Published versions</a></p></div></main></body></html>"""


def _pending_table(rows: list[Any], csrf: str, month: Month,
                   empty: str = "Nothing to verify this month.") -> str:
    if not rows:
        return f"<p>{empty}</p>"
    body = []
    for r in rows:
        buttons = "" if r.verification != "pending" else "".join(
            f'<form method="post" action="/supervisor/surveys/{r.survey_id}/verify" style="display:inline">'
            f'<input type="hidden" name="csrf_token" value="{html.escape(csrf)}">'
            f'<input type="hidden" name="month" value="{month}">'
            f'<input type="hidden" name="decision" value="{d}"><button class="{cls}">{label}</button></form> '
            for d, cls, label in (("verify", "", "核实 Verify"), ("dispute", "secondary", "有异议 Dispute")))
        body.append(f'<tr id="survey-{r.survey_id}"><td>{r.survey_id}</td>'
                    f"<td>{html.escape(r.surveyed_at.isoformat()[:16])}</td>"
                    f"<td>{html.escape(r.job or '-')}</td><td>{html.escape(r.department or '-')}</td>"
                    f"<td>{html.escape(r.technician or '-')}</td><td>{html.escape(r.source)}</td>"
                    f"<td>{html.escape(r.grades)}</td><td>{html.escape(r.verification)}</td>"
                    f'<td class="reason">{html.escape(r.reason)}</td><td>{buttons}</td></tr>')
    return ("<table><thead><tr><th>#</th><th>surveyed (UTC)</th><th>job</th><th>department</th>"
            "<th>technician</th><th>source</th><th>grades</th><th>state</th><th>reason</th>"
            "<th></th></tr></thead><tbody>"
            + "".join(body) + "</tbody></table>")


def _published_notice(published: versions.StoredVersion | None, payload: dict[str, Any],
                      month: Month) -> str:
    """For a published month: the published version is what counts; where live differs."""
    if published is None:
        return ""
    at = published.published_at.isoformat()[:16] if published.published_at else "?"
    moved = version_diff(published.version, published.figures.get("supervision", {}),
                         payload.get("supervision", {}), [], {})["figures"]
    names = payload.get("names", {}).get("departments", {})
    if moved:
        rows = "".join(
            f"<tr><td>{html.escape((names.get(str(m['department_id'])) or {}).get('code', str(m['department_id'])))}"
            f"</td><td>{html.escape(m['figure'])}</td><td>{html.escape(str(m['before']))}</td>"
            f"<td>{html.escape(str(m['after']))}</td></tr>" for m in moved)
        differs = ("<p>The live figures below differ from the published version here:</p>"
                   "<table><thead><tr><th>department</th><th>figure</th><th>published</th>"
                   f"<th>live</th></tr></thead><tbody>{rows}</tbody></table>")
    else:
        differs = "<p>The live figures below match the published version.</p>"
    return (f'<div class="card notice" id="published-notice"><h2>已发布 Published: version '
            f"{published.version}</h2><p><b>{month} was published on {html.escape(at)} (UTC) by "
            f"{html.escape(published.published_by or '?')}. The published version is what counts "
            "for rewards and fines; the figures below are live (recomputed now).</b> "
            f'<a href="/supervisor/versions?month={month}">See the published version and its '
            f"corrections</a>.</p>{differs}</div>")


@requires(Role.SUPERVISOR)
async def supervisor_page(request: web.Request) -> web.Response:
    month = _month(request)
    payload = await _supervision_payload(request, month, None)
    published = await versions.published_version(request.app[DB], str(month))
    rows, superseded = await _review(request, month)
    links = " · ".join(f'<a href="/api/reports/supervision?month={month}&format={f}">{f.upper()}</a>'
                       for f in ("json", "csv", "xlsx", "html", "pdf"))
    page = _PAGE.format(month=month, published=_published_notice(published, payload, month), css=".cards{display:flex;flex-wrap:wrap;gap:.6rem}"
                        "figure svg{max-width:100%;height:auto}td.n{text-align:right}"
                        ".neg{color:#b3261e}.pos{color:#1b7a3a}"
                        ".notice{border-left:.4rem solid #b3261e}",
                        report=await cpu_pool(request.app).run_in_process(exports.html_body, payload), pending_count=len(rows),
                        pending=_pending_table(rows, request.get(CSRF) or "", month),
                        superseded_count=len(superseded),
                        superseded=_pending_table(superseded, request.get(CSRF) or "", month,
                                                  "No job had more than one survey this month."),
                        exports=links)
    return web.Response(text=page, content_type="text/html")


@requires(Role.SUPERVISOR, admin=False)
async def verify_form(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    confirmed = _decision(str(form.get("decision", "")), "decision")
    await verify_survey(_survey_id(request), confirmed,
                        current(request), request.app[CLOCK](), SqlUnitOfWork(request.app[DB]))
    try:
        month = str(scope.parse_month(str(form.get("month", ""))))
    except ValueError:
        month = ""
    raise web.HTTPSeeOther(f"/supervisor?month={month}" if month else "/supervisor")


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/reports/supervision", supervision_api)
    r.add_get("/api/reports/supervision/me", my_figures_api)
    r.add_get("/api/reports/surveys/pending", pending_api)
    r.add_get("/api/reports/deliveries", deliveries_api)
    r.add_get("/api/reports/refusals", refusals_api)
    r.add_post("/api/reports/surveys/{survey_id:\\d+}/verify", verify_api)
    r.add_post("/api/reports/runs", rerun_api)
    r.add_get("/api/reports/{kind:daily|weekly|monthly|kpi}", operational_api)
    r.add_get("/supervisor", supervisor_page)
    r.add_post("/supervisor/surveys/{survey_id:\\d+}/verify", verify_form)
