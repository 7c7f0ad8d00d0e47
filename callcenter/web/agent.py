"""`GET /agent`: the agent's page. Plain HTML; `static/agent.js` talks to `/agent/ws` and the API.

Guarantee: only agents and managers (and admins) get the page; it carries the
session's CSRF token for the page's API calls, and nothing about any customer
(the card only ever arrives over the authenticated WebSocket or API).
"""

from __future__ import annotations

import html

from aiohttp import web

from callcenter.web.agent_socket import agent_socket
from callcenter.web.auth import CSRF, current, requires
from crm.customers import WrapUpDisposition
from crm.enums import ComplaintCategory, Role

DISPOSITIONS = {
    WrapUpDisposition.RESOLVED: "已解决 Resolved",
    WrapUpDisposition.INFO_GIVEN: "已答复 Info given",
    WrapUpDisposition.COMPLAINT_OPENED: "已立投诉 Complaint opened",
    WrapUpDisposition.CALLBACK_NEEDED: "需回访 Callback needed",
    WrapUpDisposition.TRANSFERRED: "已转接 Transferred",
    WrapUpDisposition.WRONG_NUMBER: "打错 Wrong number",
    WrapUpDisposition.OTHER: "其他 Other",
}
CATEGORIES = {
    ComplaintCategory.REPAIR_QUALITY: "维修质量 Repair quality",
    ComplaintCategory.ATTITUDE: "服务态度 Attitude",
    ComplaintCategory.TIMELINESS: "及时性 Timeliness",
    ComplaintCategory.BILLING: "收费 Billing",
    ComplaintCategory.OTHER: "其他 Other",
}

PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{csrf}">
<title>坐席 Agent · Hotline</title>
<link rel="stylesheet" href="/static/app.css"><link rel="stylesheet" href="/static/agent.css"></head>
<body class="agent">
<header class="top"><h1>坐席 Agent</h1><span id="who">{name}</span>
<span id="status" class="badge" data-status="not_ready">未就绪 Not ready</span>
<button id="ready">就绪 Ready</button><button id="not-ready" class="secondary">暂停 Not ready</button>
<button id="hold" class="secondary" data-on="0">保持 Hold</button>
<form id="transfer" class="transfer"><input name="queue" placeholder="队列 Queue" maxlength="80"
pattern="[A-Za-z0-9_.\\-]+" required aria-label="转接到队列 transfer to queue"><button class="secondary">转接 Transfer</button></form>
<span id="link" class="badge bad">离线 Offline</span>
<form method="post" action="/logout" class="logout"><input type="hidden" name="csrf_token" value="{csrf}">
<button class="secondary">退出 Log out</button></form></header>
<main>
<section id="idle" class="card"><p>等待来电… Waiting for a call.</p></section>
<section id="unidentified" class="card"><h2>未识别来电 Unidentified callers</h2>
<p class="muted">隐藏号码或无法识别号码的来电者提交的投诉和回电。打开后关联到已有客户或建档。
Complaints and callbacks from withheld or unreadable numbers: open one, then link it to the
customer or create the customer.</p>
<div id="unidentified-list"></div></section>
<section id="pop" class="card" hidden>
  <div class="pop-head"><div><div class="label">来电 Caller</div><div id="caller" class="caller"></div></div>
  <div><div class="label">原因 Why they called</div><div id="why"></div></div>
  <div><div class="label">队列 Queue</div><div id="queue"></div></div>
  <div id="phase" class="badge"></div></div>
  <div id="loading" class="loading" hidden>正在加载客户资料… loading the customer card</div>
  <div id="card"></div>
</section>
<section id="wrap" class="card" hidden>
<h2>通话小结 Wrap-up</h2>
<form id="wrapup">
<div class="grid">
<label>处理结果 Disposition <select name="disposition" required>{dispositions}</select></label>
<label>主题 Subject <input name="subject" maxlength="80"></label>
</div>
<label>备注 Notes <textarea name="notes" rows="3" maxlength="5000"></textarea></label>
<fieldset><legend><label class="inline"><input type="checkbox" name="has_complaint"> 登记投诉 Open a complaint</label></legend>
<div class="grid"><label>类别 Category <select name="complaint_category">{categories}</select></label>
<label class="inline"><input type="checkbox" name="complaint_emotional"> 情绪激动 Highly emotional</label></div>
<label>投诉内容 Complaint <textarea name="complaint_description" rows="2" maxlength="5000"></textarea></label>
</fieldset>
<fieldset><legend><label class="inline"><input type="checkbox" name="has_need"> 潜在需求 Latent need</label></legend>
<div class="grid">
<label>现有设备 Current equipment <input name="equipment" maxlength="2000"></label>
<label>需求 Need <input name="need" maxlength="2000"></label>
<label>需求程度 Demand level <select name="demand_level"><option value="1">1 低 low</option>
<option value="2">2 中 medium</option><option value="3">3 高 ready to buy</option></select></label>
<label>跟进人 Follow-up person <select name="follow_up_staff_id"></select></label>
</div></fieldset>
<button type="submit">保存 Save wrap-up</button> <span id="wrap-result" role="status"></span>
</form></section>
</main>
<script src="/static/agent.js"></script></body></html>"""


def _options(items: dict[str, str]) -> str:
    return "".join(f'<option value="{html.escape(k)}">{html.escape(v)}</option>' for k, v in items.items())


@requires(Role.AGENT, Role.MANAGER)
async def agent_page(request: web.Request) -> web.Response:
    identity = current(request)
    return web.Response(
        text=PAGE.format(
            csrf=html.escape(request.get(CSRF) or ""), name=html.escape(identity.name),
            dispositions=_options(dict(DISPOSITIONS)), categories=_options(dict(CATEGORIES)),
        ),
        content_type="text/html",
        headers={"Cache-Control": "no-store"},
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/agent", agent_page)
    app.router.add_get("/agent/ws", agent_socket)
