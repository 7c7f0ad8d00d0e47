"""The operational reports of the callback desk and complaint managers (seeds 000, 002).

Pure functions over DataFrames; the loaders in `callcenter.reporting` fill them.

Guarantees:

* A callback's outcome is classified once, by `classify_disposition`:
  ``satisfied`` (satisfied / confirmed), ``problem`` (dissatisfied, disputed,
  complaint, problem), ``unreached`` (unreached, no answer, busy, do-not-call,
  expired, failed, hung up, no response) or ``other``; spaces and hyphens
  in a disposition count as underscores ("no answer" = "no_answer"). A
  completed post-repair survey with no D or E grade (``surveyed``) is
  satisfied; one with a D or E grade is recorded as ``problem``. Every completed callback of a window lands in
  exactly one class, so the class counts add up to the callbacks completed.
* A *problem customer* of a window (000: "customers with problems found in the
  day's callbacks") is a customer with a ``problem`` callback completed in the
  window, or a complaint opened in the window through the ``callback``
  channel. One entry per customer; it is classified by the complaint's
  category when a complaint of that customer was opened in the window, else
  ``unclassified``; "how it was solved" is read from that complaint's state
  as of the report time (resolved / closed with resolution and hours taken,
  or still open with owner and due time).
* The weekly complaint report counts complaints *opened* in the window by
  category and current state; time to resolve is over complaints *resolved*
  in the window (hours from opening); overdue are complaints not resolved by
  ``as_of`` whose resolve-by time has passed, plus complaints resolved in the
  window after their resolve-by time. Top causes rank categories, then major
  reasons, by count.
* The monthly callback satisfaction table (月客户满意度回访表) has one row per
  department: callbacks completed by class, the callback satisfaction rate
  ``satisfied / (satisfied + problem)`` (``None`` when neither) and the CSAT
  of the department's counted surveys (same rule as `reports.csat`).

Column contracts (extra columns ignored; times tz-aware UTC):

``callbacks``: ``callback_id``, ``customer_id``, ``customer_name``,
``department_id``, ``kind``, ``disposition``, ``feedback``, ``completed_at``.
``complaints``: ``complaint_id``, ``ticket``, ``customer_id``, ``category``,
``state``, ``channel``, ``major``, ``major_reasons`` (comma-separated text),
``opened_at``, ``resolve_due_at``, ``resolved_at``, ``resolution``,
``owner_id``, ``department_id``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from reports.csat import CsatResult, csat
from reports.kpi import ratio
from reports.periods import Granularity, ReportWindow
from reports.survey_frame import python_id

__all__ = [
    "CALLBACK_RESULT_COLUMNS",
    "COMPLAINT_REPORT_COLUMNS",
    "OutcomeClass",
    "classify_disposition",
    "ProblemCustomer",
    "problem_customers",
    "CallbackResults",
    "callback_results",
    "ComplaintWeek",
    "complaint_week",
    "SatisfactionRow",
    "monthly_satisfaction_table",
    "window_satisfaction",
    "callback_list",
]

CALLBACK_RESULT_COLUMNS = ("callback_id", "customer_id", "customer_name", "department_id",
                           "kind", "disposition", "feedback", "completed_at")
COMPLAINT_REPORT_COLUMNS = ("complaint_id", "ticket", "customer_id", "category", "state",
                            "channel", "major", "major_reasons", "opened_at", "resolve_due_at",
                            "resolved_at", "resolution", "owner_id", "department_id")

OutcomeClass = str  # "satisfied" | "problem" | "unreached" | "other"
_CLASSES = ("satisfied", "problem", "unreached", "other")
_BY_DISPOSITION = {
    **dict.fromkeys(("satisfied", "confirmed", "surveyed"), "satisfied"),
    **dict.fromkeys(("dissatisfied", "disputed", "complaint", "problem"), "problem"),
    **dict.fromkeys(("unreached", "no_answer", "busy", "do_not_call", "expired", "failed",
                     "congestion", "canceled", "hung_up", "hangup", "no_response", "noanswer",
                     "no_input", "abandoned", "timeout"), "unreached"),
}
_RESOLVED_STATES = frozenset({"resolved", "closed"})


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks columns {missing}; expected {list(columns)}")


def classify_disposition(disposition: Any) -> OutcomeClass:
    """The class of one callback outcome (see the module guarantees)."""
    if disposition is None or (isinstance(disposition, float) and pd.isna(disposition)):
        return "other"
    key = str(disposition).strip().lower().replace(" ", "_").replace("-", "_")
    return _BY_DISPOSITION.get(key, "other")


def _in_window(series: pd.Series, window: ReportWindow) -> pd.Series:
    start, end = pd.Timestamp(window.start_utc), pd.Timestamp(window.end_utc)
    return series.notna() & (series >= start) & (series < end)


def _text(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _hours(start: Any, end: Any) -> float | None:
    if start is None or end is None or pd.isna(start) or pd.isna(end):
        return None
    hours: float = (pd.Timestamp(end) - pd.Timestamp(start)).total_seconds() / 3600
    return round(hours, 1)


@dataclass(frozen=True)
class ProblemCustomer:
    """JSON (`to_dict`): ``customer_id``, ``customer_name``, ``found_at``, ``callback_id``,
    ``callback_kind``, ``disposition``, ``feedback``, ``classification`` (complaint
    category or "unclassified"), ``complaint`` (ticket or null), ``state``,
    ``owner_id``, ``resolve_due_at``, ``resolved_at``, ``hours_to_resolve``,
    ``resolution``, ``how_solved`` (one readable line)."""

    customer_id: Any
    customer_name: str | None
    found_at: datetime | None
    callback_id: Any
    callback_kind: str | None
    disposition: str | None
    feedback: str | None
    classification: str
    complaint: str | None
    state: str | None
    owner_id: Any
    resolve_due_at: datetime | None
    resolved_at: datetime | None
    hours_to_resolve: float | None
    resolution: str | None

    @property
    def how_solved(self) -> str:
        if self.complaint is None:
            return "no complaint opened; feedback recorded on the callback"
        if self.state in _RESOLVED_STATES:
            took = "" if self.hours_to_resolve is None else f" in {self.hours_to_resolve:g} h"
            return f"{self.state}{took}: {self.resolution or 'no resolution text'}"
        due = "" if self.resolve_due_at is None else f", due {self.resolve_due_at.isoformat()}"
        owner = "no owner yet" if self.owner_id is None else f"owner staff {self.owner_id}"
        return f"open ({self.state}), {owner}{due}"

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "customer_id": self.customer_id, "customer_name": self.customer_name,
            "found_at": iso(self.found_at), "callback_id": self.callback_id,
            "callback_kind": self.callback_kind, "disposition": self.disposition,
            "feedback": self.feedback, "classification": self.classification,
            "complaint": self.complaint, "state": self.state, "owner_id": self.owner_id,
            "resolve_due_at": iso(self.resolve_due_at), "resolved_at": iso(self.resolved_at),
            "hours_to_resolve": self.hours_to_resolve, "resolution": self.resolution,
            "how_solved": self.how_solved,
        }


def _stamp(value: Any) -> datetime | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def problem_customers(
    callbacks: pd.DataFrame, complaints: pd.DataFrame, window: ReportWindow
) -> list[ProblemCustomer]:
    """The window's problem customers, earliest found first."""
    _require(callbacks, CALLBACK_RESULT_COLUMNS, "callbacks")
    _require(complaints, COMPLAINT_REPORT_COLUMNS, "complaints")
    done = callbacks.loc[_in_window(callbacks["completed_at"], window)]
    problems = done.loc[done["disposition"].map(classify_disposition) == "problem"]
    problems = problems.sort_values(["completed_at", "callback_id"], kind="stable")
    opened = complaints.loc[_in_window(complaints["opened_at"], window)].sort_values(
        ["opened_at", "complaint_id"], kind="stable")
    by_customer: dict[Any, Any] = {}
    for _, row in opened.iterrows():
        by_customer.setdefault(python_id(row["customer_id"]), row)
    found: dict[Any, dict[str, Any]] = {}
    for _, row in problems.iterrows():
        customer = python_id(row["customer_id"])
        found.setdefault(customer, {
            "customer_name": _text(row["customer_name"]), "found_at": _stamp(row["completed_at"]),
            "callback_id": python_id(row["callback_id"]), "callback_kind": _text(row["kind"]),
            "disposition": _text(row["disposition"]), "feedback": _text(row["feedback"]),
        })
    for _, row in opened.loc[opened["channel"].astype("string") == "callback"].iterrows():
        found.setdefault(python_id(row["customer_id"]), {
            "customer_name": None, "found_at": _stamp(row["opened_at"]), "callback_id": None,
            "callback_kind": None, "disposition": None, "feedback": None,
        })
    result = []
    for customer, seen in found.items():
        complaint = by_customer.get(customer)
        if complaint is None:
            result.append(ProblemCustomer(customer, **seen, classification="unclassified",
                                          complaint=None, state=None, owner_id=None,
                                          resolve_due_at=None, resolved_at=None,
                                          hours_to_resolve=None, resolution=None))
            continue
        result.append(ProblemCustomer(
            customer, **seen, classification=str(complaint["category"]),
            complaint=_text(complaint["ticket"]), state=_text(complaint["state"]),
            owner_id=python_id(complaint["owner_id"]),
            resolve_due_at=_stamp(complaint["resolve_due_at"]),
            resolved_at=_stamp(complaint["resolved_at"]),
            hours_to_resolve=_hours(complaint["opened_at"], complaint["resolved_at"]),
            resolution=_text(complaint["resolution"]),
        ))
    result.sort(key=lambda p: (p.found_at is None, p.found_at or datetime.min, str(p.customer_id)))
    return result


