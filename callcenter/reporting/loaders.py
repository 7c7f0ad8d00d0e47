"""SQL -> pandas DataFrames in the column contracts of the `reports` package.

Guarantees:

* Each loader selects one UTC range ``[start, end)`` of stored rows, by the
  time that decides the report window (survey time, complaint opening, call
  start...), and returns the columns the pure module expects, with compact
  dtypes: ids ``Int64``, flags ``bool``, short strings ``category``, times
  ``datetime64[ns, UTC]``. The report month of a row is computed here with
  `reports.periods.window_key_column` in the centre's time zone, the same
  rule every report uses.
* Times travel as epoch seconds (one float per cell), so PostgreSQL and
  SQLite give identical frames. On PostgreSQL the rows are streamed with
  ``COPY (query) TO STDOUT`` and parsed by pandas' C reader (millions of rows
  in seconds); on SQLite they are read in chunks through SQLAlchemy.
* Nothing here decides what counts: filtering by verification, excluding
  short abandons, points... stay in `reports`.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import text

from callcenter.storage.engine import Database
from crm.complaint_rules import UNCONFIRMED_CHANNELS
from crm.surveys import ITEMS
from reports.periods import Granularity, Month, report_window, window_key_column
from reports.survey_tally import service_month

__all__ = [
    "read_frame",
    "month_labels",
    "load_surveys",
    "load_scored_surveys",
    "survey_report_month",
    "load_survey_counts",
    "load_supervision_complaints",
    "load_leads",
    "load_complaints",
    "load_callbacks",
    "load_calls",
    "load_segments",
    "load_ivr_steps",
    "load_contacts",
    "load_names",
    "service_departments",
]

CHUNK_ROWS = 250_000
Params = Mapping[str, Any]


def _epoch(dialect: str, column: str) -> str:
    """An instant: epoch seconds on PostgreSQL, the stored naive-UTC text on SQLite."""
    if dialect == "postgresql":
        return f"extract(epoch from {column})::float8"
    return column


def _seconds(dialect: str, later: str, earlier: str) -> str:
    """``later - earlier`` in seconds (null when either is null)."""
    if dialect == "postgresql":
        return f"extract(epoch from ({later} - {earlier}))::float8"
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


def _json_text(dialect: str, column: str, key: str) -> str:
    if dialect == "postgresql":
        return f"({column})::json ->> '{key}'"
    return f"json_extract({column}, '$.{key}')"


def _to_pg(sql: str, params: Params) -> tuple[str, list[Any]]:
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    return re.sub(r"(?<!:):([a-z_]+)", number, sql), [params[n] for n in order]


async def read_frame(db: Database, sql: str, params: Params, dtypes: Mapping[str, Any]) -> pd.DataFrame:
    """Run ``sql`` (named ``:params``) and return a frame with ``dtypes`` applied.

    Columns ending in ``_epoch`` become ``<name>`` UTC datetimes.
    """
    if db.dialect == "postgresql":
        query, args = _to_pg(sql, params)
        buffer = io.BytesIO()
        async with db.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.copy_from_query(query, *args, output=buffer, format="csv", header=True)
        buffer.seek(0)
        parsed: dict[str, Any] = {c: "object" for c in dtypes}
        parsed.update({c: "float64" for c in dtypes if str(dtypes[c]) in ("Int64", "float64", "bool")})
        parsed.update({c: "category" for c in dtypes if str(dtypes[c]) == "category"})
        parsed.update({c: "float64" for c in _epoch_columns(buffer)})
        buffer.seek(0)
        frame = pd.read_csv(buffer, dtype=parsed, keep_default_na=False, na_values=[""])
    else:
        def read(sync_conn: Any) -> pd.DataFrame:
            chunks = pd.read_sql_query(text(sql), sync_conn, params=dict(params),
                                       chunksize=CHUNK_ROWS)
            parts = [chunk for chunk in chunks]
            return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

        async with db.engine.connect() as conn:
            frame = await conn.run_sync(read)
    return _typed(frame, sql, dtypes)


def _instants(series: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series) or series.isna().all():
        seconds = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        stamps = pd.to_datetime(np.round(seconds * 1e6), unit="us", utc=True)
        return pd.Series(stamps, index=series.index)
    return pd.to_datetime(series, utc=True, format="ISO8601")


def _epoch_columns(buffer: io.BytesIO) -> list[str]:
    header = buffer.readline().decode().strip().split(",")
    return [c for c in header if c.endswith("_epoch")]


def _header(sql: str) -> list[str]:
    select = sql.rsplit(" FROM ", 1)[0]
    return re.findall(r"\bAS ([a-z_]+)", select)


def _typed(frame: pd.DataFrame, sql: str, dtypes: Mapping[str, Any]) -> pd.DataFrame:
    if frame.empty and not len(frame.columns):
        frame = pd.DataFrame({c: pd.Series([], dtype="float64") for c in _header(sql)})
    out: dict[str, pd.Series] = {}
    for column in frame.columns:
        series = frame[column]
        if column.endswith("_epoch"):
            out[column[:-6]] = _instants(series)
            continue
        dtype = dtypes.get(column)
        if dtype == "Int64":
            out[column] = pd.to_numeric(series, errors="coerce").round().astype("Int64")
        elif dtype == "bool":
            out[column] = pd.to_numeric(series, errors="coerce").fillna(0).astype(bool)
        elif dtype == "float64":
            out[column] = pd.to_numeric(series, errors="coerce").astype("float64")
        elif dtype == "category":
            out[column] = series if isinstance(series.dtype, pd.CategoricalDtype) else \
                series.astype("string").astype("category")
        else:
            out[column] = series.astype("string") if dtype == "string" else series
    return pd.DataFrame(out, index=frame.index)


def month_labels(stamps: pd.Series, tz: str) -> pd.Series:
    """'YYYY-MM' (category) of each instant's local month; formats only the uniques."""
    keys = window_key_column(stamps, Granularity.MONTH, tz)
    codes, uniques = pd.factorize(keys)
    labels = [f"{k.year:04d}-{k.month:02d}" for k in uniques]
    result = pd.Categorical.from_codes(codes, categories=labels) if labels else \
        pd.Categorical([None] * len(stamps), categories=[])
    return pd.Series(result, index=stamps.index)


