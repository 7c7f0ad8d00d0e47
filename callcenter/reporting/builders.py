"""Build each report's payload (the stable JSON) from the database.

Loaders fetch rows, the pure `reports` modules compute, this module only
chooses the windows and assembles. Every payload has the same envelope:

``kind`` (supervision / daily / weekly / monthly / kpi), ``period`` ("2026-05",
"2026-05-18", "2026-W21", "20260501-20260531"), ``scope`` ("all" or
"department:<code>"), ``time_zone``, ``window`` (`ReportWindow.to_dict`),
``settings`` (the rules used: ``supervision`` and / or ``kpi``), ``names``
({``departments``: {id: {code, name}}, ``staff``: {id: {username, name,
department_id}}}), then the kind's own sections (README "Report JSON").
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import pandas as pd

from callcenter.reporting import loaders, samples, versions
from callcenter.reporting.config import kpi_rules, supervision_rules
from callcenter.reporting.lead_loaders import load_lead_rows
from callcenter.reporting.scope import Departments, parse_day, parse_month, parse_week
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from crm.access import normal_text
from reports.callback_kpi import callback_kpis
from reports.csat import csat
from reports.ivr_dropout import ivr_dropout
from reports.kpi import CallKpis, Scope, call_kpis
from reports.lead_follow_through import follow_through
from reports.operational import (
    callback_list,
    callback_results,
    classification_counts,
    complaint_week,
    monthly_satisfaction_table,
    problem_customers,
    window_satisfaction,
)
from reports.periods import Granularity, Month, ReportWindow, report_window
from reports.resolution import first_contact_resolution
from reports.scoring import score_month_frame
from reports.versions import previous_averages

__all__ = ["UnknownDepartment", "parse_week", "parse_day", "build", "Progress"]

Progress = Callable[[str], None]


class UnknownDepartment(LookupError):
    http_status = 404


def _envelope(kind: str, period: str, scope: str, settings: Settings, window: ReportWindow,
              rules: dict[str, Any], names: tuple[dict[int, Any], dict[int, Any]]) -> dict[str, Any]:
    return {
        "kind": kind, "period": period, "scope": scope, "time_zone": settings.timezone,
        "window": window.to_dict(), "settings": rules,
        "names": {"departments": {str(k): v for k, v in names[0].items()},
                  "staff": {str(k): v for k, v in names[1].items()}},
    }


def _no_progress(_: str) -> None:
    return None




def _only(frame: pd.DataFrame, departments: Departments) -> pd.DataFrame:
    if departments is None:
        return frame
    return frame.loc[frame["department_id"].isin(list(departments))]


async def _window_frames(db: Database, window: ReportWindow, tz: str, departments: Departments,
                         ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The callbacks, complaints and surveys of `window` (of `departments` only, when given)."""
    callbacks = _only(await loaders.load_callbacks(db, window.start_utc, window.end_utc), departments)
    complaints = _only(await loaders.load_complaints(db, window.start_utc, window.end_utc), departments)
    surveys = _only(await loaders.load_surveys(db, window.start_utc, window.end_utc, tz), departments)
    return callbacks, complaints, surveys


def _scope(departments: Departments) -> str:
    return "all" if departments is None else "departments:" + ",".join(
        str(d) for d in sorted(departments))


async def _department(db: Database, wanted: str | None,
                      departments: dict[int, dict[str, Any]]) -> int | None:
    if wanted is None:
        return None
    key = normal_text(wanted)  # "svc-n", " SVC-N ", "ＳＶＣ－Ｎ", "３" all name the same one
    for dept_id, info in departments.items():
        if normal_text(info["code"]) == key or str(dept_id) == key:
            return dept_id
    raise UnknownDepartment(f"no department with code or id {wanted!r}; "
                            f"known codes: {sorted(d['code'] for d in departments.values())}")


def _trend_of(supervision: dict[str, Any], scored: list[int]) -> dict[str, Any]:
    """A trend month's department figures as its published version holds them."""
    return {str(d["department_id"]): {
        "average": d["satisfaction"]["average"], "surveys": d["satisfaction"]["surveys"]["counted"],
        "complaints": d["complaints"]["complaints"], "band": d["complaints"]["band"],
        "complaint_amount": d["complaints"]["amount"],
    } for d in supervision.get("departments", []) if d["department_id"] in scored}