def callback_list(callbacks: pd.DataFrame, window: ReportWindow) -> list[dict[str, Any]]:
    """Every callback completed in the window with its outcome (000 §3.4: 详细客户回访报表),
    in completion order: ``callback_id``, ``customer_id``, ``customer_name``, ``kind``,
    ``completed_at``, ``disposition``, ``outcome`` (its class), ``feedback``."""
    _require(callbacks, CALLBACK_RESULT_COLUMNS, "callbacks")
    done = callbacks.loc[_in_window(callbacks["completed_at"], window)]
    done = done.sort_values(["completed_at", "callback_id"], kind="stable")
    rows = []
    for _, row in done.iterrows():
        stamp = _stamp(row["completed_at"])
        rows.append({
            "callback_id": python_id(row["callback_id"]), "customer_id": python_id(row["customer_id"]),
            "customer_name": _text(row["customer_name"]), "kind": _text(row["kind"]),
            "completed_at": None if stamp is None else stamp.isoformat(),
            "disposition": _text(row["disposition"]),
            "outcome": classify_disposition(row["disposition"]), "feedback": _text(row["feedback"]),
        })
    return rows


def classification_counts(problems: list[ProblemCustomer]) -> dict[str, int]:
    """Problem customers per classification, most first."""
    return dict(Counter(p.classification for p in problems).most_common())