def _range(start: datetime, end: datetime) -> dict[str, Any]:
    return {"start": start, "end": end}


def _params(db: Database, start: datetime, end: datetime) -> dict[str, Any]:
    if db.dialect == "sqlite":  # stored as naive UTC text
        return {"start": start.replace(tzinfo=None).isoformat(sep=" "),
                "end": end.replace(tzinfo=None).isoformat(sep=" ")}
    return _range(start, end)


async def load_surveys(db: Database, start: datetime, end: datetime, tz: str) -> pd.DataFrame:
    """Surveys taken in ``[start, end)``: the `reports.survey_frame` / `reports.csat` columns."""
    e = _epoch(db.dialect, "surveyed_at")
    sql = (f"SELECT id AS survey_id, department_id AS department_id, staff_id AS staff_id, "
           f"{e} AS surveyed_at_epoch, source AS source, verification AS verification, "
           f"CASE WHEN complete THEN 1 ELSE 0 END AS complete, timeliness AS timeliness, "
           f"quality AS quality, attitude AS attitude FROM surveys "
           f"WHERE surveyed_at >= :start AND surveyed_at < :end")
    frame = await read_frame(db, sql, _params(db, start, end), {
        "survey_id": "Int64", "department_id": "Int64", "staff_id": "Int64", "source": "category",
        "verification": "category", "complete": "bool", **dict.fromkeys(ITEMS, "category")})
    frame["month"] = month_labels(frame["surveyed_at"], tz)
    return frame


def _month_case(column: str, start: datetime, end: datetime, tz: str) -> tuple[str, dict[str, Any]]:
    """SQL naming the local month ("YYYY-MM") of ``column`` for instants in ``[start, end)``."""
    local = start.astimezone(ZoneInfo(tz))
    month = Month(local.year, local.month)
    branches: list[str] = []
    params: dict[str, Any] = {}
    while True:
        following = report_window(Granularity.MONTH, month.next().first_day, tz).start_utc
        if following >= end:
            break
        name = "month_end_" + "".join(chr(97 + int(d)) for d in str(len(branches)))  # a-z only
        params[name] = following
        branches.append(f"WHEN {column} < :{name} THEN '{month}' ")
        month = month.next()
    if not branches:  # one month
        return f"'{month}'", params
    return f"CASE {''.join(branches)}ELSE '{month}' END", params


