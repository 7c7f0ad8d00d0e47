"""Versions of a month's supervision figures on the web: the page and the API.

- ``GET /supervisor/versions?month=YYYY-MM``: every version of the month
  (draft, published, superseded), who made and published it, and each
  version's diff against the published one: the figures that moved and the
  surveys behind them with their reason (late survey, verification,
  correction). Rerun and publish buttons post with the session's CSRF token.
- ``GET /api/reports/supervision/versions/{n}?month=&format=``: version n's
  report as it was made (json, csv, xlsx, html, pdf).
- ``GET /api/reports/supervision/versions?month=``, ``POST
  /api/reports/supervision/versions`` {"month"} (rerun: a new draft when the
  figures changed), ``POST /api/reports/supervision/publish`` {"month",
  "version"?}.
- Supervisors and admins only; `publication.publish` (in a worker process) checks the role again
  inside the use case.
- The corrections job (a survey that changes after its month was published
  makes a correction draft of that month) is in `callcenter.reporting.jobs`.
"""

from __future__ import annotations

import html
import json
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from callcenter.appkeys import CLOCK, CPU_POOL, DB, SETTINGS
from callcenter.reporting import exports, scope, versions
from callcenter.web.api.routing import describe
from callcenter.web.auth import CSRF, current, requires
from callcenter.web.edge import MAX_DB_ID
from callcenter.web.errors import BadRequest, parse_json
from callcenter.web.reports import off_loop
from crm.enums import Role
from reports.periods import Month

__all__ = ["setup"]

PUBLICATION = "callcenter.reporting.publication"  # pandas: imported by the worker processes only


