"""The managers' page `/complaints`: the views (mine, overdue, major, unassigned, open,
all), counts by state and unread notifications, on /static/app.css.

Everything shown is escaped; the page reads through the same use cases and
access rules as the API, so nobody sees more here than there.
"""

from __future__ import annotations

import html
from datetime import datetime

from aiohttp import web

from callcenter.appkeys import CLOCK, DB
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.web.auth import CSRF, current, requires
from crm.complaints import OPEN_STATES
from crm.enums import Role
from crm.services.complaint_escalation import (
    ComplaintQuery,
    ComplaintView,
    list_complaints,
    state_counts,
)
from crm.services.complaints import ComplaintRecord, complaint_history, get_complaint

READERS = (Role.AGENT, Role.TECHNICIAN, Role.MANAGER, Role.SUPERVISOR, Role.CALLBACK_STAFF)


def _uow(request: web.Request) -> SqlUnitOfWork:
    return SqlUnitOfWork(request.app[DB])


VIEWS = [
    (ComplaintView.MINE, "我的 Mine"), (ComplaintView.OVERDUE, "超时 Overdue"),
    (ComplaintView.MAJOR, "重大 Major"), (ComplaintView.UNASSIGNED, "待分配 Unassigned"),
    (ComplaintView.STATE, "处理中 Open"), (ComplaintView.ALL, "全部 All"),
]
PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>投诉 Complaints</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/app.css"></head><body>
<header class="top"><h1>投诉 Complaints</h1><nav>{tabs}</nav>
<form method="get" action="/complaints" class="search"><input type="search" name="q" maxlength="100"
value="{q}" placeholder="工单 / 电话 / 姓名 ticket, phone or name" aria-label="search complaints">
<button>搜索 Search</button></form>
<form method="post" action="/logout" style="margin-left:auto"><input type="hidden" name="csrf_token" value="{csrf}">
<button class="secondary">退出 Log out</button></form></header>
<main><div class="card">{counts}</div>{notes}
<table><thead><tr><th>工单 Ticket</th><th>级别 Severity</th><th>状态 State</th><th>类别 Category</th>
<th>负责人 Owner</th><th>升级 Level</th><th>期限 Resolve by</th><th>内容 Description</th></tr></thead>
<tbody>{rows}</tbody></table></main></body></html>"""


def _row(record: ComplaintRecord, now: datetime) -> str:
    e = html.escape
    severity = (
        f'<span class="badge major">重大 major</span> {e(", ".join(record.major_reasons))}'
        if record.major else '<span class="badge">一般 ordinary</span>'
    )
    due = record.resolve_due_at
    due_text = "-"
    if due is not None:
        due_text = e(due.isoformat(timespec="minutes"))
        if record.state in OPEN_STATES and now > due:
            due_text = f'<span class="badge bad">{due_text}</span>'  # overdue
    return (
        f'<tr><td><a href="/complaints/{record.complaint_id}">{e(record.ticket)}</a></td>'
        f"<td>{severity}</td><td>{e(record.state)}</td>"
        f"<td>{e(record.category)}</td><td>{e(str(record.owner_id or '-'))}</td>"
        f"<td>{record.escalation_level}</td><td>{due_text}</td><td>{e(record.description[:120])}</td></tr>"
    )


@requires(*READERS)
async def page(request: web.Request) -> web.Response:
    identity = current(request)
    try:
        view = ComplaintView(request.query.get("view", "mine" if identity.has(Role.MANAGER) else "state"))
    except ValueError:
        view = ComplaintView.STATE
    text = request.query.get("q", "").strip()[:100] or None
    if text and "view" not in request.query:
        view = ComplaintView.ALL  # a search looks through every complaint the reader may see
    now = request.app[CLOCK]()
    records = await list_complaints(ComplaintQuery(view, text=text), _uow(request), identity=identity,
                                    now=now)
    counts = await state_counts(_uow(request), identity=identity)
    uow = _uow(request)
    async with uow:
        notes = await uow.complaints.notifications(identity.staff_id, unread_only=True, limit=20)
    tabs = " ".join(
        f'<a href="/complaints?view={v}"{" aria-current=page" if v == view else ""}>{label}</a>'
        for v, label in VIEWS
    )
    note_items = "".join(
        f"<li>{html.escape(n['kind'])}: {html.escape(str(n.get('ticket')))} "
        f"({html.escape(str(n.get('state')))}, level {html.escape(str(n.get('escalation_level')))})</li>"
        for n in notes
    )
    text = PAGE.format(
        tabs=tabs, csrf=html.escape(request.get(CSRF) or ""), q=html.escape(text or ""),
        counts=" · ".join(f"{html.escape(k)}: {v}" for k, v in sorted(counts.items())) or "-",
        notes=f'<div class="card"><h2>通知 Notifications</h2><ul>{note_items}</ul></div>' if notes else "",
        rows="".join(_row(r, now) for r in records)
        or '<tr><td colspan="8">没有投诉 No complaints</td></tr>',
    )
    return web.Response(text=text, content_type="text/html")


DETAIL = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{ticket} · 投诉 Complaint</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/app.css"></head><body>
<header class="top"><h1>投诉 {ticket}</h1><nav><a href="/complaints">全部 All complaints</a></nav></header>
<main><div class="card"><dl>
<dt>状态 State</dt><dd id="state">{state}</dd><dt>类别 Category</dt><dd>{category}</dd>
<dt>级别 Severity</dt><dd>{severity}</dd><dt>负责人 Owner</dt><dd>{owner}</dd>
<dt>期限 Resolve by</dt><dd>{due}</dd><dt>内容 Description</dt><dd>{description}</dd></dl></div>
<div class="card"><h2>录音 Recording</h2>{recording}</div>
<div class="card"><h2>经过 History</h2><table><thead><tr><th>时间 At</th><th>谁 Who</th><th>动作 Action</th>
<th>状态 State</th><th>备注 Note</th></tr></thead><tbody>{history}</tbody></table></div></main></body></html>"""


@requires(*READERS)
async def detail(request: web.Request) -> web.Response:
    """One complaint with its history and recording, for whoever may read it (else 403)."""
    raw = request.match_info.get("complaint_id", "")
    if not raw.isdigit() or not 1 <= int(raw) <= 2**31 - 1:
        raise web.HTTPNotFound(reason="no such complaint")
    identity = current(request)
    record = await get_complaint(int(raw), _uow(request), identity=identity)
    history = await complaint_history(int(raw), _uow(request), identity=identity)
    e = html.escape
    recording = (f'<audio id="recording" controls preload="none" '
                 f'src="/complaints/{record.complaint_id}/recording"></audio>'
                 if record.recording_url else "<p>没有录音 No recording</p>")
    rows = "".join(
        f"<tr><td>{e(h.at.isoformat(timespec='minutes'))}</td><td>{e(h.actor_label)}</td>"
        f"<td>{e(h.action)}</td><td>{e(str(h.to_state or ''))}</td><td>{e(h.note)}</td></tr>"
        for h in history)
    text = DETAIL.format(
        ticket=e(record.ticket), state=e(record.state), category=e(record.category),
        severity=e("重大 major: " + ", ".join(record.major_reasons)) if record.major else "一般 ordinary",
        owner=e(str(record.owner_id or "-")),
        due=e(record.resolve_due_at.isoformat(timespec="minutes")) if record.resolve_due_at else "-",
        description=e(record.description), recording=recording, history=rows)
    return web.Response(text=text, content_type="text/html", headers={"Cache-Control": "no-store"})