def _scored_rows(dialect: str) -> str:
    """Surveys whose *service* instant is in ``[start, end)``, as CTE ``u``: the job's
    completion when the survey has a completed job, else when the survey was taken.

    Two index-friendly branches (jobs by ``completed_at``, the rest by ``surveyed_at``)
    rather than one ``COALESCE`` that no index serves.
    """
    cols = ("s.id survey_id, s.job_id job_id, s.department_id department_id, "
            "s.staff_id staff_id, s.surveyed_at surveyed_at, s.source source, "
            "s.verification verification, s.complete complete, s.timeliness timeliness, "
            "s.quality quality, s.attitude attitude")
    return (f"WITH u AS (SELECT {cols}, j.completed_at service_at FROM surveys s "
            "JOIN service_jobs j ON j.id = s.job_id "
            "WHERE j.completed_at >= :start AND j.completed_at < :end "
            f"UNION ALL SELECT {cols}, s.surveyed_at service_at FROM surveys s "
            "LEFT JOIN service_jobs j ON j.id = s.job_id "
            "WHERE s.surveyed_at >= :start AND s.surveyed_at < :end "
            "AND j.completed_at IS NULL) ")


_SCORED_TYPES = {
    "survey_id": "Int64", "job_id": "Int64", "department_id": "Int64", "staff_id": "Int64",
    "source": "category", "verification": "category", "complete": "bool",
    **dict.fromkeys(ITEMS, "category")}


async def load_scored_surveys(db: Database, start: datetime, end: datetime,
                              tz: str) -> pd.DataFrame:
    """The surveys the supervision score of ``[start, end)`` reads, one row each.

    ``month`` is the local month of the *service*: the job's completion (seed 001: the
    month's repair jobs), or when the survey was taken if it has no completed job. A
    survey taken in June about a May job counts in May (`survey_report_month`).
    """
    d = db.dialect
    sql = (_scored_rows(d) + "SELECT survey_id AS survey_id, job_id AS job_id, "
           "department_id AS department_id, staff_id AS staff_id, "
           f"{_epoch(d, 'surveyed_at')} AS surveyed_at_epoch, "
           f"{_epoch(d, 'service_at')} AS service_at_epoch, source AS source, "
           "verification AS verification, CASE WHEN complete THEN 1 ELSE 0 END AS complete, "
           "timeliness AS timeliness, quality AS quality, attitude AS attitude FROM u")
    frame = await read_frame(db, sql, _params(db, start, end), _SCORED_TYPES)
    frame["month"] = month_labels(frame["service_at"], tz)
    return frame


async def survey_report_month(db: Database, survey_id: int, tz: str) -> Month:
    """The month whose supervision report survey ``survey_id`` counts in
    (`reports.survey_tally.service_month`): for a report already published, a survey
    of that month arriving later belongs in a correction of it."""
    async with db.engine.connect() as conn:
        row = (await conn.execute(text(
            "SELECT s.surveyed_at, j.completed_at FROM surveys s "
            "LEFT JOIN service_jobs j ON j.id = s.job_id WHERE s.id = :id"),
            {"id": survey_id})).first()
    if row is None:
        raise LookupError(f"no survey with id {survey_id}")
    return service_month(_utc(row[1]), _utc(row[0]), tz)  # type: ignore[arg-type]


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def load_survey_counts(db: Database, start: datetime, end: datetime, tz: str) -> pd.DataFrame:
    """Scored surveys of ``[start, end)`` (by service month, as `load_scored_surveys`)
    grouped by department, local month and every input the rules read (source,
    verification, completeness, grades), with the count ``n``.

    For the previous month's average and the trend months, where only department
    figures are shown: the rules still run in `reports`, on these rows weighted by
    ``n`` (`reports.survey_frame`), never on one row per survey. Only surveys that
    are their job's only survey are grouped (for them the choice of one survey per
    job is trivial); the surveys of a job rated more than once come back one row each
    with ``job_id``, ``survey_id`` and ``surveyed_at``, so `reports` chooses among them.
    On PostgreSQL the grouping (and the local month) is done by the server; on SQLite
    every row comes back with ``n = 1``. The local month is found by comparing the
    instant with the months' UTC boundaries (computed here, in ``tz``), about twice as
    fast as formatting every row's local time.
    """
    if db.dialect != "postgresql":
        rows = await load_scored_surveys(db, start, end, tz)
        return rows.drop(columns=["staff_id", "service_at"]).assign(n=1)
    labels, params = _month_case("service_at", start, end, tz)
    several = "(job_id IS NOT NULL AND several > 1)"
    sql = (_scored_rows(db.dialect)
           + ", k AS (SELECT u.*, count(*) OVER (PARTITION BY job_id) several FROM u) "
           f"SELECT department_id AS department_id, {labels} AS month, source AS source, "
           "verification AS verification, CASE WHEN complete THEN 1 ELSE 0 END AS complete, "
           "timeliness AS timeliness, quality AS quality, attitude AS attitude, "
           f"CASE WHEN {several} THEN job_id END AS job_id, "
           f"CASE WHEN {several} THEN survey_id END AS survey_id, "
           f"CASE WHEN {several} THEN {_epoch('postgresql', 'surveyed_at')} END "
           "AS surveyed_at_epoch, count(*) AS n "
           "FROM k GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11")
    return await read_frame(db, sql, {**_params(db, start, end), **params}, {
        **_SCORED_TYPES, "month": "category", "n": "Int64"})