MonthText = Annotated[str, Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-05"])]


class VersionsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: MonthText | None = Field(None, description="default: last month (centre time)")


class MonthIn(BaseModel):
    month: MonthText


class PublishIn(MonthIn):
    version: Annotated[int, Field(ge=1, le=MAX_DB_ID)] | None = Field(
        None, description="default: the latest version")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def _parse_month(text: object) -> Month:
    try:
        return scope.parse_month(str(text or ""))
    except ValueError as exc:
        raise BadRequest(str(exc), [{"field": "month", "message": "use YYYY-MM"}]) from exc


def _month(request: web.Request) -> Month:
    if "month" in request.query:
        return _parse_month(request.query["month"])
    local = request.app[CLOCK]().astimezone(request.app[SETTINGS].zone).date()
    return Month.of(local).previous()


def _version_number(value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except ValueError as exc:
        raise BadRequest("version must be a whole number",
                         [{"field": "version", "message": str(value)}]) from exc
    if not 1 <= number <= MAX_DB_ID:
        raise BadRequest(f"version must be 1..{MAX_DB_ID}", [{"field": "version", "message": str(value)}])
    return number


async def _listing(request: web.Request, month: Month) -> dict[str, Any]:
    stored = await versions.all_versions(request.app[DB], str(month))
    published = max((v.version for v in stored if v.published_at is not None), default=None)
    return {"month": str(month), "published": published,
            "versions": [v.to_dict(published) for v in stored]}


@describe("GET", "/api/reports/supervision/versions", summary="A month's supervision report "
          "versions (drafts, the published one)", tag="reports", query=VersionsQuery)
@requires(Role.SUPERVISOR)
async def versions_api(request: web.Request) -> web.Response:
    return web.json_response(await _listing(request, _month(request)), dumps=_dumps)


async def _body(request: web.Request) -> dict[str, Any]:
    body = await parse_json(request)
    if not isinstance(body, dict):
        raise BadRequest('send {"month": "YYYY-MM"}', [{"field": "month", "message": "missing"}])
    return body


_MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8",
          "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
          "html": "text/html; charset=utf-8", "pdf": "application/pdf"}


class VersionFileQuery(VersionsQuery):
    format: Literal["json", "csv", "xlsx", "html", "pdf"] = "json"


@describe("GET", "/api/reports/supervision/versions/{version}", summary="One stored version's "
          "report as made (json, csv, xlsx, html or pdf)", tag="reports", query=VersionFileQuery,
          response=Any, path_schemas={"version": {"type": "integer", "minimum": 1,
                                                  "maximum": MAX_DB_ID}})
@requires(Role.SUPERVISOR)
async def version_file(request: web.Request) -> web.Response:
    """One stored version's report, as it was made (published figures stay as published)."""
    month, number = _month(request), _version_number(request.match_info["version"])
    fmt = request.query.get("format", "json")
    if fmt not in _MEDIA:
        raise BadRequest(f"format must be one of {sorted(_MEDIA)}", [{"field": "format", "message": fmt}])
    found = next((v for v in await versions.all_versions(request.app[DB], str(month))
                  if v.version == number), None)
    if found is None:
        raise web.HTTPNotFound(reason=f"{month} has no version {number}")
    payload = {**found.figures, "version": found.version,
               "published_at": None if found.published_at is None else found.published_at.isoformat()}
    name = f"supervision-{month}-v{found.version}.{fmt}"
    body = await request.app[CPU_POOL].run_in_process(exports.render, payload, fmt)  # charts, PDF
    return web.Response(body=body, headers={
        "Content-Type": _MEDIA[fmt], "Content-Disposition": f'attachment; filename="{name}"'})


@describe("POST", "/api/reports/supervision/versions", summary="Rerun a month: a new draft "
          "version when the figures changed", tag="reports", body=MonthIn, status=201)
@requires(Role.SUPERVISOR)
async def rerun_api(request: web.Request) -> web.Response:
    body = await _body(request)
    version, made = await off_loop(  # builds the month's figures: in a worker process
        request, f"{PUBLICATION}:make_version", request.app[SETTINGS], _parse_month(body.get("month")),
        request.app[CLOCK](), current(request).label)
    return web.json_response({"month": version.period, "version": version.version, "new": made,
                              "diff": version.diff, "reason": version.reason},
                             status=201 if made else 200, dumps=_dumps)


@describe("POST", "/api/reports/supervision/publish", summary="Publish a version of a month's "
          "supervision report", tag="reports", body=PublishIn)
@requires(Role.SUPERVISOR)
async def publish_api(request: web.Request) -> web.Response:
    body = await _body(request)
    version = await off_loop(  # builds the month's figures first: in a worker process
        request, f"{PUBLICATION}:publish", request.app[SETTINGS], _parse_month(body.get("month")),
        current(request), request.app[CLOCK](), _version_number(body.get("version")))
    return web.json_response({"month": version.period, "version": version.version,
                              "published_at": version.published_at,
                              "published_by": version.published_by}, dumps=_dumps)


_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>监察 Report versions · {month}</title><link rel="stylesheet" href="/static/app.css">
<style>.draft{{color:#8a5a00}}.published{{color:#1b7a3a}}.superseded{{color:#666}}</style></head><body>
<header class="top"><h1>监察 Report versions</h1><nav><a href="/">Home</a> ·
<a href="/supervisor?month={month}">Supervision</a> ·
<a href="/supervisor/sample?month={month}">Verification sample</a></nav>
<form method="get" action="/supervisor/versions" style="margin-left:auto"><label style="display:inline">
月份 Month <input type="month" name="month" value="{month}"></label> <button>Show</button></form></header>
<main><div class="card"><h2>{month}: {headline}</h2>{actions}</div>{cards}</main></body></html>"""


def _form(action: str, csrf: str, month: str, label: str, extra: str = "") -> str:
    return (f'<form method="post" action="{action}" style="display:inline">'
            f'<input type="hidden" name="csrf_token" value="{html.escape(csrf)}">'
            f'<input type="hidden" name="month" value="{html.escape(month)}">{extra}'
            f"<button>{label}</button></form> ")


def _diff_html(diff: dict[str, Any] | None) -> str:
    if diff is None:
        return "<p>First version: nothing published before it.</p>"
    against = diff.get("against")
    parts = [f"<p>Changes against published version {against}: "
             + (", ".join(f"{n} {html.escape(r)}" for r, n in diff.get("reasons", {}).items())
                or "no survey changed") + "</p>"]
    if diff.get("figures"):
        rows = "".join(
            f"<tr><td>{html.escape(str(f['department_id']))}</td><td>{html.escape(f['figure'])}</td>"
            f"<td>{html.escape(str(f['before']))}</td><td>{html.escape(str(f['after']))}</td></tr>"
            for f in diff["figures"])
        parts.append("<table class=\"figures\"><thead><tr><th>department</th><th>figure</th>"
                     f"<th>published</th><th>this version</th></tr></thead><tbody>{rows}</tbody></table>")
    if diff.get("surveys"):
        def show(state: dict[str, Any] | None) -> str:
            if state is None:
                return "-"
            return html.escape(f"{state.get('grades')} {state.get('verification')} "
                               f"dept {state.get('department_id')}")
        rows = "".join(
            f"<tr><td>{s['survey_id']}</td><td>{html.escape(s['reason'])}</td>"
            f"<td>{show(s['before'])}</td><td>{show(s['after'])}</td></tr>" for s in diff["surveys"])
        parts.append("<table class=\"surveys\"><thead><tr><th>survey</th><th>why</th>"
                     f"<th>published</th><th>this version</th></tr></thead><tbody>{rows}</tbody></table>")
    return "".join(parts)


@requires(Role.SUPERVISOR)
async def versions_page(request: web.Request) -> web.Response:
    month = _month(request)
    listing = await _listing(request, month)
    csrf = request.get(CSRF) or ""
    stored = listing["versions"]
    latest = stored[-1] if stored else None
    headline = ("not published" if listing["published"] is None
                else f"published version {listing['published']}")
    actions = _form("/supervisor/versions/rerun", csrf, str(month), "重算 Rerun")
    if latest is not None and latest["status"] == "draft":
        actions += _form("/supervisor/versions/publish", csrf, str(month),
                         f"发布 Publish version {latest['version']}",
                         f'<input type="hidden" name="version" value="{latest["version"]}">')
    elif latest is None:
        actions += _form("/supervisor/versions/publish", csrf, str(month), "发布 Publish")
    cards = []
    for v in reversed(stored):
        published = (f", published {html.escape(v['published_at'][:16])} by "
                     f"{html.escape(v['published_by'] or '')}" if v["published_at"] else "")
        cards.append(
            f'<div class="card version" id="v{v["version"]}"><h3>Version {v["version"]} · '
            f'<span class="{v["status"]}">{v["status"]}</span></h3>'
            f"<p>{html.escape(v['reason'])} · made {html.escape(v['made_at'][:16])} by "
            f"{html.escape(v['made_by'])}{published} · "
            + " ".join(f'<a href="/api/reports/supervision/versions/{v["version"]}?month={month}'
                       f'&format={f}">{f.upper()}</a>' for f in ("json", "xlsx", "pdf"))
            + f"</p>{_diff_html(v['diff'])}</div>")
    page = _PAGE.format(month=month, headline=headline, actions=actions,
                        cards="".join(cards) or '<div class="card"><p>No version yet.</p></div>')
    return web.Response(text=page, content_type="text/html")


@requires(Role.SUPERVISOR)
async def rerun_form(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    month = _parse_month(form.get("month"))
    await off_loop(request, f"{PUBLICATION}:make_version", request.app[SETTINGS], month,
                   request.app[CLOCK](), current(request).label)
    raise web.HTTPSeeOther(f"/supervisor/versions?month={month}")


@requires(Role.SUPERVISOR)
async def publish_form(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    month = _parse_month(form.get("month"))
    await off_loop(request, f"{PUBLICATION}:publish", request.app[SETTINGS], month, current(request),
                   request.app[CLOCK](), _version_number(form.get("version")))
    raise web.HTTPSeeOther(f"/supervisor/versions?month={month}")


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/reports/supervision/versions", versions_api)
    r.add_post("/api/reports/supervision/versions", rerun_api)
    r.add_post("/api/reports/supervision/publish", publish_api)
    r.add_get("/api/reports/supervision/versions/{version:\\d+}", version_file)
    r.add_get("/supervisor/versions", versions_page)
    r.add_post("/supervisor/versions/rerun", rerun_form)
    r.add_post("/supervisor/versions/publish", publish_form)