@dataclass(frozen=True)
class CallbackResults:
    """Completed callbacks of a window by kind and class.

    JSON: ``completed``, ``by_class`` {satisfied, problem, unreached, other},
    ``by_kind`` {kind: {class: n}}, ``satisfaction_rate`` (satisfied /
    (satisfied + problem), null when neither)."""

    completed: int
    by_class: dict[str, int]
    by_kind: dict[str, dict[str, int]]

    @property
    def satisfaction_rate(self) -> float | None:
        happy = self.by_class["satisfied"]
        return ratio(happy, happy + self.by_class["problem"])

    def to_dict(self) -> dict[str, Any]:
        return {"completed": self.completed, "by_class": self.by_class, "by_kind": self.by_kind,
                "satisfaction_rate": self.satisfaction_rate}


def callback_results(callbacks: pd.DataFrame, window: ReportWindow) -> CallbackResults:
    _require(callbacks, CALLBACK_RESULT_COLUMNS, "callbacks")
    done = callbacks.loc[_in_window(callbacks["completed_at"], window)]
    classes = done["disposition"].map(classify_disposition)
    by_class = {c: int((classes == c).sum()) for c in _CLASSES}
    by_kind: dict[str, dict[str, int]] = {}
    for (kind, klass), n in pd.DataFrame({"kind": done["kind"].astype("string").fillna("-"),
                                          "klass": classes}).groupby(["kind", "klass"]).size().items():
        by_kind.setdefault(str(kind), dict.fromkeys(_CLASSES, 0))[str(klass)] = int(n)
    return CallbackResults(len(done), by_class, dict(sorted(by_kind.items())))


@dataclass(frozen=True)
class ComplaintWeek:
    """The weekly complaint report for managers (002).

    JSON: ``opened``, ``major_opened``, ``by_category_state`` {category: {state: n}},
    ``resolved``, ``hours_to_resolve`` {mean, median, max} (null without
    resolutions), ``overdue_open`` (tickets), ``resolved_late`` (tickets),
    ``top_causes`` [{cause, complaints}], ``top_major_reasons`` [{reason, complaints}].
    """

    opened: int
    major_opened: int
    by_category_state: dict[str, dict[str, int]]
    resolved: int
    hours_mean: float | None
    hours_median: float | None
    hours_max: float | None
    overdue_open: tuple[str, ...]
    resolved_late: tuple[str, ...]
    top_causes: tuple[tuple[str, int], ...]
    top_major_reasons: tuple[tuple[str, int], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "opened": self.opened, "major_opened": self.major_opened,
            "by_category_state": self.by_category_state, "resolved": self.resolved,
            "hours_to_resolve": {"mean": self.hours_mean, "median": self.hours_median,
                                 "max": self.hours_max},
            "overdue_open": list(self.overdue_open), "resolved_late": list(self.resolved_late),
            "top_causes": [{"cause": c, "complaints": n} for c, n in self.top_causes],
            "top_major_reasons": [{"reason": r, "complaints": n}
                                  for r, n in self.top_major_reasons],
        }


