"""Login throttling: failed logins per account and per client, with lock-out.

Guarantees:
- Every login attempt is recorded under its username (a keyed hash, never the
  name) and its client address (`client_address`: trusted proxies only)
  *before* the password is checked, in the shared `rate_events` table, so
  parallel attempts and several processes cannot slip past the limit.
- An account with more than LOGIN_MAX_FAILURES_PER_ACCOUNT failures, or a
  client with more than LOGIN_MAX_FAILURES_PER_CLIENT, within
  LOGIN_LOCKOUT_S is locked: the answer is 429 with how long to wait, no
  password is checked, and the refused attempt is not counted (the lock ends
  when the failures age out). Unknown usernames lock the same way, so a lock
  tells nothing about whether an account exists.
- A successful login clears the account's failures and takes back its own
  client attempt (an office behind one address is not locked by its
  successful logins).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from callcenter.appkeys import CLOCK, DB, SETTINGS
from callcenter.storage import rate_limits
from callcenter.web.client_address import client_address


@dataclass
class LoginAttempt:
    account_key: str
    client_key: str
    ids: list[int]
    locked: str | None  # the message when the attempt is refused unchecked


def _account_key(request: web.Request, username: str) -> str:
    secret = request.app[SETTINGS].secret_key.get_secret_value().encode()
    digest = hmac.new(secret, username.strip().lower().encode(), hashlib.sha256).hexdigest()[:40]
    return "login:account:" + digest


async def begin(request: web.Request, username: str) -> LoginAttempt:
    """Record the attempt; `locked` is set (and the attempt taken back) when over a limit."""
    settings, db, now = request.app[SETTINGS], request.app[DB], request.app[CLOCK]()
    window = timedelta(seconds=settings.login_lockout_s)
    account, client = _account_key(request, username), "login:client:" + client_address(request)
    ids, (per_account, per_client) = await rate_limits.attempt(db, [account, client], now=now, window=window)
    attempt = LoginAttempt(account, client, ids, None)
    over = [(key, what) for key, what, count, limit in (
        (account, "this account", per_account, settings.login_max_failures_per_account),
        (client, "your address", per_client, settings.login_max_failures_per_client)) if count > limit]
    if over:
        await rate_limits.forget(db, ids)
        key, what = over[0]
        first = await rate_limits.oldest(db, key, now=now, window=window)
        wait_s = (first + window - now).total_seconds() if first is not None else window.total_seconds()
        minutes = max(1, math.ceil(wait_s / 60))
        attempt.locked = (f"登录失败次数过多，请 {minutes} 分钟后再试 (too many failed logins for {what}; "
                          f"try again in {minutes} minute{'s' if minutes > 1 else ''})")
    return attempt


async def succeeded(request: web.Request, attempt: LoginAttempt) -> None:
    await rate_limits.forget(request.app[DB], attempt.ids[1:], key=attempt.account_key)
