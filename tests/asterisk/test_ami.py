"""The AMI client and the call log against a fake AMI on real TCP replaying a recording
of a real Asterisk 22 (split packets, disconnects, silence), on both engines."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from callcenter.clock import FixedClock
from callcenter.reporting import builders
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, CallEvent, CallSegment, Customer
from callcenter.telephony.asterisk import ami_actions
from callcenter.telephony.asterisk.ami_client import (
    EVENTS_DROPPED,
    AmiClient,
    AmiConfig,
    AmiDisconnected,
)
from callcenter.telephony.asterisk.ami_protocol import AmiEvent, AmiResponse
from callcenter.telephony.asterisk.call_log import AmiCallLog
from crm.enums import CallDisposition
from tests.asterisk.conftest import CALLER_A, back_office, until
from tests.asterisk.fake_ami import FakeAmi, message, recorded_events

FAST = dict(ping_interval=0.2, ping_timeout=0.3, backoff_initial=0.05, backoff_max=0.2,
            action_timeout=2.0)


@pytest.fixture
async def ami_world(db: Database, clock: FixedClock) -> AsyncIterator[Callable[..., Any]]:
    """Build a fake AMI, a client and a call log; everything is closed at the end."""
    made: list[Any] = []

    async def build(fake: FakeAmi, log_kw: dict[str, Any] | None = None,
                    **config: Any) -> tuple[FakeAmi, AmiClient, AmiCallLog]:
        await fake.start()
        client = AmiClient(AmiConfig(port=fake.port, **{**FAST, **config}), rng=random.Random(3))
        call_log = AmiCallLog(db, clock, **(log_kw or {}))
        call_log.attach(client)
        made.extend([client, fake])
        await client.start()
        return fake, client, call_log

    yield build
    for thing in made:
        await thing.close()


async def calls_by_id(db: Database) -> dict[str, Call]:
    async with db.sessions() as session:
        return {c.carrier_call_id: c for c in (await session.scalars(select(Call))).all()}


async def test_two_recorded_calls_split_into_random_packets_are_logged_and_finalised(
        db: Database, ami_world: Any) -> None:
    ids = await back_office(db)
    _, _, call_log = await ami_world(FakeAmi(recorded_events(), max_chunk=37))
    await until(lambda: not call_log.open_calls and len(call_log._finished) == 2, 15)
    calls = await calls_by_id(db)
    assert set(calls) == {"call-1", "call-2"}
    one, two = calls["call-1"], calls["call-2"]
    assert one.customer_id == ids[CALLER_A], "the caller is the customer owning 13800138000"
    assert one.to_number == "4000" and one.direction == "inbound"
    assert one.disposition == CallDisposition.IVR_ONLY and one.duration_s and one.duration_s > 5
    async with db.sessions() as session:
        newcomer = await session.get(Customer, two.customer_id)
    assert newcomer is not None and not newcomer.verified  # 13912345678 was unknown


async def test_replaying_the_whole_stream_again_changes_nothing(db: Database, ami_world: Any) -> None:
    await back_office(db)
    stream = recorded_events()
    fake, _, call_log = await ami_world(FakeAmi(stream + stream))
    await until(lambda: fake.cursor == 2 * len(stream) and not call_log.open_calls)
    async with db.sessions() as session:
        events = await session.scalar(select(func.count()).select_from(CallEvent))
        calls = await session.scalar(select(func.count()).select_from(Call))
        ended = await session.scalar(select(func.count()).select_from(CallEvent).where(
            CallEvent.kind == "ended"))
    assert calls == 2 and ended == 2
    fake2, _, log2 = await ami_world(FakeAmi(stream, seed=11))
    await until(lambda: fake2.cursor == len(stream) and not log2.open_calls)
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CallEvent)) == events


async def test_a_call_that_ended_while_the_link_was_down_is_finalised_by_the_resync(
        db: Database, ami_world: Any) -> None:
    await back_office(db)
    # drop mid-message at event 110; events 111-125 (call-1's Hangup and LINKEDID_END) are lost
    fake, client, call_log = await ami_world(
        FakeAmi(recorded_events(), drop_after=[110], lose_while_away=15))
    await until(lambda: client.sessions >= 2 and not call_log.open_calls, 15)
    calls = await calls_by_id(db)
    assert calls["call-1"].ended_at is not None and calls["call-2"].ended_at is not None
    assert len(fake.sent_actions("CoreShowChannels")) >= 2, "a snapshot after each login"


async def test_a_peer_that_stops_answering_pings_is_dropped_and_reconnected(ami_world: Any) -> None:
    fake, client, _ = await ami_world(FakeAmi([], answer_pings=False))
    await until(lambda: client.sessions >= 2, 5)
    assert fake.logins >= 2


async def test_an_originate_in_flight_when_the_link_drops_fails_and_is_never_resent(
        ami_world: Any) -> None:
    fake, client, _ = await ami_world(FakeAmi([], answer_originate=False))
    await client.wait_connected(5)
    pending = asyncio.create_task(client.action(lambda aid: ami_actions.originate(
        aid, "PJSIP/13800138000@trunk", context="callback-outbound", exten="s", priority=1,
        channel_id="att-1")))
    await until(lambda: fake.sent_actions("Originate"))
    for writer in list(fake._conns):
        writer.close()  # the link drops before Asterisk answered
    with pytest.raises(AmiDisconnected):
        await pending
    await until(lambda: client.sessions >= 2)
    await asyncio.sleep(0.3)
    assert len(fake.sent_actions("Originate")) == 1


async def test_a_slow_listener_fills_the_bounded_queue_without_blocking_the_reader(
        ami_world: Any) -> None:
    before = EVENTS_DROPPED.get()
    gate = asyncio.Event()
    seen: list[str] = []

    async def slow(event: AmiEvent) -> None:
        await gate.wait()
        seen.append(event.name)

    fake = FakeAmi(recorded_events())
    _, client, _ = await ami_world(fake, queue_size=5)
    client.on_event("Newexten", slow)
    await until(lambda: fake.cursor == len(fake.events))
    pong = await client.action(ami_actions.ping)  # the reader still answers while listeners lag
    assert isinstance(pong, AmiResponse) and pong.ok
    assert EVENTS_DROPPED.get() > before
    resyncs = len(fake.sent_actions("CoreShowChannels"))
    gate.set()
    await until(lambda: len(fake.sent_actions("CoreShowChannels")) > resyncs)


def test_reconnect_delays_grow_exponentially_with_jitter_and_a_cap() -> None:
    client = AmiClient(AmiConfig(backoff_initial=0.5, backoff_max=30), rng=random.Random(1))
    delays = [client.backoff(n) for n in range(1, 12)]
    bases = [min(30, 0.5 * 2 ** (n - 1)) for n in range(1, 12)]
    assert all(0.5 * b <= d <= 1.5 * b for d, b in zip(delays, bases, strict=True))
    assert max(delays) <= 45 and len({round(d, 6) for d in delays}) == len(delays)


QUEUE_CALL = [
    message(("Event", "Newchannel"), ("Timestamp", "1795432900.0"), ("Channel", "PJSIP/softphone1-00000007"),
            ("ChannelState", "4"), ("ChannelStateDesc", "Ring"), ("CallerIDNum", "13800138000"),
            ("CallerIDName", "张三"), ("Exten", "4000"), ("Context", "softphones"),
            ("Uniqueid", "q-1"), ("Linkedid", "q-1")),
    message(("Event", "QueueCallerJoin"), ("Timestamp", "1795432920.0"), ("Channel", "PJSIP/softphone1-00000007"),
            ("CallerIDNum", "13800138000"), ("Uniqueid", "q-1"), ("Linkedid", "q-1"),
            ("Queue", "hotline-agents"), ("Position", "1"), ("Count", "1")),
    message(("Event", "AgentCalled"), ("Timestamp", "1795432921.0"), ("Channel", "PJSIP/softphone1-00000007"),
            ("Uniqueid", "q-1"), ("Linkedid", "q-1"), ("DestChannel", "PJSIP/1001-00000008"),
            ("DestUniqueid", "q-2"), ("DestLinkedid", "q-1"), ("Queue", "hotline-agents"),
            ("Interface", "PJSIP/1001"), ("MemberName", "王五")),
    message(("Event", "AgentConnect"), ("Timestamp", "1795432929.0"), ("Channel", "PJSIP/softphone1-00000007"),
            ("Uniqueid", "q-1"), ("Linkedid", "q-1"), ("DestUniqueid", "q-2"), ("Queue", "hotline-agents"),
            ("Interface", "PJSIP/1001"), ("MemberName", "王五"), ("HoldTime", "9"), ("RingTime", "8")),
    message(("Event", "Hangup"), ("Timestamp", "1795433000.0"), ("Channel", "PJSIP/softphone1-00000007"),
            ("Uniqueid", "q-1"), ("Linkedid", "q-1"), ("CallerIDNum", "13800138000"), ("Cause", "16"),
            ("Cause-txt", "Normal Clearing")),
    message(("Event", "CEL"), ("Timestamp", "1795433000.5"), ("EventName", "LINKEDID_END"),
            ("CallerIDnum", "13800138000"), ("UniqueID", "q-1"), ("LinkedID", "q-1")),
]


async def test_queue_events_mark_the_wait_the_agent_and_pop_the_callers_card(
        db: Database, ami_world: Any) -> None:
    from tests import factories

    await back_office(db)
    agent = await factories.staff(db, "agent-wang", ["agent"], extension="1001")
    offers: list[Any] = []
    answered: list[tuple[str, str, str]] = []

    async def offer(o: Any) -> None:
        offers.append(o)

    async def pick_up(carrier: str, call_id: str, who: str) -> None:
        answered.append((carrier, call_id, who))

    fake = FakeAmi(QUEUE_CALL)
    _, _, call_log = await ami_world(fake, {"offer_call": offer, "call_answered": pick_up})
    await until(lambda: fake.cursor == len(QUEUE_CALL) and not call_log.open_calls)
    call = (await calls_by_id(db))["q-1"]
    assert call.disposition == CallDisposition.ANSWERED and call.agent_id == agent.id
    assert (call.answered_at - call.queued_at).total_seconds() == 9  # type: ignore[operator]
    assert offers and offers[0].agent == "PJSIP/1001" and offers[0].carrier_call_id == "q-1"
    assert answered == [("asterisk", "q-1", "PJSIP/1001")]


def _ev(name: str, at: float, *pairs: tuple[str, str]) -> bytes:
    return message(("Event", name), ("Timestamp", f"{at:.1f}"), ("Channel", "PJSIP/softphone1-00000009"),
                   ("Uniqueid", "t-1"), ("Linkedid", "t-1"), *pairs)


T0 = 1795432900.0  # 2026-11-20 17:21:40 in Shanghai
TRANSFERRED_CALL = [
    _ev("Newchannel", T0, ("ChannelState", "4"), ("ChannelStateDesc", "Ring"),
        ("CallerIDNum", "13800138000"), ("Exten", "4000"), ("Context", "softphones")),
    _ev("QueueCallerJoin", T0 + 20, ("CallerIDNum", "13800138000"), ("Queue", "hotline-agents"),
        ("Position", "1"), ("Count", "1")),
    _ev("AgentConnect", T0 + 29, ("DestUniqueid", "t-2"), ("Queue", "hotline-agents"),
        ("Interface", "PJSIP/1001"), ("MemberName", "王五"), ("HoldTime", "9")),
    _ev("QueueCallerLeave", T0 + 29, ("Queue", "hotline-agents"), ("Count", "0")),
    # agent 1001 transfers the caller to the after-sales queue; agent 1002 answers there
    _ev("QueueCallerJoin", T0 + 89, ("CallerIDNum", "13800138000"), ("Queue", "after-sales"),
        ("Position", "1"), ("Count", "1")),
    _ev("QueueCallerLeave", T0 + 93, ("Queue", "after-sales"), ("Count", "0")),
    _ev("AgentConnect", T0 + 93, ("DestUniqueid", "t-3"), ("Queue", "after-sales"),
        ("Interface", "PJSIP/1002"), ("MemberName", "赵六"), ("HoldTime", "4")),
    _ev("Hangup", T0 + 193, ("CallerIDNum", "13800138000"), ("Cause", "16"),
        ("Cause-txt", "Normal Clearing")),
    message(("Event", "CEL"), ("Timestamp", f"{T0 + 193.5:.1f}"), ("EventName", "LINKEDID_END"),
            ("UniqueID", "t-1"), ("LinkedID", "t-1")),
]


async def segments_of(db: Database) -> list[CallSegment]:
    async with db.sessions() as session:
        return list((await session.scalars(
            select(CallSegment).order_by(CallSegment.entered_at))).all())


async def test_a_call_transferred_to_a_second_queue_is_one_call_with_a_segment_per_queue(
        db: Database, settings: Settings, ami_world: Any) -> None:
    from tests import factories

    await back_office(db)
    wang = await factories.staff(db, "agent-wang", ["agent"], extension="1001")
    zhao = await factories.staff(db, "agent-zhao", ["agent"], extension="1002")
    fake = FakeAmi(TRANSFERRED_CALL + TRANSFERRED_CALL[:3])  # replayed events change nothing
    _, _, call_log = await ami_world(fake)
    await until(lambda: fake.cursor == len(fake.events) and not call_log.open_calls)
    assert list(await calls_by_id(db)) == ["t-1"]
    first, second = await segments_of(db)
    assert (first.queue, first.outcome, first.agent_id) == ("hotline-agents", "transferred", wang.id)
    assert (second.queue, second.outcome, second.agent_id) == ("after-sales", "answered", zhao.id)
    assert (first.answered_at - first.entered_at).total_seconds() == 9  # type: ignore[operator]
    assert first.ended_at == second.entered_at
    assert (second.answered_at - second.entered_at).total_seconds() == 4  # type: ignore[operator]

    day = datetime.fromtimestamp(T0, ZoneInfo(settings.timezone)).date()
    report = await builders.kpi(db, settings, day, day)
    (centre,) = report["centre"]
    assert (centre["offered"], centre["answered"]) == (1, 1), "the centre counts the call once"
    queues = {q["key"]: q for q in report["queues"]}
    assert {q: (k["offered"], k["answered"], k["asa_s"]) for q, k in queues.items()} == {
        "hotline-agents": (1, 1, 9.0), "after-sales": (1, 1, 4.0)}
    assert queues["hotline-agents"]["aht_s"] == 60 and queues["after-sales"]["aht_s"] == 100.5  # to LINKEDID_END
    agents = {a["key"]: a["answered"] for a in report["agents"]}
    assert agents == {wang.id: 1, zhao.id: 1}


async def test_a_caller_let_go_by_one_queue_and_hanging_up_in_the_next_counts_in_each(
        db: Database, ami_world: Any) -> None:
    await back_office(db)
    events = [*TRANSFERRED_CALL[:2],
              _ev("QueueCallerLeave", T0 + 80, ("Queue", "hotline-agents"), ("Count", "0")),
              TRANSFERRED_CALL[4],
              _ev("QueueCallerAbandon", T0 + 95, ("Queue", "after-sales"), ("HoldTime", "6")),
              _ev("QueueCallerLeave", T0 + 95, ("Queue", "after-sales"), ("Count", "0")),
              *TRANSFERRED_CALL[-2:]]
    fake = FakeAmi(events)
    _, _, call_log = await ami_world(fake)
    await until(lambda: fake.cursor == len(events) and not call_log.open_calls)
    timed_out, abandoned = await segments_of(db)
    assert (timed_out.outcome, timed_out.answered_at) == ("timeout", None)
    assert (abandoned.outcome, abandoned.agent_id) == ("abandoned", None)
    assert (abandoned.ended_at - abandoned.entered_at).total_seconds() == 6  # type: ignore[operator]


async def test_a_caller_who_hangs_up_while_queued_leaves_an_abandoned_segment(
        db: Database, ami_world: Any) -> None:
    await back_office(db)
    events = [*TRANSFERRED_CALL[:2], *TRANSFERRED_CALL[-2:]]
    fake = FakeAmi(events)
    _, _, call_log = await ami_world(fake)
    await until(lambda: fake.cursor == len(events) and not call_log.open_calls)
    (segment,) = await segments_of(db)
    assert segment.outcome == "abandoned" and segment.ended_at is not None
