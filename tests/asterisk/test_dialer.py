"""The Asterisk dialer with the callbacks dispatcher, against the fake AMI, on both engines:
our attempt id travels as ActionID and ChannelId, OriginateResponse reasons become outcomes."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.telephony.asterisk.ami_client import AmiClient, AmiConfig
from callcenter.telephony.asterisk.ami_protocol import AmiEvent, AmiFields
from callcenter.telephony.asterisk.dialer import AsteriskDialer, outcome_of
from crm.enums import CallbackState, DialOutcome
from crm.services.callback_dispatch import DispatchConfig, dispatch_once
from crm.services.callback_ports import DialRejected, DialRequest
from tests.asterisk.conftest import until
from tests.asterisk.fake_ami import FakeAmi, field_of
from tests.callbacks.builders import callback_row, new_callback


@pytest.fixture
async def fake_ami() -> AsyncIterator[FakeAmi]:
    fake = await FakeAmi([]).start()
    yield fake
    await fake.close()


@pytest.fixture
async def dialer(fake_ami: FakeAmi, db: Database, clock: FixedClock) -> AsyncIterator[AsteriskDialer]:
    client = AmiClient(AmiConfig(port=fake_ami.port, backoff_initial=0.05), rng=random.Random(2))
    dialer = AsteriskDialer(client, db, clock)
    dialer.attach()
    await client.start()
    await client.wait_connected(5)
    yield dialer
    await client.close()


@pytest.mark.parametrize(("reason", "state"), [("5", CallbackState.RETRY_WAIT),
                                                ("4", CallbackState.IN_CALL)])
async def test_a_callback_dial_is_settled_by_asterisks_originate_response(
        db: Database, clock: FixedClock, fake_ami: FakeAmi, dialer: AsteriskDialer,
        reason: str, state: CallbackState) -> None:
    fake_ami.originate_reason = reason
    cb = await new_callback(SqlUnitOfWork(db), due=clock() - timedelta(minutes=1))
    sent = await dispatch_once(lambda: SqlUnitOfWork(db), dialer, clock, DispatchConfig("w1"))
    assert sent == 1
    (originate,) = fake_ami.sent_actions("Originate")
    row = await callback_row(db, cb.id)
    assert field_of(originate, "ActionID") == field_of(originate, "ChannelId") == row.current_attempt_id
    assert field_of(originate, "Channel") == "PJSIP/+8613800138000@trunk"

    async def settled() -> bool:
        return (await callback_row(db, cb.id)).state == state

    await until(settled)


async def test_a_dial_while_asterisk_is_unreachable_is_rejected_as_never_placed(
        db: Database, clock: FixedClock) -> None:
    client = AmiClient(AmiConfig(port=1))  # never started: not connected
    with pytest.raises(DialRejected):
        await AsteriskDialer(client, db, clock).dial(
            DialRequest("att-x", 1, "+8613800138000", "", "hotline"))


def test_originate_reasons_map_to_dial_outcomes() -> None:
    def response(result: str, reason: str) -> AmiEvent:
        return AmiEvent("OriginateResponse", "a",
                        AmiFields((("Response", result), ("Reason", reason))))

    assert [outcome_of(response(r, n)) for r, n in [
        ("Success", "4"), ("Failure", "5"), ("Failure", "8"), ("Failure", "3"),
        ("Failure", "1"), ("Failure", "0"), ("Failure", "x")]] == [
        DialOutcome.ANSWERED, DialOutcome.BUSY, DialOutcome.CONGESTION, DialOutcome.NO_ANSWER,
        DialOutcome.NO_ANSWER, DialOutcome.FAILED, DialOutcome.FAILED]
