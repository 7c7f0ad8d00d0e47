"""A caller handed to a Twilio queue (``<Enqueue>``) gets that queue's segment, settled from the
queue's action callback: QueueResult and QueueTime say answered (and when) or abandoned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, CallSegment
from tests.twilio.conftest import Hotline, NewCaller


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"twilio_agent_dial": "queue:hotline-agents"})


async def only_segment(db: Database) -> tuple[CallSegment, Call]:
    async with db.sessions() as s:
        (segment,) = (await s.scalars(select(CallSegment))).all()
        call = (await s.scalars(select(Call))).one()
    return segment, call


async def test_a_bridged_queue_result_answers_the_segment_after_the_queue_time(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    result = await caller().call(["0"], agent="answer")  # QueueResult=bridged, QueueTime=8
    assert result.transfer == "enqueue:hotline-agents"
    segment, call = await only_segment(db)
    assert (segment.queue, segment.outcome) == ("hotline-agents", "answered")
    assert call.queued_at is not None and segment.entered_at == call.queued_at
    assert segment.answered_at == call.queued_at + timedelta(seconds=8)


async def test_a_caller_hanging_up_in_the_queue_abandons_its_segment(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    await caller().call(["0"], agent="abandon")  # QueueResult=hangup
    segment, _ = await only_segment(db)
    assert (segment.queue, segment.outcome, segment.answered_at) == ("hotline-agents", "abandoned", None)


async def test_a_queue_that_gives_up_times_its_segment_out(
    db: Database, hotline: Hotline, caller: NewCaller,
) -> None:
    await caller().call(["0"], agent="no-answer")  # QueueResult=error
    segment, _ = await only_segment(db)
    assert (segment.queue, segment.outcome) == ("hotline-agents", "timeout")