async def supervision(db: Database, settings: Settings, month: Month, department: str | None = None,
                      progress: Progress = _no_progress) -> dict[str, Any]:
    """The monthly supervision score (001), with a trend of ``report_trend_months`` months."""
    tz, rules = settings.timezone, supervision_rules(settings)
    names = await loaders.load_names(db)
    chosen = await _department(db, department, names[0])
    first = month
    for _ in range(max(settings.report_trend_months - 1, 1)):
        first = first.previous()
    start = report_window(Granularity.MONTH, first.first_day, tz).start_utc
    window = report_window(Granularity.MONTH, month.first_day, tz)
    progress("loading surveys")
    # the month's rows (staff figures); the months before (the previous month's average,
    # the trend) as department counts grouped by the server: two connections at once
    async with asyncio.TaskGroup() as reads:
        rows = reads.create_task(
            loaders.load_scored_surveys(db, window.start_utc, window.end_utc, tz))
        counts = reads.create_task(loaders.load_survey_counts(db, start, window.start_utc, tz))
    surveys, earlier = rows.result(), counts.result()
    surveys, sample = samples.apply_unsampled_rule(
        surveys, await samples.drawn_survey_ids(db, window.start_utc, window.end_utc),
        settings.survey_sample_unsampled, str(month))
    # the previous month's average is read from its published version, never recomputed
    published_before = await versions.published_version(db, str(month.previous()))
    progress("loading complaints and leads")
    complaints = await loaders.load_supervision_complaints(db, start, window.end_utc, tz)
    leads = await loaders.load_leads(db, window.start_utc, window.end_utc, tz)
    unassigned = surveys["department_id"].isna() & (surveys["month"] == str(month))
    surveys = surveys.loc[surveys["department_id"].notna()].astype({"department_id": "int64"})
    complaints = complaints.loc[complaints["department_id"].notna()]
    # a public-form complaint nobody confirmed is listed, never counted (crm.complaint_rules)
    held = complaints.loc[(complaints["counted"] == 0) & (complaints["month"] == str(month))]
    unconfirmed = [{"complaint_id": int(r.complaint_id), "ticket": str(r.ticket),
                    "department_id": int(r.department_id),
                    "number": None if pd.isna(r.reported_number) else str(r.reported_number),
                    "opened_at": r.opened_at.isoformat(), "status": "unconfirmed, not counted"}
                   for r in held.sort_values("complaint_id").itertuples()]
    complaints = complaints.loc[complaints["counted"] == 1]
    leads = leads.loc[leads["department_id"].notna()]
    scored = sorted(set(await loaders.service_departments(db))
                    | set(surveys.loc[surveys["month"] == str(month), "department_id"].dropna().astype(int))
                    | set(complaints.loc[complaints["month"] == str(month), "department_id"].dropna().astype(int)))
    if chosen is not None:
        scored = [chosen]
    progress("scoring")
    # department-level rows, each standing for n surveys (column n)
    earlier = earlier.loc[earlier["department_id"].notna()]
    earlier = earlier.assign(staff_id=None).astype({"department_id": "int64"})
    before = earlier.loc[earlier["month"].astype("string") == str(month.previous())]
    previous: dict[Any, Fraction] | None = None
    if published_before is not None:
        previous = previous_averages(published_before.figures.get("supervision", {}))
        before = before.iloc[0:0]
    report = score_month_frame(month, pd.concat([surveys.assign(n=1), before], ignore_index=True),
                               complaints, leads, rules, scored, previous)
    trend = []
    m = first
    while m <= month:
        progress(f"trend {m}")
        frozen = None if m == month else await versions.published_version(db, str(m))
        if frozen is not None:  # a published month shows its published figures
            trend.append({"month": str(m), "published_version": frozen.version,
                          "departments": _trend_of(frozen.figures.get("supervision", {}), scored)})
            m = m.next()
            continue
        past = report if m == month else score_month_frame(m, earlier, complaints, None, rules,
                                                           scored)
        trend.append({"month": str(m), "departments": {
            str(d.department_id): {
                "average": d.satisfaction.to_dict()["average"],
                "surveys": d.satisfaction.surveys.counted,
                "complaints": d.complaints.complaints, "band": d.complaints.band,
                "complaint_amount": str(d.complaints.amount),
            } for d in past.departments}})
        m = m.next()
    scope = "all" if chosen is None else f"department:{names[0][chosen]['code']}"
    payload = _envelope("supervision", str(month), scope, settings, window,
                        {"supervision": rules.to_dict()}, names)
    payload.update(supervision=report.to_dict(), unassigned_surveys=int(unassigned.sum()),
                   unconfirmed_complaints=unconfirmed,
                   trend=trend, verification_sample=sample, previous_month={
                       "month": str(month.previous()),
                       "source": "computed" if published_before is None else "published",
                       "version": None if published_before is None else published_before.version})
    return payload


