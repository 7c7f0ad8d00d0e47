"""The hotline's turn rules on the in-memory turn store, without a database: what is
stored batched, what falls back to a transaction, replays and stale versions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.clock import FixedClock
from callcenter.hotline.ports import Caller
from callcenter.hotline.turns import FAST_TURNS, HotlineDriver, Turn
from callcenter.settings import Settings
from crm.enums import Carrier
from crm.services import calls as call_log
from crm.surveys import JobRef
from ivr import actions as act
from ivr import events as ev
from tests.hotline.fake_turn_store import FakeTurnStore

CALLER = "+8613800138000"
SURVEY = ["2", "1", "2", "1", "1", "2"]  # survey; A, B, A; confirm; goodbye
RECORDED = ev.RecordingDone("https://api.twilio.com/rec/RE1", 12)


@pytest.fixture
def store() -> FakeTurnStore:
    store = FakeTurnStore()
    store.callers[CALLER] = Caller(7, True, "zh-CN", "Asia/Shanghai")
    store.jobs[3] = JobRef(3, "J-1", 7, None, None, datetime(2026, 5, 17, 8, tzinfo=UTC),
                           frozenset({CALLER}))
    return store


def _driver(store: FakeTurnStore, tmp_path: Path) -> HotlineDriver:
    """A service process on `store` (each its own memory of the calls it stored)."""
    settings = Settings(database_url="sqlite+aiosqlite:///unused.db",  # type: ignore[arg-type]
                        job_loop_enabled=False, fastagi_enabled=False, ami_enabled=False,
                        log_json=False, reports_dir=tmp_path / "reports",  # type: ignore[arg-type]
                        opening_hours="00:00-23:59")
    return HotlineDriver(store, settings, FixedClock(datetime(2026, 5, 18, 2, tzinfo=UTC)))


@pytest.fixture
def driver(store: FakeTurnStore, tmp_path: Path) -> HotlineDriver:
    return _driver(store, tmp_path)


async def _call(driver: HotlineDriver, sid: str, keys: Sequence[object]) -> list[Turn]:
    turns = [await driver.begin(Carrier.TWILIO, sid, from_number=CALLER,
                                to_number="+864008001234")]
    for key in keys:
        event = ev.Digits(key) if isinstance(key, str) else key
        turns.append(await driver.feed(Carrier.TWILIO, sid, event,  # type: ignore[arg-type]
                                       expected_version=turns[-1].version))
    return turns


def _outcomes() -> dict[str, float]:
    return {name: FAST_TURNS.get(outcome=name)
            for name in ("opened", "stored", "transaction", "error", "replayed", "settled")}


def _since(before: dict[str, float]) -> dict[str, float]:
    return {name: count - before[name] for name, count in _outcomes().items()
            if count != before[name]}


async def test_a_known_callers_survey_is_stored_batched_with_its_survey(
        driver: HotlineDriver, store: FakeTurnStore) -> None:
    before = _outcomes()

    turns = await _call(driver, "CA-survey", SURVEY)

    assert _since(before) == {"opened": 1, "stored": len(SURVEY)}
    assert turns[-1].ended and turns[-1].version == len(SURVEY) + 1
    (survey,) = store.surveys.values()
    assert (survey["timeliness"], survey["quality"], survey["attitude"], survey["complete"],
            survey["job_id"], survey["verification"]) == ("A", "B", "A", True, 3, "first_hand")
    assert [a["action"] for a in store.audits] == ["created"]


async def test_a_replayed_key_gets_the_same_media_and_changes_nothing(
        driver: HotlineDriver, store: FakeTurnStore) -> None:
    turns = await _call(driver, "CA-replay", ["2", "1"])
    call_id = turns[-1].call_id
    stored = (store.record(call_id), store.keys(call_id))

    again = await driver.feed(Carrier.TWILIO, "CA-replay", ev.Digits("1"),
                              expected_version=turns[-2].version)

    assert again.replayed and again.media == turns[-1].media
    assert (store.record(call_id), store.keys(call_id)) == stored


async def test_a_turn_overtaken_after_its_read_is_stale_and_stores_nothing(
        driver: HotlineDriver, store: FakeTurnStore, tmp_path: Path) -> None:
    first = (await _call(driver, "CA-stale", []))[0]
    reader = _driver(store, tmp_path)  # a process that has to read the call

    def another_process(call: object) -> None:
        store.rows[first.call_id]["ivr_version"] += 1

    store.after_next_load = another_process
    before = _outcomes()

    with pytest.raises(call_log.StaleIvrState):
        await reader.feed(Carrier.TWILIO, "CA-stale", ev.Digits("2"),
                          expected_version=first.version)

    assert _since(before) == {}  # neither stored nor run again in a transaction
    assert not any(k and k.startswith(f"ivr:{first.version}.") for k in store.keys(first.call_id))


async def test_a_transfer_to_agents_is_stored_by_a_transaction(
        driver: HotlineDriver, store: FakeTurnStore) -> None:
    first = (await _call(driver, "CA-agent", []))[0]
    before = _outcomes()

    turn = await driver.feed(Carrier.TWILIO, "CA-agent", ev.Digits("0"),
                             expected_version=first.version)

    assert _since(before) == {"transaction": 1}
    assert turn.transfer is not None and turn.ended
    assert store.record(turn.call_id).queue == turn.transfer.queue
    assert f"queued:{turn.transfer.queue}" in store.keys(turn.call_id)


async def test_an_effect_that_fails_in_the_transaction_takes_the_safe_path(
        driver: HotlineDriver, store: FakeTurnStore) -> None:
    """The fake has no complaints repository: the complaint fails, the caller is not left
    in silence but handed to an agent, and the turn is stored."""
    turns = await _call(driver, "CA-complaint", ["1", "2"])
    before = _outcomes()

    turn = await driver.feed(Carrier.TWILIO, "CA-complaint", RECORDED,
                             expected_version=turns[-1].version)

    assert _since(before) == {"transaction": 1}
    assert turn.transfer is not None and not turn.replayed
    assert any(isinstance(m, act.Say) for m in turn.media)
    assert store.record(turn.call_id).ivr_version == turns[-1].version + 1


async def test_a_status_after_the_goodbye_is_settled_batched_and_a_mid_flow_one_is_not(
        driver: HotlineDriver, store: FakeTurnStore) -> None:
    done = await _call(driver, "CA-done", SURVEY)
    gone = await _call(driver, "CA-gone", ["2", "1"])
    before = _outcomes()

    settled = await driver.carrier_status(Carrier.TWILIO, "CA-done", "completed",
                                          duration_s=30.0)

    assert _since(before) == {"settled": 1}
    assert settled.ended_at is not None and store.rows[done[-1].call_id]["duration_s"] == 30.0
    assert done[-1].call_id in store.contacts
    before = _outcomes()
    await driver.carrier_status(Carrier.TWILIO, "CA-gone", "completed", duration_s=9.0)
    assert _since(before) == {"transaction": 1}  # the session needed its hang-up turn
    assert store.record(gone[-1].call_id).ended_at is not None


async def test_a_process_answers_from_the_call_it_stored_without_reading_it(
        driver: HotlineDriver, store: FakeTurnStore) -> None:
    loads = 0
    load = store.load

    async def counted(carrier: str, carrier_call_id: str) -> object:
        nonlocal loads
        loads += 1
        return await load(carrier, carrier_call_id)

    store.load = counted  # type: ignore[method-assign]
    turns = await _call(driver, "CA-kept", SURVEY)
    await driver.carrier_status(Carrier.TWILIO, "CA-kept", "completed", duration_s=30.0)

    assert loads == 0
    assert turns[-1].ended and len(store.surveys) == 1
    assert driver.recent.get("twilio", "CA-kept") is None  # an ended call is not kept


async def test_a_call_another_process_moved_on_is_read_again_and_its_step_replayed(
        driver: HotlineDriver, store: FakeTurnStore, tmp_path: Path) -> None:
    """Twilio sent the same key twice, to two processes: the one that had the call in
    memory loses to the one that stored the key first, writes nothing, and answers with
    the step the other one stored."""
    first = (await _call(driver, "CA-twice", []))[0]
    other = await _driver(store, tmp_path).feed(Carrier.TWILIO, "CA-twice", ev.Digits("2"),
                                                expected_version=first.version)
    stored = (store.record(first.call_id), store.keys(first.call_id))
    before = _outcomes()

    again = await driver.feed(Carrier.TWILIO, "CA-twice", ev.Digits("2"),
                              expected_version=first.version)

    assert again.replayed and again.media == other.media and again.version == other.version
    assert (store.record(first.call_id), store.keys(first.call_id)) == stored
    assert _since(before) == {"replayed": 1}
    # the next key (at the version the other process stored) is served on a fresh read
    nxt = await driver.feed(Carrier.TWILIO, "CA-twice", ev.Digits("1"),
                            expected_version=other.version)
    assert not nxt.replayed and store.record(first.call_id).ivr_version == other.version + 1


async def test_a_status_settles_on_the_call_as_stored_not_as_remembered(
        driver: HotlineDriver, store: FakeTurnStore) -> None:
    """Another process queued the call and an agent answered it (writes that move no IVR
    version): the status callback's settling, started from the call in memory, is refused
    by the store, and the settling is done again on the call as stored: answered."""
    turns = await _call(driver, "CA-queued", SURVEY)
    at = datetime(2026, 5, 18, 2, 1, tzinfo=UTC)
    store.rows[turns[-1].call_id].update(queue="hotline", queued_at=at, answered_at=at)

    settled = await driver.carrier_status(Carrier.TWILIO, "CA-queued", "completed",
                                          duration_s=60.0)

    assert settled.disposition == "answered"
    assert store.record(turns[-1].call_id).disposition == "answered"
    assert store.keys(turns[-1].call_id).count("ended") == 1


async def test_a_status_reaching_a_process_that_saw_only_the_calls_start_is_settled_batched(
        driver: HotlineDriver, store: FakeTurnStore, tmp_path: Path) -> None:
    """The process remembers the call mid-survey; another one took it to the goodbye. The
    remembered session looks live (a hang-up turn would need a transaction): the settling
    reads the call first, finds the session ended, and is stored batched."""
    turns = await _call(driver, "CA-split", SURVEY[:2])
    other = _driver(store, tmp_path)
    version = turns[-1].version
    for key in SURVEY[2:]:
        version = (await other.feed(Carrier.TWILIO, "CA-split", ev.Digits(key),
                                    expected_version=version)).version
    before = _outcomes()

    settled = await driver.carrier_status(Carrier.TWILIO, "CA-split", "completed",
                                          duration_s=50.0)

    assert _since(before) == {"settled": 1}
    assert settled.ended_at is not None and settled.ivr_version == version
    assert store.record(turns[-1].call_id).ivr_version == version  # no hang-up turn added
