"""Daily, weekly and monthly operational reports and call KPIs from stored rows (000, 002, kpi.md)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

from callcenter.reporting import builders
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, Callback, CallbackAttempt, CallEvent, CallSegment
from reports.periods import Month
from tests import factories

from .helpers import Shop, complaints, local, raw_surveys, shop

_ids = itertools.count(1)


async def callback(db: Database, s: Shop, disposition: str | None, completed: datetime | None,
                   created: datetime, deadline: datetime | None = None,
                   first_attempt: datetime | None = None, kind: str = "post_repair") -> None:
    n = next(_ids)
    row = Callback(source_key=f"k-{n}", kind=kind, state="completed" if completed else "scheduled",
                   customer_id=s.customer_id, phone="+8613800000000", timezone="Asia/Shanghai",
                   due_at=created, deadline_at=deadline, next_attempt_at=created,
                   disposition=disposition, feedback="空调还是不冷" if disposition else None,
                   completed_at=completed, created_at=created,
                   attempts=1 if first_attempt else 0)
    await factories.add(db, row)
    if first_attempt is not None:
        await factories.add(db, CallbackAttempt(id=f"a-{n}", callback_id=row.id, number=1,
                                                started_at=first_attempt, worker="w",
                                                carrier="twilio", result="answered"))


async def test_the_daily_report_lists_problem_customers_classified_by_their_complaint(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    day = local("2026-05-18 00:00")
    await callback(db, s, "dissatisfied", day + timedelta(hours=10), day - timedelta(days=2))
    await callback(db, s, "satisfied", day + timedelta(hours=11), day - timedelta(days=2))
    await callback(db, s, "dissatisfied", day - timedelta(hours=1), day - timedelta(days=3))  # day before
    await complaints(db, s, 1, day + timedelta(hours=10, minutes=5), category="repair_quality")
    await raw_surveys(db, s, "ABB", day + timedelta(hours=9), 3)
    report = await builders.daily(db, settings, date(2026, 5, 18), day + timedelta(days=1))
    (problem,) = report["problem_customers"]
    assert problem["customer_id"] == s.customer_id and problem["classification"] == "repair_quality"
    assert problem["how_solved"].startswith("open (new)")
    assert report["classification"] == {"repair_quality": 1}
    assert report["callbacks"]["by_class"]["satisfied"] == 1
    assert report["callbacks"]["by_class"]["problem"] == 1
    assert report["satisfaction"]["surveys"] == 3 and report["satisfaction"]["csat"] == 1.0


async def test_the_weekly_complaint_report_counts_states_overdue_and_time_to_resolve(
    db: Database, settings: Settings
) -> None:
    s = await shop(db)
    monday = local("2026-05-18 00:00")
    await complaints(db, s, 2, monday + timedelta(hours=9), category="attitude",
                     state="resolved", resolved_at=monday + timedelta(hours=21),
                     resolve_due_at=monday + timedelta(hours=81), resolution="道歉并回访")
    await complaints(db, s, 1, monday + timedelta(days=1), category="timeliness", major=True,
                     major_reasons=["vip_official"], resolve_due_at=monday + timedelta(days=2))
    await complaints(db, s, 1, monday - timedelta(days=20), category="billing",
                     resolve_due_at=monday - timedelta(days=17))  # old and still open
    report = await builders.weekly(db, settings, date(2026, 5, 18), monday + timedelta(days=7))
    week = report["complaints"]
    assert week["opened"] == 3 and week["major_opened"] == 1
    assert week["by_category_state"] == {"attitude": {"resolved": 2}, "timeliness": {"new": 1}}
    assert week["hours_to_resolve"] == {"mean": 12.0, "median": 12.0, "max": 12.0}
    assert len(week["overdue_open"]) == 2  # the old billing one and this week's major one
    assert week["top_causes"][0] == {"cause": "attitude", "complaints": 2}
    assert week["top_major_reasons"] == [{"reason": "vip_official", "complaints": 1}]
    assert report["period"] == "2026-W21"


async def test_the_monthly_table_has_a_line_per_department(db: Database, settings: Settings) -> None:
    s = await shop(db)
    at = local("2026-05-08 10:00")
    await callback(db, s, "satisfied", at, at - timedelta(days=1))
    await callback(db, s, "unreached", at, at - timedelta(days=1))
    await raw_surveys(db, s, "AAA", at, 1)
    await raw_surveys(db, s, "DDD", at, 1)
    report = await builders.monthly(db, settings, Month(2026, 5), local("2026-06-05 08:00"))
    lines = {r["department_id"]: r for r in report["satisfaction_table"]}
    assert lines[s.department_id]["surveys"] == 1 + 1 and lines[s.department_id]["csat"] == 0.5
    assert lines[None]["callbacks"] == 2 and lines[None]["satisfaction_rate"] == 1.0


async def test_call_kpis_from_stored_calls_follow_the_definitions(db: Database, settings: Settings) -> None:
    t = local("2026-05-18 09:00")

    def call(n: int, disposition: str, wait: float | None, talk: float = 0, queue: str | None = "repair",
             answered: bool = False) -> Call:
        queued = t + timedelta(minutes=n) if queue else None
        return Call(carrier="twilio", carrier_call_id=f"CA{n}", direction="inbound",
                    started_at=t + timedelta(minutes=n, seconds=-30), queue=queue,
                    queued_at=queued,
                    answered_at=queued + timedelta(seconds=wait) if answered and queued and wait is not None else None,
                    ended_at=(queued + timedelta(seconds=(wait or 0) + talk)) if queued else t + timedelta(minutes=n),
                    disposition=disposition, wrapup_s=30 if answered else 0)

    calls = [call(1, "answered", 10, 100, answered=True), call(2, "answered", 30, 200, answered=True),
             call(3, "abandoned", 3), call(4, "abandoned", 25), call(5, "ivr_only", None, queue=None),
             call(6, "ivr_only", None, queue=None)]
    await factories.add(db, *calls)
    await factories.add(db, CallEvent(call_id=calls[4].id, at=t, kind="ivr_step", node="main",
                                      detail={"keys": "", "outcome": "call_started"}),
                        CallEvent(call_id=calls[4].id, at=t + timedelta(seconds=5), kind="ivr_step",
                                  node="survey", detail={"keys": "", "outcome": "hangup"}))
    report = await builders.kpi(db, settings, date(2026, 5, 18), date(2026, 5, 18),
                                now=local("2026-05-19 00:00"))
    (centre,) = report["centre"]
    assert (centre["offered"], centre["answered"], centre["abandoned"], centre["short_abandoned"],
            centre["ivr_only"]) == (4, 2, 2, 1, 2)
    assert centre["asa_s"] == 20 and centre["aht_s"] == 180  # (100+30 + 200+30) / 2
    assert centre["service_level"] == 1 / 3 and centre["service_level_label"] == "SL 20 s"
    assert centre["service_level_denominator"] == 3
    (dropout,) = report["ivr_dropout"]
    assert dropout["hangups"] == 1 and dropout["nodes"][0]["node"] == "survey"


async def test_per_queue_kpis_count_segments_and_a_call_without_segments_counts_in_its_queue(
    db: Database, settings: Settings
) -> None:
    t = local("2026-05-18 09:00")
    s = timedelta(seconds=1)
    moved = Call(carrier="asterisk", carrier_call_id="L-1", direction="inbound", started_at=t,
                 queue="repair", queued_at=t + 10 * s, answered_at=t + 70 * s, ended_at=t + 200 * s,
                 disposition="answered", hold_s=20, wrapup_s=30)
    twilio = Call(carrier="twilio", carrier_call_id="CA-1", direction="inbound", started_at=t,
                  queue="sales", queued_at=t, answered_at=t + 5 * s, ended_at=t + 65 * s,
                  disposition="answered")
    await factories.add(db, moved, twilio)
    # "repair" gave the caller up after 60 s (transfer out unanswered); "sales" answered
    await factories.add(db, CallSegment(call_id=moved.id, queue="repair", entered_at=t + 10 * s,
                                        ended_at=t + 70 * s, outcome="transferred"),
                        CallSegment(call_id=moved.id, queue="sales", entered_at=t + 70 * s,
                                    answered_at=t + 80 * s, ended_at=t + 200 * s, outcome="answered"))
    report = await builders.kpi(db, settings, date(2026, 5, 18), date(2026, 5, 18),
                                now=local("2026-05-19 00:00"))
    (centre,) = report["centre"]
    assert (centre["offered"], centre["answered"]) == (2, 2)
    queues = {q["key"]: q for q in report["queues"]}
    assert (queues["repair"]["offered"], queues["repair"]["answered"],
            queues["repair"]["overflows"]) == (1, 0, 1)
    assert (queues["sales"]["offered"], queues["sales"]["answered"]) == (2, 2)
    assert queues["sales"]["asa_s"] == (10 + 5) / 2
    assert queues["sales"]["aht_s"] == ((120 - 20 + 20 + 30) + 60) / 2  # hold, wrap-up on the answer