async def day_call_kpis(db: Database, settings: Settings, day: date) -> list[CallKpis]:
    """The centre's call KPIs of one local day: the daily report's and the wallboard's figures."""
    window = report_window(Granularity.DAY, day, settings.timezone)
    calls = await loaders.load_calls(db, window.start_utc, window.end_utc)
    if not len(calls):
        return []
    return call_kpis(calls, Granularity.DAY, settings.timezone, kpi_rules(settings))


async def daily(db: Database, settings: Settings, day: date, now: datetime,
                progress: Progress = _no_progress, departments: Departments = None) -> dict[str, Any]:
    """Problem customers of the day's callbacks, classified, with the day's satisfaction."""
    tz, window = settings.timezone, report_window(Granularity.DAY, day, settings.timezone)
    names = await loaders.load_names(db)
    progress("loading callbacks, complaints, surveys, calls")
    callbacks, complaints, surveys = await _window_frames(db, window, tz, departments)
    kpis = await day_call_kpis(db, settings, day)
    problems = problem_customers(callbacks, complaints, window)
    satisfaction = window_satisfaction(surveys, window)
    rules = kpi_rules(settings)
    payload = _envelope("daily", day.isoformat(), _scope(departments), settings, window,
                        {"kpi": rules.to_dict()}, names)
    payload.update(
        problem_customers=[p.to_dict() for p in problems],
        classification=classification_counts(problems),
        callbacks=callback_results(callbacks, window).to_dict(),
        satisfaction=None if satisfaction is None else satisfaction.to_dict(),
        calls=[k.to_dict() for k in kpis],
        generated_as_of=now.astimezone(UTC).isoformat(),
    )
    return payload


async def weekly(db: Database, settings: Settings, monday: date, now: datetime,
                 progress: Progress = _no_progress, departments: Departments = None) -> dict[str, Any]:
    """The week's callback results, satisfaction, problem customers and complaint report."""
    tz, window = settings.timezone, report_window(Granularity.WEEK, monday, settings.timezone)
    names = await loaders.load_names(db)
    progress("loading callbacks, complaints, surveys")
    callbacks, complaints, surveys = await _window_frames(db, window, tz, departments)
    problems = problem_customers(callbacks, complaints, window)
    satisfaction = window_satisfaction(surveys, window)
    created = callbacks.loc[(callbacks["created_at"] >= pd.Timestamp(window.start_utc))
                            & (callbacks["created_at"] < pd.Timestamp(window.end_utc))]
    kpis = callback_kpis(created, Granularity.WEEK, tz, as_of=now, by_kind=True) if len(created) else []
    as_of = min(now, window.end_utc)
    payload = _envelope("weekly", window.label, _scope(departments), settings, window, {}, names)
    payload.update(
        callbacks=callback_results(callbacks, window).to_dict(),
        callback_list=callback_list(callbacks, window),
        callback_kpis=[k.to_dict() for k in kpis],
        satisfaction=None if satisfaction is None else satisfaction.to_dict(),
        problem_customers=[p.to_dict() for p in problems],
        classification=classification_counts(problems),
        complaints=complaint_week(complaints, window, as_of).to_dict(),
        generated_as_of=now.astimezone(UTC).isoformat(),
    )
    return payload


async def monthly(db: Database, settings: Settings, month: Month, now: datetime,
                  progress: Progress = _no_progress, departments: Departments = None) -> dict[str, Any]:
    """The previous month's customer-satisfaction callback table (月客户满意度回访表)."""
    tz, window = settings.timezone, report_window(Granularity.MONTH, month.first_day, settings.timezone)
    names = await loaders.load_names(db)
    progress("loading callbacks, complaints, surveys")
    callbacks, complaints, surveys = await _window_frames(db, window, tz, departments)
    problems = problem_customers(callbacks, complaints, window)
    satisfaction = window_satisfaction(surveys, window)
    leads, follow_ups = await load_lead_rows(db, window.start_utc, window.end_utc)
    heads = [h for h in follow_through(leads, follow_ups, start=window.start_utc, end=window.end_utc, as_of=now)
             if departments is None or h.department_id in departments]
    payload = _envelope("monthly", str(month), _scope(departments), settings, window, {}, names)
    payload.update(
        lead_follow_through=[h.to_dict() for h in heads],
        satisfaction_table=[r.to_dict() for r in monthly_satisfaction_table(callbacks, surveys, window)],
        callbacks=callback_results(callbacks, window).to_dict(),
        satisfaction=None if satisfaction is None else satisfaction.to_dict(),
        problem_customers=[p.to_dict() for p in problems],
        classification=classification_counts(problems),
        generated_as_of=now.astimezone(UTC).isoformat(),
    )
    return payload