async def load_supervision_complaints(db: Database, start: datetime, end: datetime,
                                      tz: str) -> pd.DataFrame:
    """Complaints opened in range, charged to their department and the technician of the job
    they were charged through (the one they name, else the customer's recent job: Rule 5
    of `crm.complaint_rules`).

    ``counted`` 0 marks a public-form complaint whose number nobody confirmed
    (`crm.complaint_rules` Rule 4): no confirmation stamp, no call from that number
    and no answered call to it since the complaint was opened."""
    e = _epoch(db.dialect, "c.opened_at")
    unconfirmed = ", ".join(f"'{c.value}'" for c in UNCONFIRMED_CHANNELS)

    def same(column: str) -> str:  # the carrier's raw form too (Asterisk: national digits)
        return (f"({column} = c.reported_number OR {column} LIKE '%' || "
                "substr(c.reported_number, length(c.reported_number) - 9))")

    # CASE, not OR: the calls are searched only for an unconfirmed public-form complaint
    sql = (f"SELECT c.id AS complaint_id, c.department_id AS department_id, "
           f"j.technician_id AS staff_id, {e} AS opened_at_epoch, c.ticket AS ticket, "
           f"c.reported_number AS reported_number, "
           f"CASE WHEN c.channel NOT IN ({unconfirmed}) THEN 1 "
           f"WHEN c.number_confirmed_at IS NOT NULL THEN 1 "
           f"WHEN length(c.reported_number) >= 11 AND EXISTS (SELECT 1 FROM calls k "
           f"WHERE k.started_at >= c.opened_at AND ("
           f"(k.direction = 'inbound' AND {same('k.from_number')}) OR "
           f"(k.direction = 'outbound' AND k.answered_at IS NOT NULL AND {same('k.to_number')})"
           f")) THEN 1 ELSE 0 END AS counted "
           f"FROM complaints c LEFT JOIN service_jobs j ON j.id = c.charged_job_id "
           f"WHERE c.opened_at >= :start AND c.opened_at < :end")
    frame = await read_frame(db, sql, _params(db, start, end), {
        "complaint_id": "Int64", "department_id": "Int64", "staff_id": "Int64",
        "ticket": "string", "reported_number": "string", "counted": "Int64"})
    frame["month"] = month_labels(frame["opened_at"], tz)
    return frame


async def load_leads(db: Database, start: datetime, end: datetime, tz: str) -> pd.DataFrame:
    """Leads found or won in range, in the finder's department."""
    found, won = _epoch(db.dialect, "l.created_at"), _epoch(db.dialect, "l.won_at")
    sql = (f"SELECT l.id AS lead_id, s.department_id AS department_id, l.found_by_id AS found_by, "
           f"{found} AS found_at_epoch, {won} AS won_at_epoch FROM leads l "
           f"LEFT JOIN staff s ON s.id = l.found_by_id "
           f"WHERE (l.created_at >= :start AND l.created_at < :end) "
           f"OR (l.won_at >= :start AND l.won_at < :end)")
    frame = await read_frame(db, sql, _params(db, start, end), {
        "lead_id": "Int64", "department_id": "Int64", "found_by": "Int64"})
    frame["found_month"] = month_labels(frame["found_at"], tz)
    won_month = month_labels(frame["won_at"].fillna(frame["found_at"]), tz).astype(object)
    frame["won_month"] = won_month.where(frame["won_at"].notna(), None)
    return frame


