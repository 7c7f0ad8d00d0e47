"""FCR, CSAT, callback KPIs and IVR drop-outs on small hand-built frames (kpi.md)."""

from __future__ import annotations

from datetime import UTC

import pandas as pd
import pytest

from reports.callback_kpi import callback_kpis
from reports.csat import csat
from reports.ivr_dropout import NodeDropouts, ivr_dropout
from reports.periods import Granularity
from reports.resolution import first_contact_resolution

SHANGHAI = "Asia/Shanghai"


def at(local: str) -> pd.Timestamp:
    return pd.Timestamp(local, tz=SHANGHAI).tz_convert(UTC)


def utc_column(values: list[object]) -> pd.Series:
    return pd.Series(pd.to_datetime(values, utc=True))


CONTACTS = pd.DataFrame({
    "customer_id": [1, 1, 1, 2, 2, 3, 3, 4],
    "started_at": utc_column([at("2024-05-01 09:00"), at("2024-05-05 09:00"),
                              at("2024-05-01 10:00"), at("2024-05-01 09:00"),
                              at("2024-05-09 09:00:01"), at("2024-05-02 09:00"),
                              at("2024-05-09 09:00"), at("2024-05-03 09:00")]),
    "complaint_id": [100, 100, None, None, None, 200, 200, None],
    "category": ["repair_quality", "repair_quality", "billing", "billing", "billing", None,
                 "attitude", None],
})


def test_fcr_counts_issues_without_a_repeat_contact_within_seven_days() -> None:
    [may] = first_contact_resolution(CONTACTS, Granularity.MONTH, SHANGHAI)
    # issues: 1/complaint 100 (repeated), 1/billing, 2/billing twice (8 days apart: two issues,
    # both resolved), 3/complaint 200 (repeat exactly 7 days later counts as repeat).
    assert (may.issues, may.resolved_first_contact, may.repeated) == (5, 3, 2)
    assert may.fcr == pytest.approx(3 / 5)
    assert may.unclassified_contacts == 1


def test_fcr_leaves_out_issues_whose_window_is_still_open() -> None:
    [may] = first_contact_resolution(CONTACTS, Granularity.MONTH, SHANGHAI,
                                     as_of=at("2024-05-12 09:00").to_pydatetime())
    assert (may.resolved_first_contact, may.repeated, may.open) == (2, 2, 1)
    assert may.fcr == pytest.approx(2 / 4)


def test_fcr_reports_an_issue_in_the_window_of_its_first_contact() -> None:
    weeks = {r.window.label: r for r in first_contact_resolution(CONTACTS, Granularity.WEEK,
                                                                   SHANGHAI)}
    assert weeks["2024-W18"].issues == 4  # 1 to 5 May
    assert weeks["2024-W19"].issues == 1  # customer 2's second billing issue, 9 May
    assert weeks["2024-W19"].repeated == 0


SURVEYS = pd.DataFrame({
    "surveyed_at": utc_column([at("2024-05-01 10:00")] * 6),
    "staff_id": [7, 7, 8, 8, 8, 7],
    "timeliness": ["A", "A", "B", "A", "E", "A"],
    "quality": ["A", "B", "B", "A", "E", None],
    "attitude": ["B", "C", "B", "A", "E", "A"],
    "source": ["ivr", "ivr", "agent", "agent", "ivr", "ivr"],
    "verification": ["first_hand", "first_hand", "verified", "disputed", "first_hand",
                     "first_hand"],
    "complete": [True, True, True, True, False, False],
})


def test_csat_is_the_share_of_verified_complete_surveys_rated_a_or_b_throughout() -> None:
    [day] = csat(SURVEYS, Granularity.DAY, SHANGHAI)
    assert (day.surveys, day.top_two_box) == (3, 2)
    assert day.csat == pytest.approx(2 / 3)
    assert (day.incomplete, day.disputed, day.pending_verification) == (2, 1, 0)


