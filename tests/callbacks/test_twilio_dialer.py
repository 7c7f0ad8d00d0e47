"""Our Twilio dialer against Twilio's own OpenAPI contract, served and validated by Prism.

Prism answers 201 only to a `calls.create` the spec accepts (and 4xx to one
it does not), so these tests show that what we send is what Twilio takes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.settings import Settings
from callcenter.telephony.twilio.rest import TwilioDialer, lookup_of
from crm.enums import DialOutcome
from crm.services.callback_ports import DialRejected, DialRequest, PlacedAttempt


def dialer(prism: str, **overrides: str) -> TwilioDialer:
    settings = Settings(
        twilio_api_base_url=prism, twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="test-auth-token-0123456789abcdef",  # type: ignore[arg-type]
        twilio_caller_id="+8657112345678", public_base_url="https://hotline.example.com",
        **overrides,  # type: ignore[arg-type]
    )
    return TwilioDialer(settings)


REQUEST = DialRequest("a1b2c3-17", 17, "+8613800138000", "", "post_repair_survey", 30)


async def test_calls_create_is_accepted_by_twilios_contract(prism: str) -> None:
    started = await dialer(prism).dial(REQUEST)
    assert started.carrier == "twilio"
    assert started.carrier_call_id and started.carrier_call_id.startswith("CA")


async def test_call_twilio_refuses_is_reported_as_no_call(
    prism: str,
) -> None:
    bad = DialRequest("a1-18", 18, "+8613800138000", "", "post_repair_survey",
                      "thirty")  # type: ignore[arg-type]  # Timeout must be an integer
    with pytest.raises(DialRejected, match="422"):
        await dialer(prism).dial(bad)


async def test_lookup_by_call_sid_reads_the_call_status(prism: str) -> None:
    found = await dialer(prism).lookup(PlacedAttempt(
        "a1b2c3-17", 17, "+8613800138000", datetime(2026, 5, 18, 2, 0, tzinfo=UTC),
        "CA" + "a" * 32))
    assert found is not None and found.carrier_call_id


def test_twilio_statuses_map_to_dial_outcomes() -> None:
    assert lookup_of("busy", "CA1").outcome is DialOutcome.BUSY
    assert lookup_of("no-answer", "CA1").outcome is DialOutcome.NO_ANSWER
    assert lookup_of("ringing", "CA1").outcome is None
    done = lookup_of("completed", "CA1")
    assert (done.outcome, done.ended) == (DialOutcome.ANSWERED, True)