async def load_complaints(db: Database, start: datetime, end: datetime) -> pd.DataFrame:
    """Complaints opened before ``end`` and not resolved before ``start`` (weekly report)."""
    d = db.dialect
    sql = (f"SELECT c.id AS complaint_id, c.ticket AS ticket, c.customer_id AS customer_id, "
           f"c.category AS category, c.state AS state, c.channel AS channel, "
           f"CASE WHEN c.major THEN 1 ELSE 0 END AS major, "
           f"CAST(c.major_reasons AS TEXT) AS major_reasons, "
           f"{_epoch(d, 'c.opened_at')} AS opened_at_epoch, "
           f"{_epoch(d, 'c.resolve_due_at')} AS resolve_due_at_epoch, "
           f"{_epoch(d, 'c.resolved_at')} AS resolved_at_epoch, c.resolution AS resolution, "
           f"c.owner_id AS owner_id, c.department_id AS department_id FROM complaints c "
           f"WHERE c.opened_at < :end AND (c.resolved_at IS NULL OR c.resolved_at >= :start)")
    frame = await read_frame(db, sql, _params(db, start, end), {
        "complaint_id": "Int64", "ticket": "string", "customer_id": "Int64",
        "category": "category", "state": "category", "channel": "category", "major": "bool",
        "major_reasons": "string", "resolution": "string", "owner_id": "Int64",
        "department_id": "Int64"})
    frame["major_reasons"] = frame["major_reasons"].str.replace(r'[\[\]"]', "", regex=True)
    return frame


async def load_callbacks(db: Database, start: datetime, end: datetime) -> pd.DataFrame:
    """Callbacks created or completed in range, with their first attempt and whether reached.

    ``due_at`` is the callback's deadline; one without a deadline cannot be late
    (its ``due_at`` is far in the future).
    """
    d = db.dialect
    sql = (f"SELECT cb.id AS callback_id, cb.customer_id AS customer_id, "
           f"cu.name AS customer_name, COALESCE(j.department_id, cu.department_id) AS department_id, "
           f"cb.kind AS kind, cb.state AS state, cb.disposition AS disposition, "
           f"cb.feedback AS feedback, cb.attempts AS attempts, "
           f"{_epoch(d, 'cb.created_at')} AS created_at_epoch, "
           f"{_epoch(d, 'cb.deadline_at')} AS deadline_at_epoch, "
           f"{_epoch(d, 'cb.completed_at')} AS completed_at_epoch, "
           f"(SELECT MIN({_epoch(d, 'a.started_at')}) FROM callback_attempts a "
           f"WHERE a.callback_id = cb.id) AS first_attempt_at_epoch, "
           f"(SELECT COUNT(*) FROM callback_attempts a WHERE a.callback_id = cb.id "
           f"AND a.result = 'answered') AS answered_attempts "
           f"FROM callbacks cb LEFT JOIN customers cu ON cu.id = cb.customer_id "
           f"LEFT JOIN service_jobs j ON j.id = cb.job_id "
           f"WHERE (cb.created_at >= :start AND cb.created_at < :end) "
           f"OR (cb.completed_at >= :start AND cb.completed_at < :end)")
    frame = await read_frame(db, sql, _params(db, start, end), {
        "callback_id": "Int64", "customer_id": "Int64", "customer_name": "string",
        "department_id": "Int64", "kind": "category", "state": "category",
        "disposition": "string", "feedback": "string", "attempts": "Int64",
        "answered_attempts": "Int64"})
    frame["reached"] = frame["answered_attempts"].fillna(0) > 0
    frame["attempts"] = frame["attempts"].fillna(0)
    frame["due_at"] = frame["deadline_at"].fillna(pd.Timestamp("2200-01-01", tz="UTC"))
    return frame