def test_csat_item_means_are_on_the_keypad_scale() -> None:
    [day] = csat(SURVEYS, Granularity.DAY, SHANGHAI)
    assert day.keypad_mean("timeliness") == pytest.approx((1 + 1 + 2) / 3)
    assert day.keypad_mean("attitude") == pytest.approx((2 + 3 + 2) / 3)
    assert day.to_dict()["scale"].startswith("1=A")


def test_csat_per_staff_member() -> None:
    staff = {r.staff_id: r for r in csat(SURVEYS, Granularity.DAY, SHANGHAI, by_staff=True)}
    assert (staff[7].surveys, staff[7].top_two_box) == (2, 1)
    assert (staff[8].surveys, staff[8].top_two_box) == (1, 1)


CALLBACKS = pd.DataFrame({
    "created_at": utc_column([at("2024-05-01 10:00")] * 5),
    "due_at": utc_column([at("2024-05-04 10:00")] * 3 + [at("2024-05-20 10:00"),
                                                          at("2024-05-04 10:00")]),
    "first_attempt_at": utc_column([at("2024-05-02 10:00"), at("2024-05-05 10:00"), None, None,
                                    at("2024-05-04 10:00")]),
    "attempts": [1, 3, 0, 0, 2],
    "reached": [True, True, False, False, False],
    "kind": ["post_repair", "post_repair", "requested", "requested", "post_repair"],
})


def test_callback_kpis_count_placement_on_time_reach_and_attempts() -> None:
    [may] = callback_kpis(CALLBACKS, Granularity.MONTH, SHANGHAI,
                          as_of=at("2024-05-10 10:00").to_pydatetime())
    assert (may.callbacks, may.placed_on_time, may.placed_late) == (5, 2, 1)
    assert (may.overdue_not_placed, may.not_yet_due) == (1, 1)
    assert may.on_time_share == pytest.approx(2 / 4)
    assert may.reach_rate == pytest.approx(2 / 3)
    assert may.attempts_per_reached == pytest.approx((1 + 3) / 2)


def test_without_as_of_every_unplaced_callback_is_overdue() -> None:
    [may] = callback_kpis(CALLBACKS, Granularity.MONTH, SHANGHAI)
    assert (may.overdue_not_placed, may.not_yet_due) == (2, 0)
    assert may.on_time_share == pytest.approx(2 / 5)


def test_callback_kpis_per_kind() -> None:
    kinds = {r.kind: r for r in callback_kpis(CALLBACKS, Granularity.MONTH, SHANGHAI,
                                               by_kind=True)}
    assert kinds["post_repair"].callbacks == 3 and kinds["requested"].callbacks == 2
    assert kinds["requested"].reach_rate is None


def test_ivr_dropouts_are_charged_to_the_last_node_reached() -> None:
    start = at("2024-05-01 10:00")
    calls = pd.DataFrame({
        "call_id": ["i1", "i2", "i3", "i4", "i5", "i6"],
        "started_at": utc_column([start] * 6),
        "disposition": ["ivr_only"] * 4 + ["answered", "ivr_only"],
        "ivr_hangup": [True, True, False, True, True, True],
    })
    steps = pd.DataFrame(
        [("i1", 1, "main"), ("i1", 2, "complaint_menu"), ("i2", 1, "main"),
         ("i3", 1, "main"), ("i3", 2, "survey"), ("i5", 1, "main"),
         ("i6", 1, "main"), ("i6", 3, "complaint_menu"), ("i6", 2, "survey")],
        columns=["call_id", "seq", "node"])
    [day] = ivr_dropout(calls, steps, Granularity.DAY, SHANGHAI)
    assert (day.ivr_only_calls, day.hangups) == (5, 4)
    assert day.nodes == (NodeDropouts("complaint_menu", 2), NodeDropouts("main", 1),
                         NodeDropouts(None, 1))
    assert day.to_dict()["nodes"][0]["share"] == pytest.approx(0.5)
