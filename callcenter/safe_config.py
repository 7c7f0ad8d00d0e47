"""Start-up refusal of unsafe configuration: no default secrets outside DEV_MODE.

Guarantees:
- `unsafe_settings(settings)` lists, one line each, every secret that is
  empty, a shipped default or placeholder, or too short to be a secret; each
  line names the environment variable to change and how. Nothing is listed
  when DEV_MODE is on (a development or demo machine says so explicitly).
- Checked: SECRET_KEY always; AMI_SECRET when AMI_ENABLED; TWILIO_AUTH_TOKEN
  when Twilio is in use (a token is set, TWILIO_CALLER_ID is set or
  OUTBOUND_CARRIER=twilio). An empty token with Twilio unused is fine: every
  Twilio webhook is refused then anyway.
- `callcenter serve` prints the lines to stderr and exits 2 before it opens a
  port or a database.
"""

from __future__ import annotations

from callcenter.settings import Settings

MIN_SECRET_KEY = 16
PLACEHOLDERS = frozenset({
    "", "change-me", "changeme", "change-me-in-production", "change_me", "secret", "password",
    "callcenter", "admin", "test", "example", "xxx", "todo",
})
"""Values shipped as defaults in settings, compose files and examples, or commonly left in."""

_MAKE_ONE = "e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def _placeholder(value: str) -> bool:
    return value.strip().lower() in PLACEHOLDERS


def twilio_in_use(settings: Settings) -> bool:
    return bool(settings.twilio_auth_token.get_secret_value() or settings.twilio_caller_id
                or settings.outbound_carrier == "twilio")


def unsafe_settings(settings: Settings) -> list[str]:
    """One line per unsafe setting (empty when the configuration may start)."""
    if settings.dev_mode:
        return []
    problems: list[str] = []
    key = settings.secret_key.get_secret_value()
    if _placeholder(key):
        problems.append(f"SECRET_KEY is empty or a shipped default: set SECRET_KEY to a long random "
                        f"value ({_MAKE_ONE}), or DEV_MODE=true on a development machine")
    elif len(key) < MIN_SECRET_KEY:
        problems.append(f"SECRET_KEY is {len(key)} characters: set SECRET_KEY to at least "
                        f"{MIN_SECRET_KEY} random characters ({_MAKE_ONE})")
    if settings.ami_enabled and _placeholder(settings.ami_secret.get_secret_value()):
        problems.append("AMI_SECRET is empty or a shipped default while AMI_ENABLED=true: set "
                        "AMI_SECRET to the secret of the AMI user in the PBX's manager.conf "
                        "(change both), or AMI_ENABLED=false")
    if twilio_in_use(settings) and _placeholder(settings.twilio_auth_token.get_secret_value()):
        problems.append("TWILIO_AUTH_TOKEN is empty or a placeholder while Twilio is in use "
                        "(TWILIO_CALLER_ID or OUTBOUND_CARRIER=twilio): set TWILIO_AUTH_TOKEN to the "
                        "account's auth token from the Twilio console")
    return problems
