"""Call KPIs per report window, centre-wide, per queue or per agent (kpi.md).

Guarantees:

* A call is reported whole in the window (day / ISO week / month / interval,
  centre's time zone) in which it *started*; a call crossing midnight is
  never split.
* Centre-wide figures count each customer call once (one row of ``calls``).
  Per-queue figures count queue segments (one row of ``segments`` per queue a
  call went through), each in the window of its call's start.
* ``ivr_only`` calls are never offered, abandoned or in any rate; timeouts and
  overflows are offered but listed apart from abandons.
* Formulas (with the thresholds stated in the result):
  offered = answered + abandoned (all) + timeouts + overflows;
  ASA = sum(wait of answered) / answered;
  AHT = sum(talk + hold + wrap-up of answered) / answered;
  service level = answered with wait <= threshold / (answered + abandoned not short);
  abandon rate = abandoned not short / (answered + abandoned not short);
  answer rate = answered / offered.
  A short abandon has wait < ``short_abandon_s``; with
  ``exclude_short_abandons=False`` short abandons count like the others.
  An undefined ratio (zero denominator) is ``None``, never a division error.
* Centre-wide and per-agent figures use ``rules.default``; per-queue figures
  use that queue's settings.

Column contract. ``calls``: ``call_id``, ``started_at`` (tz-aware, UTC),
``queue`` (null for IVR-only calls), ``agent_id`` (null unless answered),
``disposition`` (`CallDisposition` values), ``wait_s``, ``talk_s``, ``hold_s``,
``wrapup_s`` (seconds; null counts as 0). ``segments``: ``call_id``,
``queue``, ``agent_id``, ``disposition``, ``wait_s``, ``talk_s``, ``hold_s``,
``wrapup_s`` (start time comes from the call).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from crm.enums import CallDisposition
from reports.periods import Bucketing, ReportWindow, window_for_key, window_key_column
from reports.rules import DEFAULT_KPI_RULES, CallKpiSettings, KpiRules
from reports.survey_frame import python_id

__all__ = ["Scope", "CallKpis", "CALL_COLUMNS", "SEGMENT_COLUMNS", "call_kpis", "ratio"]

CALL_COLUMNS = ("call_id", "started_at", "queue", "agent_id", "disposition",
                "wait_s", "talk_s", "hold_s", "wrapup_s")
SEGMENT_COLUMNS = ("call_id", "queue", "agent_id", "disposition",
                   "wait_s", "talk_s", "hold_s", "wrapup_s")
_KNOWN = frozenset(str(d) for d in CallDisposition)
_COUNTERS = ("offered", "answered", "abandoned", "short_abandoned", "timeouts", "overflows",
             "ivr_only", "in_progress", "other", "answered_within_sl", "wait_answered_s",
             "handle_s")


class Scope(StrEnum):
    CENTRE = "centre"
    QUEUE = "queue"
    AGENT = "agent"


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or ``None`` when the denominator is zero."""
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class CallKpis:
    """Call figures of one window and one scope key.

    JSON (`to_dict`): ``window``, ``scope``, ``key`` (queue name or agent id;
    null centre-wide), ``settings``, the counts ``offered``, ``answered``,
    ``abandoned`` (all), ``short_abandoned``, ``timeouts``, ``overflows``,
    ``ivr_only``, ``in_progress``, ``other`` (dispositions not of an inbound
    queue call), ``answered_within_sl``; ``asa_s``, ``aht_s``;
    ``service_level`` with ``service_level_label`` ("SL 20 s") and
    ``service_level_denominator``; ``abandon_rate``, ``answer_rate``.
    Rates are fractions 0..1 or null when undefined.
    """

    window: ReportWindow
    scope: Scope
    key: Any
    settings: CallKpiSettings
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    timeouts: int
    overflows: int
    ivr_only: int
    in_progress: int
    other: int
    answered_within_sl: int
    wait_answered_s: float
    handle_s: float

    @property
    def abandoned_counted(self) -> int:
        """Abandons that enter the abandon rate and service level."""
        if self.settings.exclude_short_abandons:
            return self.abandoned - self.short_abandoned
        return self.abandoned

    @property
    def service_level_denominator(self) -> int:
        return self.answered + self.abandoned_counted

    @property
    def asa_s(self) -> float | None:
        return ratio(self.wait_answered_s, self.answered)

    @property
    def aht_s(self) -> float | None:
        return ratio(self.handle_s, self.answered)

    @property
    def service_level(self) -> float | None:
        return ratio(self.answered_within_sl, self.service_level_denominator)

    @property
    def abandon_rate(self) -> float | None:
        return ratio(self.abandoned_counted, self.service_level_denominator)

    @property
    def answer_rate(self) -> float | None:
        return ratio(self.answered, self.offered)

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.to_dict(),
            "scope": str(self.scope),
            "key": self.key,
            "settings": self.settings.to_dict(),
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            "timeouts": self.timeouts,
            "overflows": self.overflows,
            "ivr_only": self.ivr_only,
            "in_progress": self.in_progress,
            "other": self.other,
            "answered_within_sl": self.answered_within_sl,
            "asa_s": self.asa_s,
            "aht_s": self.aht_s,
            "service_level": self.service_level,
            "service_level_label": self.settings.service_level_label,
            "service_level_denominator": self.service_level_denominator,
            "abandon_rate": self.abandon_rate,
            "answer_rate": self.answer_rate,
        }


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks columns {missing}; expected {list(columns)}")


