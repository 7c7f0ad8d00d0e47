"""The verification sample on the web: which surveys were drawn, per period and department.

- ``GET /supervisor/sample?month=YYYY-MM``: every draw of the month's periods
  (weekly by default), per department how many surveys awaited verification
  and how many were drawn, and each drawn survey with its verification state
  and its verification call.
- ``GET /api/reports/verification-sample?month=``: the same as JSON.
- Supervisors and admins only. Nothing here changes a draw: draws are made
  by the job `callbacks-survey-sample` once each period is over.
"""

from __future__ import annotations

import html
import json
from typing import Any

from aiohttp import web

from callcenter.appkeys import CLOCK, SETTINGS
from callcenter.offload import in_worker
from callcenter.reporting import scope
from callcenter.web.api.routing import describe
from callcenter.web.auth import requires
from callcenter.web.errors import BadRequest
from callcenter.web.reports import MonthQuery
from crm.enums import Role
from reports.periods import Granularity, Month, report_window

__all__ = ["setup"]


def _month(request: web.Request) -> Month:
    if "month" not in request.query:
        return Month.of(request.app[CLOCK]().astimezone(request.app[SETTINGS].zone).date())
    try:
        return scope.parse_month(request.query["month"])
    except ValueError as exc:
        raise BadRequest(str(exc), [{"field": "month", "message": "use YYYY-MM"}]) from exc


async def _draws(request: web.Request, month: Month) -> dict[str, Any]:
    settings = request.app[SETTINGS]
    window = report_window(Granularity.MONTH, month.first_day, settings.timezone)
    return {"month": str(month), "cadence": settings.survey_sample_cadence,
            "unsampled_rule": settings.survey_sample_unsampled,
            "draws": await in_worker(request.app, "callcenter.reporting.samples:month_draws",  # pandas
                                     window.start_utc, window.end_utc)}


@describe("GET", "/api/reports/verification-sample", summary="The month's verification draws",
          tag="reports", query=MonthQuery)
@requires(Role.SUPERVISOR)
async def sample_api(request: web.Request) -> web.Response:
    return web.json_response(await _draws(request, _month(request)),
                             dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str))


_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>监察 Verification sample · {month}</title><link rel="stylesheet" href="/static/app.css">
</head><body><header class="top"><h1>监察 抽查 Verification sample</h1><nav><a href="/">Home</a> ·
<a href="/supervisor?month={month}">Supervision</a> ·
<a href="/supervisor/versions?month={month}">Versions</a></nav>
<form method="get" action="/supervisor/sample" style="margin-left:auto"><label style="display:inline">
月份 Month <input type="month" name="month" value="{month}"></label> <button>Show</button></form></header>
<main><div class="card"><p>Drawn once per {cadence} after it ends; a drawn survey stays drawn.
Never-drawn surveys awaiting verification are <strong>{rule}</strong> when the month is scored.</p></div>
{cards}</main></body></html>"""


def _card(draw: dict[str, Any]) -> str:
    counts = ", ".join(f"department {html.escape(k)}: {v['drawn']} of {v['awaiting']}"
                       for k, v in draw["departments"].items()) or "nothing awaited verification"
    rows = "".join(
        f"<tr><td>{s['survey_id']}</td><td>{html.escape(str(s['department_id']))}</td>"
        f"<td>{html.escape(s['source'])}</td><td>{html.escape(s['grades'])}</td>"
        f"<td>{html.escape(s['verification'])}</td>"
        f"<td>{html.escape('-' if s['call'] is None else s['call']['state'])}</td></tr>"
        for s in draw["surveys"])
    table = ("<table><thead><tr><th>survey</th><th>department</th><th>source</th><th>grades</th>"
             f"<th>verification</th><th>call</th></tr></thead><tbody>{rows}</tbody></table>"
             if rows else "")
    return (f'<div class="card draw"><h3>{html.escape(draw["period"])}</h3>'
            f"<p>drawn {html.escape(draw['drawn_at'][:16])} · {html.escape(draw['percentage'])} %, "
            f"at least {draw['minimum']} · {counts}</p>{table}</div>")


@requires(Role.SUPERVISOR)
async def sample_page(request: web.Request) -> web.Response:
    data = await _draws(request, _month(request))
    cards = "".join(_card(d) for d in data["draws"]) or \
        '<div class="card"><p>No period of this month has been drawn yet.</p></div>'
    page = _PAGE.format(month=data["month"], cadence=html.escape(data["cadence"]),
                        rule="counted" if data["unsampled_rule"] == "count" else "left out",
                        cards=cards)
    return web.Response(text=page, content_type="text/html")


def setup(app: web.Application) -> None:
    app.router.add_get("/api/reports/verification-sample", sample_api)
    app.router.add_get("/supervisor/sample", sample_page)
