"""The public complaint form `/complaint`: no login, the same flow as a phone complaint.

Guarantees, checked in this order, each with its own answer:
- a body over `complaint_form_max_body_bytes` is refused unread past the
  limit (413); a body that is not a URL-encoded form is 400;
- the anonymous CSRF token (`form_token` / `check_form_token`) must match (403);
- the phone must be a dialable number (normalised to E.164), the category
  known, the description present and at most `complaint_form_max_description`
  characters (422);
- at most `complaint_form_per_ip_hour` complaints per client address and
  `complaint_form_per_phone_hour` per phone number in any hour (429), counted
  in the database so every process shares the limit. Only accepted
  complaints count: a rejected or failed submission is taken back. The
  address is the TCP peer's unless it is one of TRUSTED_PROXIES, whose
  X-Forwarded-For then names the client (`client_address`);
- then the customer owning the number is found (or created unverified) and
  `open_complaint(channel=web_form)` gives the ticket number shown to the
  customer. The number given is kept on the complaint: nobody heard the
  complainer, so the complaint counts against a department only once that
  number is confirmed (`crm.complaint_rules` Rule 4). The phone number itself is never stored in the rate-limit table
  (only a keyed hash) nor logged.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
from datetime import timedelta
from urllib.parse import parse_qs

from aiohttp import web

from callcenter.appkeys import CLOCK, DB, SETTINGS
from callcenter.complaints.policy import complaint_policy
from callcenter.storage import rate_limits
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.web.auth import check_form_token, form_token, public
from callcenter.web.client_address import client_address
from callcenter.web.edge import reads_raw_body
from crm.enums import ComplaintCategory, ComplaintChannel
from crm.errors import InvalidPhoneNumber
from crm.phones import normalize_phone
from crm.services.complaints import Actor, OpenComplaint, open_complaint
from crm.services.customers import identify_caller

log = logging.getLogger(__name__)
HOUR = timedelta(hours=1)
CATEGORY_LABELS = {
    ComplaintCategory.REPAIR_QUALITY: "维修质量 Repair quality",
    ComplaintCategory.TIMELINESS: "服务及时性 Timeliness",
    ComplaintCategory.ATTITUDE: "服务态度 Attitude",
    ComplaintCategory.BILLING: "收费 Billing",
    ComplaintCategory.OTHER: "其他 Other",
}
PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>投诉 · Complaint</title><link rel="stylesheet" href="/static/app.css"></head>
<body class="login"><main><h1>投诉与建议 Complaint</h1>{body}</main></body></html>"""
FORM = """{error}<form method="post" action="/complaint">
<input type="hidden" name="csrf_token" value="{token}">
<label>手机或电话 Phone <input name="phone" type="tel" autocomplete="tel" required maxlength="32" value="{phone}"></label>
<label>类别 Category <select name="category" required>{options}</select></label>
<label>投诉内容 What went wrong
<textarea name="description" required maxlength="{max_len}" rows="6">{description}</textarea></label>
<button type="submit">提交 Submit</button></form>"""
DONE = """<p>已收到您的投诉。您的工单号是 <strong class="ticket">{ticket}</strong>。</p>
<p>We have your complaint. Your ticket number is <strong>{ticket}</strong>.</p>
<p>我们会尽快与您联系 / we will call you back.</p>"""


class FormRejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _render(request: web.Request, status: int = 200, error: str = "", values: dict[str, str] | None = None) -> web.Response:
    values = values or {}
    response = web.Response(status=status, content_type="text/html")
    chosen = values.get("category", "")
    options = "".join(
        f'<option value="{c}"{" selected" if c == chosen else ""}>{html.escape(label)}</option>'
        for c, label in CATEGORY_LABELS.items()
    )
    body = FORM.format(
        error=f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "",
        token=html.escape(form_token(request, response)),
        phone=html.escape(values.get("phone", "")),
        description=html.escape(values.get("description", "")),
        options=options,
        max_len=request.app[SETTINGS].complaint_form_max_description,
    )
    response.text = PAGE.format(body=body)
    return response


@public("the public complaint form (form token, rate limits)")
async def form_page(request: web.Request) -> web.Response:
    return _render(request)