async def load_calls(db: Database, start: datetime, end: datetime) -> pd.DataFrame:
    """Inbound calls started in range, in the `reports.kpi` contract (+ ``ivr_hangup``)."""
    d = db.dialect
    hangup = (f"(SELECT COUNT(*) FROM call_events ev WHERE ev.call_id = c.id AND "
              f"ev.kind = 'ivr_step' AND {_json_text(d, 'ev.detail', 'outcome')} = 'hangup')")
    sql = (f"SELECT c.id AS call_id, {_epoch(d, 'c.started_at')} AS started_at_epoch, "
           f"c.queue AS queue, c.agent_id AS agent_id, c.disposition AS disposition, "
           f"{_seconds(d, 'c.answered_at', 'c.queued_at')} AS answer_wait_s, "
           f"{_seconds(d, 'c.ended_at', 'c.queued_at')} AS end_wait_s, "
           f"{_seconds(d, 'c.ended_at', 'c.answered_at')} - c.hold_s AS talk_s, "
           f"c.hold_s AS hold_s, c.wrapup_s AS wrapup_s, "
           f"CASE WHEN c.disposition = 'ivr_only' THEN {hangup} ELSE 0 END AS ivr_hangups "
           f"FROM calls c WHERE c.direction = 'inbound' "
           f"AND c.started_at >= :start AND c.started_at < :end")
    frame = await read_frame(db, sql, _params(db, start, end), {
        "call_id": "Int64", "queue": "category", "agent_id": "Int64", "disposition": "category",
        "answer_wait_s": "float64", "end_wait_s": "float64",
        "talk_s": "float64", "hold_s": "float64", "wrapup_s": "float64",
        "ivr_hangups": "float64"})
    for column in ("answer_wait_s", "end_wait_s", "talk_s"):  # SQLite's julianday: ~10 us noise
        frame[column] = frame[column].round(3)
    answered = frame["disposition"].astype("string") == "answered"
    frame["wait_s"] = frame["answer_wait_s"].where(answered, frame["end_wait_s"])
    frame["talk_s"] = frame["talk_s"].where(answered)
    frame["ivr_hangup"] = frame["ivr_hangups"].fillna(0) > 0
    return frame.drop(columns=["answer_wait_s", "end_wait_s", "ivr_hangups"])


_SEGMENT_DISPOSITION = {"open": "in_progress", "abandoned": "abandoned", "timeout": "timeout",
                        "transferred": "overflow", "answered": "answered"}


async def load_segments(db: Database, start: datetime, end: datetime,
                        calls: pd.DataFrame | None = None) -> pd.DataFrame:
    """Queue segments of the inbound calls started in range, in the `reports.kpi`
    ``segments`` contract (one row per queue a call went through).

    ``calls``: `load_calls` of the same range (read here when not given). A call
    with a queue but no stored segment (Twilio, or one logged before segments
    existed) gets one segment made from its call row, so it still counts per queue.
    Disposition of a segment: answered if an agent answered in it (also when it was
    then transferred on); else abandoned / timeout; a transfer out before any answer
    is the queue giving the caller up (``overflow``: offered, listed apart from
    abandons); open -> in progress. The call's hold and wrap-up go to its last
    answered segment (their talk is net of that hold)."""
    if calls is None:
        calls = await load_calls(db, start, end)
    d = db.dialect
    sql = (f"SELECT s.call_id AS call_id, s.queue AS queue, s.agent_id AS agent_id, "
           f"s.outcome AS outcome, {_epoch(d, 's.entered_at')} AS entered_at_epoch, "
           f"CASE WHEN s.answered_at IS NULL THEN 0 ELSE 1 END AS was_answered, "
           f"{_seconds(d, 's.answered_at', 's.entered_at')} AS answer_wait_s, "
           f"{_seconds(d, 's.ended_at', 's.entered_at')} AS end_wait_s, "
           f"{_seconds(d, 's.ended_at', 's.answered_at')} AS gross_talk_s, "
           f"c.hold_s AS call_hold_s, c.wrapup_s AS call_wrapup_s "
           f"FROM call_segments s JOIN calls c ON c.id = s.call_id "
           f"WHERE c.direction = 'inbound' AND c.started_at >= :start AND c.started_at < :end "
           f"ORDER BY s.call_id, s.entered_at, s.id")
    rows = await read_frame(db, sql, _params(db, start, end), {
        "call_id": "Int64", "queue": "string", "agent_id": "Int64", "outcome": "string",
        "was_answered": "bool", "answer_wait_s": "float64", "end_wait_s": "float64",
        "gross_talk_s": "float64", "call_hold_s": "float64", "call_wrapup_s": "float64"})
    for column in ("answer_wait_s", "end_wait_s", "gross_talk_s"):
        rows[column] = rows[column].round(3)
    answered = rows["was_answered"]
    outcome = rows["outcome"].astype("string")
    disposition = outcome.map(_SEGMENT_DISPOSITION).where(~answered | (outcome == "open"),
                                                          "answered")
    last_answer = pd.Series(False, index=rows.index)
    last_answer.loc[rows.loc[answered].groupby("call_id").tail(1).index] = True
    hold = rows["call_hold_s"].fillna(0).where(last_answer, 0.0)
    stored = pd.DataFrame({
        "call_id": rows["call_id"], "queue": rows["queue"], "agent_id": rows["agent_id"],
        "disposition": disposition.astype("string"),
        "wait_s": rows["answer_wait_s"].where(answered, rows["end_wait_s"]),
        "talk_s": (rows["gross_talk_s"] - hold).where(disposition == "answered"),
        "hold_s": hold, "wrapup_s": rows["call_wrapup_s"].fillna(0).where(last_answer, 0.0),
    })
    stored = stored.loc[stored["call_id"].isin(calls["call_id"])]
    made = calls.loc[calls["queue"].notna() & ~calls["call_id"].isin(stored["call_id"]),
                     ["call_id", "queue", "agent_id", "disposition", "wait_s", "talk_s",
                      "hold_s", "wrapup_s"]]
    made = made.assign(queue=made["queue"].astype("string"),
                       disposition=made["disposition"].astype("string"))
    frame = pd.concat([stored, made], ignore_index=True) if len(made) else \
        stored.reset_index(drop=True)
    frame["queue"] = frame["queue"].astype("category")
    frame["disposition"] = frame["disposition"].astype("category")
    return frame


