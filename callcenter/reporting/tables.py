"""Flatten a report payload into titled tables, the one layout CSV, XLSX, HTML and PDF share.

Guarantee: every figure a table shows is read from the payload (the stable
JSON), never recomputed, so all formats agree with the JSON.
Column formats: ``text``, ``int``, ``num`` (decimal text or float),
``pct`` (fraction 0..1 shown as a percentage), ``money`` (signed yuan).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Column", "Table", "tables", "headline"]


@dataclass(frozen=True)
class Column:
    title: str
    fmt: str = "text"


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[Column, ...]
    rows: list[list[Any]]


def _dept(payload: dict[str, Any], dept_id: Any) -> str:
    info = payload["names"]["departments"].get(str(dept_id))
    return "(none)" if dept_id is None else (info["code"] if info else str(dept_id))


def _staff(payload: dict[str, Any], staff_id: Any) -> str:
    info = payload["names"]["staff"].get(str(staff_id))
    return "(unassigned)" if staff_id is None else (info["username"] if info else str(staff_id))


def _cols(*spec: str) -> tuple[Column, ...]:
    return tuple(Column(*s.split(":")) if ":" in s else Column(s) for s in spec)


def _supervision(p: dict[str, Any]) -> list[Table]:
    deps: list[list[Any]] = []
    awards: list[list[Any]] = []
    staff: list[list[Any]] = []
    trend: list[list[Any]] = []
    for d in p["supervision"]["departments"]:
        s, c, n = d["satisfaction"], d["complaints"], s_counts(d)
        deps.append([_dept(p, d["department_id"]), s["status"], n["counted"], n["first_hand"],
                     n["verified"], n["incomplete"], n["pending_verification"], n["disputed"],
                     n["jobs_with_several_surveys"], n["superseded"],
                     s["points"], s["average"], s["item_averages"]["timeliness"],
                     s["item_averages"]["quality"], s["item_averages"]["attitude"],
                     s["previous_average"], s["delta"], s.get("explanation", "")])
        awards.append([_dept(p, d["department_id"]), s["outcome"], s["amount"],
                       s["extra"] or "", s["extra_amount"], c["complaints"], c["band"],
                       c["amount"], "YES" if c["administrative_action"] else "",
                       d["total_amount"]])
        for f in d["staff"]:
            staff.append([_dept(p, d["department_id"]), _staff(p, f["staff_id"]),
                          (p["names"]["staff"].get(str(f["staff_id"])) or {}).get("name", ""),
                          f["surveys"], f["surveys_excluded"], f["points"], f["average"],
                          f["complaints"], f["leads_found"], f["leads_won"]])
    for month in p["trend"]:
        for dept_id, t in month["departments"].items():
            trend.append([month["month"], _dept(p, int(dept_id)), t["surveys"], t["average"],
                          t["complaints"], t["band"], t["complaint_amount"]])
    return [
        Table("Awards", _cols(
            "department", "outcome", "amount:money", "extra", "extra amount:money",
            "complaints:int", "band", "complaint amount:money", "admin action", "total:money"),
            awards),
        Table("Satisfaction", _cols(
            "department", "status", "counted:int", "first-hand:int", "verified:int",
            "incomplete:int", "pending:int", "disputed:int", "jobs with several surveys:int",
            "superseded:int", "points:int", "average:num", "timeliness:num", "quality:num",
            "attitude:num", "previous:num", "delta:num", "explanation"), deps),
        Table("Staff", _cols("department", "username", "name", "surveys:int", "excluded:int",
                             "points:int", "average:num", "complaints:int", "leads found:int",
                             "leads won:int"), staff),
        Table("Trend", _cols("month", "department", "surveys:int", "average:num",
                             "complaints:int", "band", "complaint amount:money"), trend),
        *([Table("Public-form complaints: unconfirmed, not counted", _cols(
            "ticket", "department", "number", "opened (UTC)", "status"),
            [[u["ticket"], _dept(p, u["department_id"]), u["number"] or "(none)", u["opened_at"][:16],
              u["status"]] for u in p["unconfirmed_complaints"]])]
          if p.get("unconfirmed_complaints") else []),
    ]


def s_counts(d: dict[str, Any]) -> dict[str, int]:
    surveys = d["satisfaction"]["surveys"]
    return {"counted": surveys["counted"], "first_hand": surveys["first_hand"],
            "verified": surveys["verified"], **surveys["excluded"],
            # reports stored before one-survey-per-job have neither
            "jobs_with_several_surveys": surveys.get("jobs_with_several_surveys", 0),
            "superseded": surveys.get("superseded", 0)}


def _problems(p: dict[str, Any]) -> Table:
    return Table("Problem customers", _cols(
        "customer", "found at", "callback kind", "disposition", "feedback", "classification",
        "complaint", "how solved"), [
        [x["customer_name"] or x["customer_id"], x["found_at"], x["callback_kind"],
         x["disposition"], x["feedback"], x["classification"], x["complaint"], x["how_solved"]]
        for x in p["problem_customers"]])


def _callbacks(p: dict[str, Any]) -> Table:
    rows = [[kind, v["satisfied"], v["problem"], v["unreached"], v["other"]]
            for kind, v in p["callbacks"]["by_kind"].items()]
    total = p["callbacks"]["by_class"]
    rows.append(["all", total["satisfied"], total["problem"], total["unreached"], total["other"]])
    return Table("Callback results", _cols("kind", "satisfied:int", "problem:int",
                                           "unreached:int", "other:int"), rows)


def _kpi_rows(items: list[dict[str, Any]], key: str, p: dict[str, Any]) -> Table:
    def who(k: dict[str, Any]) -> str:
        if k["scope"] == "agent":
            return _staff(p, k["key"])
        return "centre" if k["key"] is None else str(k["key"])

    sl = items[0]["service_level_label"] if items else "SL"
    return Table(key, _cols(
        "window", "scope", "offered:int", "answered:int", "abandoned:int", "short abandons:int",
        "timeouts:int", "overflows:int", "IVR only:int", "ASA s:num", "AHT s:num",
        f"{sl}:pct", "SL denominator:int", "abandon rate:pct", "answer rate:pct"), [
        [k["window"]["label"], who(k), k["offered"], k["answered"], k["abandoned"],
         k["short_abandoned"], k["timeouts"], k["overflows"], k["ivr_only"], k["asa_s"],
         k["aht_s"], k["service_level"], k["service_level_denominator"], k["abandon_rate"],
         k["answer_rate"]] for k in items])


def tables(p: dict[str, Any]) -> list[Table]:
    """The payload's tables, main table first (CSV exports the first one)."""
    kind = p["kind"]
    if kind == "supervision":
        return _supervision(p)
    if kind == "daily":
        return [_problems(p), Table("Classification", _cols("classification", "customers:int"),
                                    [[k, v] for k, v in p["classification"].items()]),
                _callbacks(p), _kpi_rows(p["calls"], "Calls", p)]
    if kind == "weekly":
        w = p["complaints"]
        grid = [[cat, *[states.get(s, 0) for s in _STATES]] for cat, states in
                w["by_category_state"].items()]
        summary = [["opened", w["opened"]], ["major opened", w["major_opened"]],
                   ["resolved", w["resolved"]],
                   ["hours to resolve (mean)", w["hours_to_resolve"]["mean"]],
                   ["hours to resolve (median)", w["hours_to_resolve"]["median"]],
                   ["hours to resolve (max)", w["hours_to_resolve"]["max"]],
                   ["overdue, still open", len(w["overdue_open"])],
                   ["resolved late", len(w["resolved_late"])]]
        every = Table("Every callback of the week", _cols(
            "completed at", "customer", "kind", "outcome", "disposition", "feedback"), [
            [c["completed_at"], c["customer_name"] or c["customer_id"], c["kind"], c["outcome"],
             c["disposition"], c["feedback"]] for c in p.get("callback_list", [])])
        return [_callbacks(p), _problems(p), every,
                Table("Complaints by category and state",
                      _cols("category", *[f"{s}:int" for s in _STATES]), grid),
                Table("Complaint summary", _cols("figure", "value:num"), summary),
                Table("Top causes", _cols("cause", "complaints:int"),
                      [[c["cause"], c["complaints"]] for c in w["top_causes"]]
                      + [[f"major: {r['reason']}", r["complaints"]] for r in w["top_major_reasons"]])]
    if kind == "monthly":
        return [Table("月客户满意度回访表 Monthly satisfaction callbacks", _cols(
            "department", "callbacks:int", "satisfied:int", "problem:int", "unreached:int",
            "other:int", "satisfaction rate:pct", "surveys:int", "CSAT:pct", "excluded:int"), [
            [_dept(p, r["department_id"]), r["callbacks"], r["satisfied"], r["problem"],
             r["unreached"], r["other"], r["satisfaction_rate"], r["surveys"], r["csat"],
             r["surveys_excluded"]] for r in p["satisfaction_table"]]), _problems(p),
                Table("售服主管执行情况 Service heads' lead follow-through", _cols(
                    "department", "head", "leads found:int", "follow-ups due:int", "on time:int",
                    "late:int", "missed:int", "follow-through:pct", "proposals signed:int", "won:int",
                    "credits earned:num", "credits payable:num"), [
                    [_dept(p, r["department_id"]), _staff(p, r["head_id"]) if r["head_id"] else "-",
                     r["found"], r["follow_ups_due"], r["on_time"], r["late"], r["missed"],
                     r["follow_through"], r["proposals_signed"], r["won"], float(r["credits_earned"]),
                     float(r["credits_payable"])] for r in p.get("lead_follow_through", [])])]
    if kind == "kpi":
        return [
            _kpi_rows(p["centre"], "Centre", p), _kpi_rows(p["queues"], "Queues", p),
            _kpi_rows(p["agents"], "Agents", p),
            Table("CSAT", _cols("window", "surveys:int", "top-2-box:int", "CSAT:pct",
                                "excluded:int"),
                  [[c["window"]["label"], c["surveys"], c["top_two_box"], c["csat"],
                    sum(c["excluded"].values())] for c in p["csat"]]),
            Table("Callbacks", _cols("window", "callbacks:int", "on time:int", "late:int",
                                     "overdue:int", "on-time share:pct", "reach rate:pct",
                                     "attempts per reached:num"),
                  [[c["window"]["label"], c["callbacks"], c["placed_on_time"], c["placed_late"],
                    c["overdue_not_placed"], c["on_time_share"], c["reach_rate"],
                    c["attempts_per_reached"]] for c in p["callbacks"]]),
            Table("IVR drop-out", _cols("window", "node", "hangups:int", "share:pct"),
                  [[d["window"]["label"], n["node"] or "(before any step)", n["hangups"], n["share"]]
                   for d in p["ivr_dropout"] for n in d["nodes"]]),
            Table("FCR", _cols("window", "issues:int", "first contact:int", "repeated:int",
                               "open:int", "FCR:pct"),
                  [[f["window"]["label"], f["issues"], f["resolved_first_contact"], f["repeated"],
                    f["open"], f["fcr"]] for f in p["fcr"]]),
        ]
    raise ValueError(f"unknown report kind {kind!r}")


