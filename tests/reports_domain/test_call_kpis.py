"""Call KPIs on small hand-built days (kpi.md formulas), in Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from reports.kpi import CallKpis, Scope, call_kpis
from reports.periods import Granularity, Interval
from reports.rules import CallKpiSettings, KpiRules

SHANGHAI = "Asia/Shanghai"


def at(local: str) -> datetime:
    """A Shanghai wall-clock time as a UTC instant."""
    return pd.Timestamp(local, tz=SHANGHAI).tz_convert(UTC).to_pydatetime()


def calls_frame(rows: list[tuple]) -> pd.DataFrame:
    columns = ["call_id", "started_at", "queue", "agent_id", "disposition",
               "wait_s", "talk_s", "hold_s", "wrapup_s"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
    return frame


# call_id, started (local), queue, agent, disposition, wait, talk, hold, wrap-up
MAY_DAY = calls_frame([
    ("c1", at("2024-05-01 09:00"), "repair", 7, "answered", 10, 100, 20, 30),
    ("c2", at("2024-05-01 09:05"), "repair", 8, "answered", 30, 200, 0, 40),
    ("c3", at("2024-05-01 10:00"), "repair", None, "abandoned", 3, None, None, None),
    ("c4", at("2024-05-01 10:30"), "repair", None, "abandoned", 25, None, None, None),
    ("c5", at("2024-05-01 11:00"), "complaints", None, "timeout", 120, None, None, None),
    ("c6", at("2024-05-01 11:10"), "complaints", None, "overflow", 60, None, None, None),
    ("c7", at("2024-05-01 12:00"), None, None, "ivr_only", None, None, None, None),
    ("c8", at("2024-05-01 13:00"), "complaints", 7, "answered", 20, 60, 0, 0),
    ("c9", at("2024-05-01 23:59:50"), "repair", 8, "answered", 5, 600, 0, 0),
    ("c10", at("2024-05-02 00:00:10"), "repair", None, "abandoned", 8, None, None, None),
])


def by_label(results: list[CallKpis]) -> dict[tuple[str, object], CallKpis]:
    return {(r.window.label, r.key): r for r in results}


def centre_day(label: str = "2024-05-01", rules: KpiRules | None = None) -> CallKpis:
    rules = rules or KpiRules()
    return by_label(call_kpis(MAY_DAY, Granularity.DAY, SHANGHAI, rules))[(label, None)]


def test_offered_counts_queued_calls_and_leaves_ivr_only_apart() -> None:
    day = centre_day()
    assert (day.offered, day.answered, day.abandoned, day.short_abandoned) == (8, 4, 2, 1)
    assert (day.timeouts, day.overflows, day.ivr_only) == (1, 1, 1)


def test_asa_is_the_wait_of_answered_calls_over_answered_calls() -> None:
    assert centre_day().asa_s == pytest.approx((10 + 30 + 20 + 5) / 4)


def test_aht_is_talk_hold_and_wrap_up_over_handled_calls() -> None:
    assert centre_day().aht_s == pytest.approx((150 + 240 + 60 + 600) / 4)


def test_service_level_leaves_short_abandons_out_and_states_its_threshold() -> None:
    day = centre_day()
    assert day.answered_within_sl == 3  # waits 10, 20 (the threshold itself), 5
    assert day.service_level_denominator == 5  # 4 answered + 1 abandon after 5 s
    assert day.service_level == pytest.approx(3 / 5)
    assert day.to_dict()["service_level_label"] == "SL 20 s"


def test_abandon_and_answer_rates() -> None:
    day = centre_day()
    assert day.abandon_rate == pytest.approx(1 / 5)
    assert day.answer_rate == pytest.approx(4 / 8)


def test_short_abandons_count_when_the_setting_says_so() -> None:
    rules = KpiRules(default=CallKpiSettings(exclude_short_abandons=False))
    day = centre_day(rules=rules)
    assert day.service_level_denominator == 6
    assert day.abandon_rate == pytest.approx(2 / 6)


def test_a_call_crossing_midnight_counts_whole_on_its_start_day() -> None:
    first, second = centre_day("2024-05-01"), centre_day("2024-05-02")
    assert first.handle_s == pytest.approx(150 + 240 + 60 + 600)  # c9's 600 s talk included
    assert (second.offered, second.answered, second.abandoned) == (1, 0, 1)
    assert second.asa_s is None and second.aht_s is None
    assert second.service_level == 0 and second.abandon_rate == 1


def test_per_queue_figures_use_each_queues_calls() -> None:
    queues = by_label(call_kpis(MAY_DAY, Granularity.DAY, SHANGHAI, scope=Scope.QUEUE))
    repair, complaints = queues[("2024-05-01", "repair")], queues[("2024-05-01", "complaints")]
    assert (repair.offered, repair.answered, repair.short_abandoned) == (5, 3, 1)
    assert repair.service_level == pytest.approx(2 / 4)
    assert (complaints.offered, complaints.timeouts, complaints.overflows) == (3, 1, 1)
    assert complaints.service_level == 1
    assert not any(key is None for _, key in queues)  # the IVR-only call has no queue


def test_a_queue_can_have_its_own_service_level_threshold() -> None:
    rules = KpiRules(per_queue={"complaints": CallKpiSettings(sl_threshold_s=10)})
    queues = by_label(call_kpis(MAY_DAY, Granularity.DAY, SHANGHAI, rules, Scope.QUEUE))
    complaints = queues[("2024-05-01", "complaints")]
    assert complaints.service_level == 0  # answered after 20 s > 10 s
    assert complaints.to_dict()["service_level_label"] == "SL 10 s"
    assert queues[("2024-05-01", "repair")].settings.sl_threshold_s == 20
    assert centre_day(rules=rules).service_level == pytest.approx(3 / 5)


def test_per_agent_figures_split_handled_calls() -> None:
    agents = by_label(call_kpis(MAY_DAY, Granularity.DAY, SHANGHAI, scope=Scope.AGENT))
    assert set(agents) == {("2024-05-01", 7), ("2024-05-01", 8)}
    assert agents[("2024-05-01", 7)].aht_s == pytest.approx((150 + 60) / 2)
    assert agents[("2024-05-01", 8)].aht_s == pytest.approx((240 + 600) / 2)


def test_a_call_through_two_queues_counts_once_centre_wide_and_once_per_queue() -> None:
    calls = calls_frame([("x", at("2024-05-01 09:00"), "sales", 9, "answered", 40, 100, 0, 0)])
    segments = pd.DataFrame(
        [("x", "repair", None, "overflow", 30, None, None, None),
         ("x", "sales", 9, "answered", 10, 100, 0, 0)],
        columns=["call_id", "queue", "agent_id", "disposition", "wait_s", "talk_s", "hold_s",
                 "wrapup_s"])
    centre = call_kpis(calls, Granularity.DAY, SHANGHAI, segments=segments)
    assert [(c.offered, c.answered, c.overflows) for c in centre] == [(1, 1, 0)]
    queues = by_label(call_kpis(calls, Granularity.DAY, SHANGHAI, scope=Scope.QUEUE,
                                segments=segments))
    repair, sales = queues[("2024-05-01", "repair")], queues[("2024-05-01", "sales")]
    assert (repair.offered, repair.overflows, repair.answered) == (1, 1, 0)
    assert (sales.offered, sales.answered, sales.asa_s) == (1, 1, 10)


def test_segments_of_an_unknown_call_are_refused() -> None:
    segments = pd.DataFrame([("ghost", "repair", None, "abandoned", 9, None, None, None)],
                            columns=["call_id", "queue", "agent_id", "disposition", "wait_s",
                                     "talk_s", "hold_s", "wrapup_s"])
    with pytest.raises(ValueError, match="ghost"):
        call_kpis(MAY_DAY, Granularity.DAY, SHANGHAI, scope=Scope.QUEUE, segments=segments)


def test_an_unknown_disposition_is_refused() -> None:
    frame = MAY_DAY.copy()
    frame.loc[0, "disposition"] = "hung"
    with pytest.raises(ValueError, match="hung"):
        call_kpis(frame, Granularity.DAY, SHANGHAI)


def test_hourly_intervals_split_the_day_by_start() -> None:
    hours = by_label(call_kpis(MAY_DAY, Interval(60), SHANGHAI))
    nine = hours[("2024-05-01T09:00:00+08:00", None)]
    assert (nine.offered, nine.answered) == (2, 2)
    assert nine.window.start_utc == datetime(2024, 5, 1, 1, tzinfo=UTC)


def test_a_week_and_a_month_hold_every_day_of_theirs() -> None:
    week = call_kpis(MAY_DAY, Granularity.WEEK, SHANGHAI)
    month = call_kpis(MAY_DAY, Granularity.MONTH, SHANGHAI)
    assert [(w.window.label, w.offered) for w in week] == [("2024-W18", 9)]
    assert [(m.window.label, m.offered) for m in month] == [("2024-05", 9)]


def test_kpi_settings_are_stored_with_the_report() -> None:
    rules = KpiRules(per_queue={"vip": CallKpiSettings(sl_threshold_s=60, short_abandon_s=3)})
    assert KpiRules.from_dict(rules.to_dict()) == rules
    assert centre_day().to_dict()["settings"] == {
        "sl_threshold_s": 20.0, "short_abandon_s": 5.0, "exclude_short_abandons": True}