async def _read_form(request: web.Request, limit: int) -> dict[str, str]:
    if request.content_length is not None and request.content_length > limit:
        raise FormRejected(413, f"表单太大 the form is too large (at most {limit} bytes)")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise FormRejected(413, f"表单太大 the form is too large (at most {limit} bytes)")
    if request.content_type != "application/x-www-form-urlencoded":
        raise FormRejected(400, "请通过网页表单提交 send the form from the complaint page")
    if b"\x00" in raw:
        raise FormRejected(422, "表单含有无效字符 the form holds a NUL character")
    try:
        fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormRejected(400, "表单无法读取 the form could not be read") from exc
    if any("\x00" in name or "\x00" in values[0] for name, values in fields.items()):
        raise FormRejected(422, "表单含有无效字符 the form holds a NUL character")
    return {name: values[0] for name, values in fields.items()}


def _phone_key(request: web.Request, e164: str) -> str:
    secret = request.app[SETTINGS].secret_key.get_secret_value().encode()
    return "complaint-form:phone:" + hmac.new(secret, e164.encode(), hashlib.sha256).hexdigest()[:40]


async def _limit(request: web.Request, phone_key: str) -> list[int]:
    """Count this complaint against its client address and phone number (committed before
    it is opened, so parallel submissions cannot pass the limit); 429 when over, with
    nothing counted. Returns the counted rows, to take back if the complaint fails."""
    settings = request.app[SETTINGS]
    keys = [f"complaint-form:ip:{client_address(request)}", phone_key]
    ids, (per_ip, per_phone) = await rate_limits.attempt(
        request.app[DB], keys, now=request.app[CLOCK](), window=HOUR)
    over = ("address" if per_ip > settings.complaint_form_per_ip_hour
            else "phone number" if per_phone > settings.complaint_form_per_phone_hour else None)
    if over is not None:
        await rate_limits.forget(request.app[DB], ids)
        raise FormRejected(429, f"提交太频繁，请稍后再试 too many complaints from this {over}; try again in an hour")
    return ids


@public("the public complaint form (form token, rate limits)")
@reads_raw_body
async def form_submit(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    values: dict[str, str] = {}
    try:
        values = await _read_form(request, settings.complaint_form_max_body_bytes)
        if not check_form_token(request, values.get("csrf_token")):
            raise FormRejected(403, "表单已过期，请重新提交 the form expired; please submit it again")
        try:
            e164 = normalize_phone(values.get("phone", ""), settings.default_region)
        except InvalidPhoneNumber as exc:
            raise FormRejected(422, f"电话号码无效 {exc}") from exc
        category = values.get("category", "")
        if category not in ComplaintCategory._value2member_map_:
            raise FormRejected(422, "请选择类别 choose a category")
        description = values.get("description", "").strip()
        if not description:
            raise FormRejected(422, "请填写投诉内容 say what went wrong")
        if len(description) > settings.complaint_form_max_description:
            raise FormRejected(
                422, f"内容太长 the description is too long (at most {settings.complaint_form_max_description} characters)"
            )
        counted = await _limit(request, _phone_key(request, e164))
    except FormRejected as rejected:
        return _render(request, rejected.status, str(rejected), values)
    try:
        customer = await identify_caller(
            e164, SqlUnitOfWork(request.app[DB]), default_region=settings.default_region,
            default_tz=settings.timezone)
        opened = await open_complaint(
            OpenComplaint(
                customer_id=customer.customer_id, channel=ComplaintChannel.WEB_FORM,
                category=ComplaintCategory(category), description=description,
                actor=Actor.system("web-form"),
            ),
            SqlUnitOfWork(request.app[DB]), clock=request.app[CLOCK], policy=complaint_policy(settings),
        )
    except BaseException:
        await rate_limits.forget(request.app[DB], counted)  # not accepted: not counted
        raise
    uow = SqlUnitOfWork(request.app[DB])  # shown to the supervisor until confirmed (not counted)
    async with uow:
        await uow.complaints.set_reported_number(opened.complaint_id, e164)
        await uow.commit()
    log.info("web form complaint %s opened", opened.ticket)
    return web.Response(
        status=201, text=PAGE.format(body=DONE.format(ticket=html.escape(opened.ticket))), content_type="text/html"
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/complaint", form_page)
    app.router.add_post("/complaint", form_submit)
