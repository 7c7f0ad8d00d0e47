"""The landing page: where each kind of staff member goes next."""

from __future__ import annotations

import html

from aiohttp import web

from callcenter.web.auth import CSRF, current, requires

PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>Hotline</title>
<link rel="stylesheet" href="/static/app.css"></head><body>
<header class="top"><h1>Hotline</h1><nav>{links}</nav>
<form method="post" action="/logout" style="margin-left:auto"><input type="hidden" name="csrf_token" value="{csrf}">
<button class="secondary">退出 Log out</button></form></header>
<main><div class="card"><p>欢迎, {name}. Roles: {roles}</p></div></main></body></html>"""

LINKS = [
    ("/agent", "坐席 Agent", {"agent", "manager"}),
    ("/callbacks", "回访 Callbacks", {"callback_staff", "manager"}),
    ("/complaints", "投诉 Complaints", {"agent", "manager", "supervisor", "callback_staff", "technician"}),
    ("/supervisor", "监察 Supervision", {"supervisor"}),
    ("/wallboard", "监控墙 Wallboard", {"manager", "supervisor"}),
]


@requires()
async def index(request: web.Request) -> web.Response:
    identity = current(request)
    roles = {r.value for r in identity.roles}
    admin = "admin" in roles
    links = " ".join(
        f'<a href="{href}">{label}</a>' for href, label, need in LINKS if admin or roles & need
    )
    return web.Response(
        text=PAGE.format(
            links=links,
            name=html.escape(identity.name),
            roles=html.escape(", ".join(sorted(roles)) or "-"),
            csrf=html.escape(request.get(CSRF) or ""),
        ),
        content_type="text/html",
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/", index)