_STATES = ("new", "assigned", "in_progress", "resolved", "closed", "reopened")


def headline(p: dict[str, Any]) -> list[tuple[str, str]]:
    """A few label/value pairs for the top of HTML and PDF pages and the demo table."""
    if p["kind"] == "supervision":
        out = []
        for d in p["supervision"]["departments"]:
            s, c = d["satisfaction"], d["complaints"]
            avg = "no data" if s["average"] is None else s["average"]
            out.append((f"{_dept(p, d['department_id'])}",
                        f"average {avg} (prev {s['previous_average'] or '-'}, delta "
                        f"{s['delta'] or '-'}) {s['outcome']} {s['amount']}; complaints "
                        f"{c['complaints']} [{c['band']}] {c['amount']}; total {d['total_amount']}"))
        return out
    if p["kind"] in ("daily", "weekly", "monthly"):
        sat = p.get("satisfaction")
        return [("problem customers", str(len(p["problem_customers"]))),
                ("callbacks completed", str(p["callbacks"]["completed"])),
                ("CSAT", "no data" if not sat or sat["csat"] is None else f"{sat['csat']:.1%}")]
    centre = p.get("centre") or []
    offered = sum(k["offered"] for k in centre)
    answered = sum(k["answered"] for k in centre)
    return [("windows", str(len(centre))), ("offered", str(offered)), ("answered", str(answered))]