def _rows_for_scope(
    calls: pd.DataFrame, scope: Scope, segments: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.Series]:
    """The rows to count and the scope key of each (constant centre-wide)."""
    if scope is Scope.CENTRE or segments is None:
        rows = calls
    else:
        _require(segments, SEGMENT_COLUMNS, "segments")
        starts = calls[["call_id", "started_at"]]
        rows = segments.drop(columns=["started_at"], errors="ignore").merge(
            starts, on="call_id", how="left", validate="many_to_one")
        if rows["started_at"].isna().any():
            orphans = rows.loc[rows["started_at"].isna(), "call_id"].unique()[:5].tolist()
            raise ValueError(f"segments of unknown calls (no row in calls): {orphans}")
    if scope is Scope.CENTRE:
        return rows, pd.Series(0, index=rows.index)
    column = "queue" if scope is Scope.QUEUE else "agent_id"
    return rows, rows[column]


FloatArray = npt.NDArray[np.float64]


def _seconds(rows: pd.DataFrame, column: str) -> FloatArray:
    seconds: FloatArray = rows[column].to_numpy(dtype=np.float64, na_value=0.0)
    return seconds


def _thresholds(rows: pd.DataFrame, scope: Scope, rules: KpiRules) -> tuple[FloatArray, FloatArray]:
    """SL and short-abandon thresholds of each row (per queue only in queue scope)."""
    if scope is not Scope.QUEUE or not rules.per_queue:
        n = len(rows)
        return np.full(n, rules.default.sl_threshold_s), np.full(n, rules.default.short_abandon_s)
    queues = {q: rules.for_queue(str(q)) for q in rows["queue"].dropna().unique()}
    sl = rows["queue"].map({q: s.sl_threshold_s for q, s in queues.items()})
    short = rows["queue"].map({q: s.short_abandon_s for q, s in queues.items()})
    return (sl.fillna(rules.default.sl_threshold_s).to_numpy(np.float64),
            short.fillna(rules.default.short_abandon_s).to_numpy(np.float64))


def _disposition_codes(rows: pd.DataFrame) -> tuple[npt.NDArray[np.intp], list[str]]:
    """Each row's disposition as a code into the returned names (-1: null); no string copy."""
    column = rows["disposition"]
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        names = [str(c) for c in column.cat.categories]
        used = np.bincount(codes[codes >= 0], minlength=len(names)) > 0
        present = {name for name, seen in zip(names, used.tolist(), strict=True) if seen}
    else:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        names = [str(u) for u in uniques]
        present = set(names)
    unknown = present - _KNOWN
    if unknown:
        raise ValueError(f"column 'disposition': unknown values {sorted(unknown)}")
    return codes.astype(np.intp, copy=False), names


