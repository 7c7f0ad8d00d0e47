"""Login throttling: failed logins per account from one address, per address, and per
account, with lock-out that a stranger cannot turn against the real user.

Guarantees:
- Every login attempt is recorded under its username (a keyed hash, never the
  name), its client address (`client_address`: trusted proxies only) and the
  pair of both *before* the password is checked, in the shared `rate_events`
  table, so parallel attempts and several processes cannot slip past the limit.
- The lock-out is per (account, address): more than
  LOGIN_MAX_FAILURES_PER_ACCOUNT failures on an account from one address within
  LOGIN_LOCKOUT_S lock that address out of that account only; more than
  LOGIN_MAX_FAILURES_PER_CLIENT failures from one address (any accounts) lock
  the address out of every account. The answer is 429 with how long to wait, no
  password is checked, and the refused attempt is not counted (the lock ends
  when the failures age out). So a stranger typing wrong passwords for an agent
  locks out their own address, never the agent at theirs.
- Per account (every address together) the failures only tighten the limit:
  above LOGIN_ACCOUNT_SLOWDOWN_FAILURES within the window (a guess spread over
  many addresses) an address that has failed on that account even once is
  locked out of it, while an address with no failure on it is still checked,
  so the real user's right password goes through. A spread guess then costs a
  fresh address per try.
- Unknown usernames lock the same way, so a lock tells nothing about whether
  an account exists.
- A successful login clears the account-wide count and its own address's
  failures on the account, and takes back its own client attempt (an office
  behind one address is not locked by its successful logins); the failures of
  other addresses on the account stay.
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
    pair_key: str  # the account from this address
    client_key: str
    ids: list[int]  # the rows of this attempt: account, pair, client
    locked: str | None  # the message when the attempt is refused unchecked


def _account_key(request: web.Request, username: str) -> str:
    secret = request.app[SETTINGS].secret_key.get_secret_value().encode()
    digest = hmac.new(secret, username.strip().lower().encode(), hashlib.sha256).hexdigest()[:40]
    return "login:account:" + digest


async def begin(request: web.Request, username: str) -> LoginAttempt:
    """Record the attempt; `locked` is set (and the attempt taken back) when over a limit."""
    settings, db, now = request.app[SETTINGS], request.app[DB], request.app[CLOCK]()
    window = timedelta(seconds=settings.login_lockout_s)
    address = client_address(request)
    account, client = _account_key(request, username), "login:client:" + address
    pair = "login:pair:" + hashlib.sha256(f"{account}|{address}".encode()).hexdigest()[:40]
    ids, (per_account, per_pair, per_client) = await rate_limits.attempt(
        db, [account, pair, client], now=now, window=window)
    attempt = LoginAttempt(account, pair, client, ids, None)
    # a guess spread over many addresses: one failure on this account is enough for an address
    per_pair_limit = (1 if per_account > settings.login_account_slowdown_failures
                      else settings.login_max_failures_per_account)
    over = [(key, what) for key, what, count, limit in (
        (pair, "this account", per_pair, per_pair_limit),
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
    db = request.app[DB]
    await rate_limits.forget(db, attempt.ids, key=attempt.account_key)
    await rate_limits.forget(db, key=attempt.pair_key)
