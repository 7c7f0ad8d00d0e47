"""The `# callbacks` settings reach the rules: retries, window, attempts, carrier choice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time, timedelta

import pytest
from pydantic import ValidationError

from callcenter.callbacks import config
from callcenter.clock import FixedClock
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.uow import SqlUnitOfWork
from crm.services.callbacks import schedule_post_repair
from tests import factories
from tests.callbacks.fake_carrier import ScriptedCarrier


def test_backoff_setting_becomes_the_retry_policy() -> None:
    settings = Settings(callback_backoff="30m,4h", callback_max_attempts=5)

    policy = config.retry_policy(settings)

    assert policy.backoff == (timedelta(minutes=30), timedelta(hours=4))
    assert policy.max_attempts == 5


@pytest.mark.parametrize("backoff", ["15", "15m,,2h", "0m", "2w"])
def test_backoff_setting_that_is_not_a_list_of_delays_is_refused(backoff: str) -> None:
    with pytest.raises(ValidationError, match="15m,2h,1d"):
        Settings(callback_backoff=backoff)


def test_call_window_reaching_into_the_quiet_hours_is_refused() -> None:
    with pytest.raises(ValidationError, match="quiet hours"):
        Settings(callback_window="08:00-21:30")


def test_dispatch_config_takes_ring_time_and_policy_from_the_settings() -> None:
    settings = Settings(callback_dial_timeout_s=45, callback_backoff="1h")

    dispatch = config.dispatch_config(settings, "w1", batch=7)

    assert (dispatch.ring_timeout_s, dispatch.batch, dispatch.worker) == (45, 7, "w1")
    assert dispatch.policy.backoff == (timedelta(hours=1),)


def test_verification_sample_uses_the_configured_share_and_minimum() -> None:
    kwargs = config.verification_sample(Settings(callback_verification_percent=25,
                                                 callback_verification_minimum=5))

    assert (kwargs["percentage"], kwargs["minimum"]) == (25, 5)


def _carriers(*names: str) -> dict[str, ScriptedCarrier]:
    return {name: ScriptedCarrier(carrier=name) for name in names}


def test_auto_carrier_prefers_asterisk_over_twilio() -> None:
    chosen = config.choose_carrier(Settings(), _carriers("twilio", "asterisk"))  # type: ignore[arg-type]

    assert chosen is not None and chosen.carrier == "asterisk"


def test_named_carrier_wins_over_auto_order() -> None:
    chosen = config.choose_carrier(Settings(outbound_carrier="twilio"),
                                   _carriers("asterisk", "twilio"))  # type: ignore[arg-type]

    assert chosen is not None and chosen.carrier == "twilio"


def test_named_carrier_that_cannot_dial_here_is_refused_with_the_fix() -> None:
    with pytest.raises(config.NoOutboundCarrier, match="AMI_ENABLED"):
        config.choose_carrier(Settings(outbound_carrier="asterisk"), _carriers("twilio"))  # type: ignore[arg-type]


async def test_post_repair_callback_takes_the_configured_window_and_attempts(
        db: Database, clock: FixedClock, uow: Callable[[], SqlUnitOfWork]) -> None:
    customer = await factories.customer(db)
    job = await factories.job(db, customer.id)
    defaults = config.callback_defaults(Settings(callback_window="10:00-18:00",
                                                 callback_max_attempts=5))

    cb = await schedule_post_repair(job.id, uow(), clock, defaults=defaults)  # type: ignore[arg-type]

    assert (cb.window_start, cb.window_end, cb.max_attempts) == ("10:00", "18:00", 5)
    assert defaults.window.start == time(10, 0)