def _counters(rows: pd.DataFrame, scope: Scope, rules: KpiRules) -> dict[str, npt.NDArray[Any]]:
    """The per-row counters (booleans and seconds), as numpy arrays over ``rows``."""
    codes, names = _disposition_codes(rows)

    def flag(value: CallDisposition) -> npt.NDArray[np.bool_]:
        table = np.array([name == str(value) for name in names] + [False], dtype=np.bool_)
        flags: npt.NDArray[np.bool_] = table[codes]  # code -1 (null) reads the final False
        return flags

    answered, abandoned = flag(CallDisposition.ANSWERED), flag(CallDisposition.ABANDONED)
    timeouts, overflows = flag(CallDisposition.TIMEOUT), flag(CallDisposition.OVERFLOW)
    ivr_only, in_progress = flag(CallDisposition.IVR_ONLY), flag(CallDisposition.IN_PROGRESS)
    wait = _seconds(rows, "wait_s")
    handle = _seconds(rows, "talk_s") + _seconds(rows, "hold_s") + _seconds(rows, "wrapup_s")
    sl_threshold, short_threshold = _thresholds(rows, scope, rules)
    offered = answered | abandoned | timeouts | overflows
    return {
        "offered": offered,
        "answered": answered,
        "abandoned": abandoned,
        "short_abandoned": abandoned & (wait < short_threshold),
        "timeouts": timeouts,
        "overflows": overflows,
        "ivr_only": ivr_only,
        "in_progress": in_progress,
        "other": ~(offered | ivr_only | in_progress),
        "answered_within_sl": answered & (wait <= sl_threshold),
        "wait_answered_s": np.where(answered, wait, 0.0),
        "handle_s": np.where(answered, handle, 0.0),
    }


def _group_codes(values: pd.Series) -> tuple[npt.NDArray[np.intp], pd.Index]:
    """Sorted group codes of ``values`` (-1 for null) and the sorted distinct values."""
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    return codes.astype(np.intp, copy=False), pd.Index(uniques)


def call_kpis(
    calls: pd.DataFrame,
    bucketing: Bucketing,
    tz: str | ZoneInfo,
    rules: KpiRules = DEFAULT_KPI_RULES,
    scope: Scope = Scope.CENTRE,
    segments: pd.DataFrame | None = None,
) -> list[CallKpis]:
    """Call KPIs per window (and per queue / agent), sorted by window then key.

    Without ``segments``, per-queue and per-agent figures use the ``queue`` /
    ``agent_id`` of each call row. Rows whose scope key is null (an IVR-only
    call has no queue) are left out of per-queue / per-agent figures.

    Vectorised for millions of rows: dispositions are read as codes (no string
    copy), every (window, key) group gets a dense integer code, and each
    counter is one `numpy.bincount`; only groups with rows are reported.
    """
    _require(calls, CALL_COLUMNS, "calls")
    rows, keys = _rows_for_scope(calls, scope, segments)
    counters = _counters(rows, scope, rules)
    window_codes, window_keys = _group_codes(window_key_column(rows["started_at"], bucketing, tz))
    if scope is Scope.CENTRE:
        key_codes, key_values = np.zeros(len(rows), dtype=np.intp), pd.Index([0])
    else:
        key_codes, key_values = _group_codes(keys)
    n_keys = max(len(key_values), 1)
    valid = (window_codes >= 0) & (key_codes >= 0)
    group = window_codes * n_keys + key_codes
    if not valid.all():
        group = group[valid]
        counters = {name: values[valid] for name, values in counters.items()}
    size = len(window_keys) * n_keys
    rows_per_group = np.bincount(group, minlength=size)
    present = np.flatnonzero(rows_per_group)
    sums: dict[str, list[Any]] = {}
    for name in _COUNTERS:
        values = counters[name]
        if values.dtype == np.bool_:
            sums[name] = np.bincount(group[values], minlength=size)[present].tolist()
        else:
            sums[name] = np.bincount(group, weights=values, minlength=size)[present].tolist()
    windows: dict[int, ReportWindow] = {}
    result = []
    for i, code in enumerate(present.tolist()):
        window_code, key_code = divmod(code, n_keys)
        if window_code not in windows:
            windows[window_code] = window_for_key(window_keys[window_code], bucketing, tz)
        scope_key = None if scope is Scope.CENTRE else python_id(key_values[key_code])
        settings = rules.for_queue(str(scope_key)) if scope is Scope.QUEUE else rules.default
        counts = {name: int(sums[name][i]) for name in _COUNTERS[:10]}
        result.append(CallKpis(
            window=windows[window_code], scope=scope, key=scope_key, settings=settings,
            wait_answered_s=float(sums["wait_answered_s"][i]), handle_s=float(sums["handle_s"][i]),
            **counts,
        ))
    return result
