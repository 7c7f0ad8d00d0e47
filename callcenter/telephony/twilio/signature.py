"""Twilio webhook signatures: every request is checked before anything else happens.

Twilio signs the URL it requested plus the sorted POST parameters with the
account's auth token (``X-Twilio-Signature``). Behind a proxy the URL our
server sees is not the one Twilio used, so we rebuild the *public* URL from
``settings.public_base_url`` and the raw path and query of the request.

Guarantees:
- `verified_form` returns the POST parameters only when the signature checks
  out with `twilio.request_validator.RequestValidator`; otherwise it raises
  `HTTPForbidden` before any database access, so a forged request writes
  nothing.
- A NUL character in a signed parameter (a caller ID can carry anything) is removed
  after the signature is checked, never refused: the caller is served and nothing
  stored holds a NUL (PostgreSQL refuses it). The webhook routes are exempt from the
  edge's NUL refusal of bodies for that (`callcenter.web.edge.reads_raw_body`).
- An empty auth token refuses every request (anyone could sign with an empty
  key); the log says which setting to fill in.
- `signed_headers` is the same computation from the sender's side: the
  simulated caller, the demo and the bench sign exactly as Twilio does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    compare,
    get_signature_algorithm,
)

from callcenter.settings import Settings

log = logging.getLogger(__name__)


class _Validators:
    """One `RequestValidator` per token (building it encodes the token)."""

    def __init__(self) -> None:
        self._by_token: dict[str, RequestValidator] = {}

    def get(self, token: str) -> RequestValidator:
        found = self._by_token.get(token)
        if found is None:
            found = self._by_token[token] = RequestValidator(token)
        return found


_VALIDATORS = _Validators()


def public_url(settings: Settings, request: web.Request) -> str:
    """The URL Twilio requested: our public base URL + the raw path and query."""
    return settings.public_base_url.rstrip("/") + request.raw_path


def is_valid(
    settings: Settings, url: str, params: Mapping[str, str] | MultiDictProxy[str],
    signature: str | None,
    settings_header: str | None = None,
) -> bool:
    token = settings.twilio_auth_token.get_secret_value()
    if not token or not signature:
        return False
    validator = _VALIDATORS.get(token)
    algorithm = get_signature_algorithm(settings_header)
    try:  # the URL as configured first: one HMAC instead of `validate`'s two
        if compare(validator.compute_signature(url, params, algorithm), signature):
            return True
    except ValueError:  # an algorithm we do not know: `validate` logs and refuses it
        pass
    # the port variants (Twilio's signing is inconsistent about ports) and body hashes
    return bool(validator.validate(url, params, signature, algorithm))


async def verified_form(request: web.Request, settings: Settings) -> MultiDictProxy[str]:
    """The webhook's POST parameters, or 403 when the signature is missing or wrong."""
    form = await request.post()
    if any(not isinstance(value, str) for value in form.values()):  # a file part: as text
        form = MultiDictProxy(MultiDict((key, str(value)) for key, value in form.items()))
    params: MultiDictProxy[str] = form  # type: ignore[assignment]
    url = public_url(settings, request)
    if not settings.twilio_auth_token.get_secret_value():
        log.error("TWILIO_AUTH_TOKEN is empty: refusing Twilio webhooks until it is set")
        raise web.HTTPForbidden(reason="Twilio webhooks are disabled: no auth token configured")
    if not is_valid(settings, url, params, request.headers.get(SIGNATURE_HEADER),
                    request.headers.get(SIGNATURE_SETTINGS_HEADER)):
        log.warning("refused a Twilio webhook with a bad or missing signature",
                    extra={"path": request.path})
        raise web.HTTPForbidden(reason="bad or missing X-Twilio-Signature")
    if any("\x00" in key or "\x00" in value for key, value in params.items()):
        params = MultiDictProxy(MultiDict(
            (key.replace("\x00", ""), value.replace("\x00", "")) for key, value in params.items()))
    return params


def signed_headers(auth_token: str, url: str, params: Mapping[str, str]) -> dict[str, str]:
    """Headers for a POST of `params` to `url`, signed as Twilio signs them."""
    signature = _VALIDATORS.get(auth_token).compute_signature(url, params)
    return {SIGNATURE_HEADER: signature}