async def kpi(db: Database, settings: Settings, first: date, last: date,
              granularity: Granularity = Granularity.DAY, now: datetime | None = None,
              progress: Progress = _no_progress) -> dict[str, Any]:
    """Call KPIs per window, centre-wide, per queue and per agent, with CSAT, callbacks,
    IVR drop-out and FCR, for the local dates ``first..last`` (inclusive)."""
    if last < first:
        raise ValueError(f"--to {last} is before --from {first}")
    tz, rules = settings.timezone, kpi_rules(settings)
    start = report_window(Granularity.DAY, first, tz).start_utc
    end = report_window(Granularity.DAY, last, tz).end_utc
    window = ReportWindow("range", f"{first}..{last}", tz, start, end)
    names = await loaders.load_names(db)
    progress("loading calls, IVR steps, surveys, callbacks, contacts")
    async with asyncio.TaskGroup() as reads:  # one connection each: the server works meanwhile
        calls_read = reads.create_task(loaders.load_calls(db, start, end))
        steps_read = reads.create_task(loaders.load_ivr_steps(db, start, end))
        surveys_read = reads.create_task(loaders.load_surveys(db, start, end, tz))
        callbacks_read = reads.create_task(loaders.load_callbacks(db, start, end))
        contacts_read = reads.create_task(loaders.load_contacts(
            db, start, end + timedelta(days=rules.fcr_window_days)))
    calls, steps, surveys = calls_read.result(), steps_read.result(), surveys_read.result()
    callbacks, contacts = callbacks_read.result(), contacts_read.result()
    created = callbacks.loc[(callbacks["created_at"] >= pd.Timestamp(start))
                            & (callbacks["created_at"] < pd.Timestamp(end))]
    progress("computing KPIs")
    sections: dict[str, Any] = {}
    segments = await loaders.load_segments(db, start, end, calls) if len(calls) else None
    for name, scope in (("centre", Scope.CENTRE), ("queues", Scope.QUEUE), ("agents", Scope.AGENT)):
        # per queue / agent: one row per queue segment; centre-wide: one per call (kpi.md)
        sections[name] = [k.to_dict() for k in call_kpis(
            calls, granularity, tz, rules, scope, None if scope is Scope.CENTRE else segments)] \
            if len(calls) else []
    sections["csat"] = [c.to_dict() for c in csat(surveys, granularity, tz)] if len(surveys) else []
    sections["callbacks"] = [c.to_dict() for c in callback_kpis(created, granularity, tz, as_of=now)] \
        if len(created) else []
    sections["ivr_dropout"] = [d.to_dict() for d in ivr_dropout(calls, steps, granularity, tz)] \
        if len(calls) else []
    # contacts after the range are read only to see repeats of issues opened inside it
    fcr = first_contact_resolution(contacts, granularity, tz, rules.fcr_window_days, as_of=now) \
        if len(contacts) else []
    sections["fcr"] = [f.to_dict() for f in fcr if f.window.start_utc < end]
    period = f"{first:%Y%m%d}-{last:%Y%m%d}"  # fits report_runs.period (20 characters)
    payload = _envelope("kpi", period, "all", settings, window, {"kpi": rules.to_dict()}, names)
    payload.update(granularity=str(granularity), **sections)
    return payload


async def build(db: Database, settings: Settings, kind: str, period: str, now: datetime,
                department: str | None = None, progress: Progress = _no_progress,
                departments: Departments = None) -> dict[str, Any]:
    """Dispatch on ``kind`` with ``period`` in that kind's format; ``departments`` limits
    the daily/weekly/monthly rows to those a reader may see (`readable_departments`)."""
    if kind == "supervision":
        return await supervision(db, settings, parse_month(period), department, progress)
    if kind == "daily":
        return await daily(db, settings, parse_day(period), now, progress, departments)
    if kind == "weekly":
        return await weekly(db, settings, parse_week(period), now, progress, departments)
    if kind == "monthly":
        return await monthly(db, settings, parse_month(period), now, progress, departments)
    if kind == "kpi":
        compact = re.fullmatch(r"(\d{4})(\d{2})(\d{2})-(\d{4})(\d{2})(\d{2})", period.strip())
        if compact:
            first, last = "-".join(compact.groups()[:3]), "-".join(compact.groups()[3:])
        else:
            first, _, last = period.partition("..")
        return await kpi(db, settings, parse_day(first), parse_day(last or first), now=now,
                         progress=progress)
    raise ValueError(f"unknown report kind {kind!r}")
