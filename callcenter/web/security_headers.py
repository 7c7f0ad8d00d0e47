"""Security headers on every response the app makes (pages, API, static files, errors).

Guarantees:
- `Content-Security-Policy`: scripts only from our own origin (no inline
  script anywhere in our pages), styles from our origin or inline (report
  charts are inline SVG with style attributes), images from us or data:
  URLs, connections (fetch, the agent WebSocket) to our origin, forms post
  only to us, no plugins, and `frame-ancestors 'none'`.
- `X-Frame-Options: DENY` for browsers older than frame-ancestors;
  `X-Content-Type-Options: nosniff`; `Referrer-Policy: same-origin`.
- `Strict-Transport-Security` when PUBLIC_BASE_URL is https.
"""

from __future__ import annotations

from aiohttp import web

from callcenter.appkeys import SETTINGS

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'self'; object-src 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=31536000"


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.app[SETTINGS].public_base_url.lower().startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(add_security_headers)