def _round(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 1)


def complaint_week(
    complaints: pd.DataFrame, window: ReportWindow, as_of: datetime, top: int = 5
) -> ComplaintWeek:
    """Weekly complaint figures; ``complaints`` must hold every complaint opened in the
    window, resolved in it, or still unresolved (the loader selects them)."""
    _require(complaints, COMPLAINT_REPORT_COLUMNS, "complaints")
    opened = complaints.loc[_in_window(complaints["opened_at"], window)]
    table: dict[str, dict[str, int]] = {}
    pairs = pd.DataFrame({"category": opened["category"].astype("string"),
                          "state": opened["state"].astype("string")})
    for (category, state), n in pairs.groupby(["category", "state"]).size().items():
        table.setdefault(str(category), {})[str(state)] = int(n)
    resolved = complaints.loc[_in_window(complaints["resolved_at"], window)]
    hours = (resolved["resolved_at"] - resolved["opened_at"]).dt.total_seconds() / 3600
    now = pd.Timestamp(as_of)
    unresolved = complaints["resolved_at"].isna() | (complaints["resolved_at"] > now)
    overdue = complaints.loc[unresolved & complaints["resolve_due_at"].notna()
                             & (complaints["resolve_due_at"] < now)
                             & (complaints["opened_at"] < pd.Timestamp(window.end_utc))]
    late = resolved.loc[resolved["resolve_due_at"].notna()
                        & (resolved["resolved_at"] > resolved["resolve_due_at"])]
    causes = Counter(opened["category"].astype("string").dropna().tolist()).most_common(top)
    reasons: Counter[str] = Counter()
    for text in opened.loc[opened["major"].fillna(False).astype(bool), "major_reasons"]:
        reasons.update(r.strip() for r in str(text or "").split(",") if r.strip())
    return ComplaintWeek(
        len(opened), int(opened["major"].fillna(False).astype(bool).sum()),
        dict(sorted(table.items())), len(resolved),
        _round(hours.mean()) if len(hours) else None,
        _round(hours.median()) if len(hours) else None,
        _round(hours.max()) if len(hours) else None,
        tuple(sorted(str(t) for t in overdue["ticket"])),
        tuple(sorted(str(t) for t in late["ticket"])),
        tuple((str(c), int(n)) for c, n in causes), tuple(reasons.most_common(top)),
    )


def window_satisfaction(surveys: pd.DataFrame, window: ReportWindow) -> CsatResult | None:
    """CSAT of the surveys taken in ``window`` (``None`` without any survey)."""
    inside = surveys.loc[_in_window(surveys["surveyed_at"], window)]
    if inside.empty:
        return None
    results = csat(inside, Granularity(window.kind), window.time_zone)
    return results[0] if results else None


@dataclass(frozen=True)
class SatisfactionRow:
    """One department's line of the 月客户满意度回访表.

    JSON: ``department_id``, ``callbacks`` (completed), ``satisfied``, ``problem``,
    ``unreached``, ``other``, ``satisfaction_rate``, ``surveys`` (counted),
    ``csat``, ``surveys_excluded``."""

    department_id: Any
    callbacks: CallbackResults
    surveys: CsatResult | None

    def to_dict(self) -> dict[str, Any]:
        s = self.surveys
        return {
            "department_id": self.department_id, "callbacks": self.callbacks.completed,
            **self.callbacks.by_class, "satisfaction_rate": self.callbacks.satisfaction_rate,
            "surveys": 0 if s is None else s.surveys, "csat": None if s is None else s.csat,
            "surveys_excluded": 0 if s is None else s.incomplete + s.pending_verification + s.disputed,
        }


def monthly_satisfaction_table(
    callbacks: pd.DataFrame, surveys: pd.DataFrame, window: ReportWindow
) -> list[SatisfactionRow]:
    """One row per department seen in the month's callbacks or surveys (``None`` = unassigned)."""
    def ids(frame: pd.DataFrame) -> list[Any]:
        return [python_id(v) for v in frame["department_id"].tolist()]

    cb_ids, sv_ids = ids(callbacks), ids(surveys)
    departments = {d for d, inside in zip(cb_ids, _in_window(callbacks["completed_at"], window),
                                          strict=True) if inside}
    departments |= {d for d, inside in zip(sv_ids, _in_window(surveys["surveyed_at"], window),
                                           strict=True) if inside}
    rows = []
    for dept in sorted(departments, key=lambda d: (d is None, str(d))):
        cb = callbacks.loc[[d == dept for d in cb_ids]]
        sv = surveys.loc[[d == dept for d in sv_ids]]
        rows.append(SatisfactionRow(dept, callback_results(cb, window),
                                    window_satisfaction(sv, window)))
    return rows