async def load_ivr_steps(db: Database, start: datetime, end: datetime) -> pd.DataFrame:
    """IVR steps of IVR-only calls started in range, numbered per call by (at, id)."""
    sql = (f"SELECT ev.call_id AS call_id, {_epoch(db.dialect, 'ev.at')} AS at_epoch, "
           f"ev.id AS event_id, ev.node AS node FROM call_events ev "
           f"JOIN calls c ON c.id = ev.call_id WHERE ev.kind = 'ivr_step' "
           f"AND c.disposition = 'ivr_only' AND c.started_at >= :start AND c.started_at < :end")
    frame = await read_frame(db, sql, _params(db, start, end), {
        "call_id": "Int64", "event_id": "Int64", "node": "string"})
    frame = frame.sort_values(["call_id", "at", "event_id"], kind="stable")
    frame["seq"] = frame.groupby("call_id").cumcount()
    return frame


async def load_contacts(db: Database, start: datetime, end: datetime) -> pd.DataFrame:
    """Contacts in range for first contact resolution (subject = category)."""
    sql = (f"SELECT customer_id AS customer_id, {_epoch(db.dialect, 'at')} AS started_at_epoch, "
           f"complaint_id AS complaint_id, subject AS category FROM contacts "
           f"WHERE at >= :start AND at < :end")
    return await read_frame(db, sql, _params(db, start, end), {
        "customer_id": "Int64", "complaint_id": "Int64", "category": "string"})


async def load_names(db: Database) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """Departments {id: {code, name}} and staff {id: {username, name, department_id}}."""
    async with db.engine.connect() as conn:
        deps = (await conn.execute(text("SELECT id, code, name FROM departments"))).all()
        people = (await conn.execute(
            text("SELECT id, username, name, department_id FROM staff"))).all()
    return ({int(r.id): {"code": r.code, "name": r.name} for r in deps},
            {int(r.id): {"username": r.username, "name": r.name,
                         "department_id": r.department_id} for r in people})


async def service_departments(db: Database) -> list[int]:
    """Departments the supervision department scores: those with service jobs or technicians."""
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT DISTINCT department_id FROM service_jobs WHERE department_id IS NOT NULL"
        ))).all()
        people = (await conn.execute(text(
            "SELECT department_id, roles FROM staff WHERE department_id IS NOT NULL"))).all()
    found = {int(r[0]) for r in rows}
    for department_id, roles in people:
        listed = json.loads(roles) if isinstance(roles, str) else (roles or [])
        if "technician" in listed:
            found.add(int(department_id))
    return sorted(found)
