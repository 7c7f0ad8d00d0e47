"""The callback settings turned into the objects the use cases take.

One place reads the `# callbacks` block of `Settings`: the app feature, the
stand-alone dispatcher and the demo all build their retry policy, dispatch
config, source defaults and carrier choice here, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from callcenter.settings import Settings, parse_durations, parse_hours
from crm.call_windows import CallWindow
from crm.callbacks import RetryPolicy
from crm.enums import Carrier
from crm.services.callback_dispatch import DispatchConfig
from crm.services.callback_ports import Dialer
from crm.services.callbacks import CallbackDefaults


class NoOutboundCarrier(RuntimeError):
    """OUTBOUND_CARRIER names a carrier that is not configured here."""


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(max_attempts=settings.callback_max_attempts,
                       backoff=parse_durations(settings.callback_backoff))


def call_window(settings: Settings) -> CallWindow:
    start, end = parse_hours(settings.callback_window)
    return CallWindow(start, end).checked()


def callback_defaults(settings: Settings) -> CallbackDefaults:
    return CallbackDefaults(window=call_window(settings),
                            max_attempts=settings.callback_max_attempts)


def verification_sample(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of `draw_verification_samples`: cadence and sample size."""
    return {"percentage": settings.callback_verification_percent,
            "minimum": settings.callback_verification_minimum,
            "cadence": settings.survey_sample_cadence,
            "defaults": callback_defaults(settings)}


def dispatch_config(settings: Settings, worker: str, **overrides: Any) -> DispatchConfig:
    """The dispatcher's config: ring time, retry policy and caller id from the settings."""
    config = DispatchConfig(worker=worker, caller_id=settings.twilio_caller_id,
                            ring_timeout_s=settings.callback_dial_timeout_s,
                            policy=retry_policy(settings))
    return replace(config, **overrides) if overrides else config


def choose_carrier(settings: Settings, dialers: Mapping[str, Dialer]) -> Dialer | None:
    """The dialer callbacks go out through (the others still reconcile their own calls).

    auto: Asterisk when AMI is on, else Twilio when TWILIO_CALLER_ID is set, else none.
    asterisk / twilio: that one, or `NoOutboundCarrier` when it is not configured.
    """
    wanted = settings.outbound_carrier
    if wanted == "auto":
        for carrier in (Carrier.ASTERISK, Carrier.TWILIO):
            if carrier in dialers:
                return dialers[carrier]
        return None
    if wanted not in dialers:
        need = "AMI_ENABLED=true" if wanted == "asterisk" else "TWILIO_CALLER_ID"
        raise NoOutboundCarrier(f"OUTBOUND_CARRIER={wanted} but {wanted} cannot dial here; "
                                f"set {need} or OUTBOUND_CARRIER=auto")
    return dialers[wanted]
