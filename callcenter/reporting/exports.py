"""Render a report payload as JSON, CSV, XLSX, HTML or PDF bytes.

Guarantees:
- JSON is the payload itself (UTF-8, sorted keys kept as built): the stable
  machine format; the other formats show the same figures (`tables`).
- CSV holds the main table (the first of `tables`), UTF-8 with a BOM so
  spreadsheet programs read the Chinese names; XLSX holds every table, one
  formatted sheet each (bold header, frozen first row, column widths,
  number formats), plus a Charts sheet.
- No spreadsheet cell can carry a formula: in CSV a text cell starting with
  =, +, -, @, tab or CR gets a leading apostrophe (`spreadsheet_text`; plain
  numbers such as -3000 stay numbers); in XLSX every text cell is written as
  a string cell (never a formula) with the quote prefix set when it starts
  with one of those characters. Names and notes come from callers and staff.
- HTML is one self-contained file (inline CSS, charts as inline SVG, no
  script, no external fetch); PDF uses matplotlib only (no new dependency).
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from callcenter.reporting.tables import Column, Table, headline, tables

__all__ = ["render", "to_json", "to_csv", "to_xlsx", "to_html", "html_body", "to_pdf", "TITLES"]

TITLES = {
    "supervision": "监察部月度考核 Supervision score",
    "daily": "回访日报 Daily callback report",
    "weekly": "周报 Weekly report",
    "monthly": "月客户满意度回访表 Monthly satisfaction callbacks",
    "kpi": "话务指标 Call KPIs",
}


def to_json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, indent=2, default=str).encode()


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


def cell_text(value: Any, column: Column) -> str:
    if value is None:
        return "-"
    if column.fmt == "pct":
        number = _number(value)
        return "-" if number is None else f"{number:.1%}"
    if column.fmt == "num" and isinstance(value, float):
        return f"{value:.1f}"
    if column.fmt == "money":
        number = _number(value)
        return str(value) if number is None else f"{number:+,.0f}" if number else "0"
    return str(value)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def spreadsheet_text(value: Any) -> Any:
    """`value` as a CSV cell no spreadsheet will evaluate: text that starts like a
    formula (or DDE call) gets a leading apostrophe; numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) \
            and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def to_csv(payload: dict[str, Any]) -> bytes:
    main = tables(payload)[0]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([spreadsheet_text(c.title) for c in main.columns])
    for row in main.rows:
        writer.writerow(["" if v is None else spreadsheet_text(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode()


_FORMATS = {"int": "0", "num": "0.0###", "pct": "0.0%", "money": '#,##0;[Red]-#,##0'}


def _sheet_name(title: str, used: set[str]) -> str:
    name = "".join(ch for ch in title if ch not in "[]:*?/\\")[:31]
    while name in used:
        name = name[:28] + f"_{len(used)}"
    used.add(name)
    return name


def _append(sheet: Any, values: list[Any]) -> None:
    """`sheet.append` with every text cell forced to a string cell: openpyxl would
    store text starting with "=" as a formula."""
    sheet.append(values)
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
            if cell.value.startswith(FORMULA_STARTS):
                cell.quotePrefix = True


def to_xlsx(payload: dict[str, Any]) -> bytes:
    # matplotlib and openpyxl load here, not with the module: a service worker that never
    # exports (the exports run in the CPU pool's processes) stays small
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image as XlImage
    from openpyxl.styles import Alignment, Font, PatternFill

    from callcenter.reporting import charts

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    used: set[str] = set()
    header_fill = PatternFill("solid", fgColor="DDE6F4")
    summary = book.create_sheet(_sheet_name("Summary", used))
    _append(summary, [TITLES[payload["kind"]]])
    summary["A1"].font = Font(bold=True, size=14)
    _append(summary, ["period", payload["period"]])
    _append(summary, ["scope", payload["scope"]])
    _append(summary, ["time zone", payload["time_zone"]])
    for label, value in headline(payload):
        _append(summary, [label, value])
    summary.column_dimensions["A"].width = 24
    summary.column_dimensions["B"].width = 110
    for table in tables(payload):
        sheet = book.create_sheet(_sheet_name(table.title, used))
        _append(sheet, [c.title for c in table.columns])
        for cell in sheet[1]:
            cell.font, cell.fill = Font(bold=True), header_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in table.rows:
            _append(sheet, [_xl_value(v, c) for v, c in zip(row, table.columns, strict=True)])
        for index, column in enumerate(table.columns, start=1):
            letter = sheet.cell(row=1, column=index).column_letter
            longest = max([len(column.title)] + [len(str(r[index - 1] or "")) for r in table.rows])
            sheet.column_dimensions[letter].width = min(max(10, longest + 2), 60)
            if column.fmt in _FORMATS:
                for cell in sheet[letter][1:]:
                    cell.number_format = _FORMATS[column.fmt]
        sheet.freeze_panes = "A2"
    with charts.closing(payload) as made:
        if made:
            sheet = book.create_sheet(_sheet_name("Charts", used))
            top = 1
            for _, fig in made:
                image = XlImage(io.BytesIO(charts.png(fig)))
                sheet.add_image(image, f"A{top}")
                top += 22
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xl_value(value: Any, column: Column) -> Any:
    if column.fmt in ("num", "pct", "money") and value is not None:
        number = _number(value)
        return value if number is None else number
    return value


_CSS = """body{font:14px/1.45 system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:#1d2330;
margin:1.5rem auto;max-width:1200px;padding:0 1rem}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #d9dde5;
padding:.3rem .45rem;text-align:left;vertical-align:top}th{background:#eef1f6}
td.n{text-align:right;font-variant-numeric:tabular-nums}.neg{color:#b3261e}.pos{color:#1b7a3a}
.cards{display:flex;flex-wrap:wrap;gap:.6rem}.card{border:1px solid #d9dde5;border-radius:8px;
padding:.5rem .8rem;background:#fff}.card b{display:block;font-size:.85em;color:#5b6474}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}.meta{color:#5b6474}"""


def _td(value: Any, column: Column) -> str:
    text = html.escape(cell_text(value, column))
    if column.fmt == "text":
        return f"<td>{text}</td>"
    number = _number(value)
    tone = " neg" if number is not None and number < 0 and column.fmt == "money" else \
        " pos" if number is not None and number > 0 and column.fmt == "money" else ""
    return f'<td class="n{tone}">{text}</td>'


def table_html(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c.title)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(_td(v, c) for v, c in zip(row, table.columns, strict=True))
                   + "</tr>" for row in table.rows) or \
        f'<tr><td colspan="{len(table.columns)}">no rows</td></tr>'
    return f"<h2>{html.escape(table.title)}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_body(payload: dict[str, Any]) -> str:
    """The report as an HTML fragment (also embedded in the supervisor page)."""
    from callcenter.reporting import charts

    cards = "".join(f'<div class="card"><b>{html.escape(k)}</b>{html.escape(v)}</div>'
                    for k, v in headline(payload))
    with charts.closing(payload) as made:
        figures = "".join(f'<figure id="chart-{name}">{charts.svg(fig)}</figure>'
                          for name, fig in made)
    rules = payload["settings"]
    notes = []
    if "supervision" in rules:
        r = rules["supervision"]
        bands = ", ".join(f"{b['min_count']}{'+' if b['max_count'] is None else '-' + str(b['max_count'])}: {b['amount']}"
                          for b in r["complaint_bands"])
        notes.append(f"reward {r['reward']}, penalty {r['penalty']}, all-A bonus {r['all_a_bonus']}, "
                     f"all-E penalty {r['all_e_penalty']}; complaint bands {bands}; administrative "
                     f"action at {r['administrative_action_at']} complaints")
    if "kpi" in rules:
        k = rules["kpi"]["default"]
        notes.append(f"SL {k['sl_threshold_s']:g} s over answered + abandoned (abandons under "
                     f"{k['short_abandon_s']:g} s excluded); AHT = talk + hold + wrap-up")
    unassigned = payload.get("unassigned_surveys")
    if unassigned:
        notes.append(f"{unassigned} survey(s) of the month have no department and are not scored")
    body = "".join(table_html(t) for t in tables(payload))
    meta = " · ".join(html.escape(n) for n in notes)
    return (f'<div class="cards">{cards}</div>{figures}{body}'
            f'<p class="meta">Rules used: {meta or "-"}</p>')


def to_html(payload: dict[str, Any]) -> bytes:
    title = f"{TITLES[payload['kind']]} · {payload['window']['label']}"
    doc = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}'
           f"</title><style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
           f'<p class="meta">scope {html.escape(payload["scope"])} · time zone '
           f'{html.escape(payload["time_zone"])} · window {html.escape(payload["window"]["start_utc"])}'
           f' .. {html.escape(payload["window"]["end_utc"])} (UTC)</p>{html_body(payload)}</body></html>')
    return doc.encode()


_ROWS_PER_PAGE = 28


def to_pdf(payload: dict[str, Any], generated_at: datetime | None = None) -> bytes:
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    from callcenter.reporting import charts

    out = io.BytesIO()
    with PdfPages(out) as pdf:
        fig = plt.figure(figsize=(11.69, 8.27))
        fig.text(0.05, 0.93, f"{payload['kind'].title()} report {payload['period']}",
                 fontsize=18, weight="bold")
        fig.text(0.05, 0.89, f"scope {payload['scope']} - time zone {payload['time_zone']}",
                 fontsize=10, color="#5b6474")
        y = 0.83
        for label, value in headline(payload)[:20]:
            fig.text(0.05, y, label, fontsize=10, weight="bold")
            fig.text(0.22, y, value, fontsize=9, wrap=True)
            y -= 0.035
        pdf.savefig(fig)
        plt.close(fig)
        with charts.closing(payload, (11.69, 8.27)) as made:
            for _, chart in made:
                pdf.savefig(chart)
        for table in tables(payload):
            rows = [[cell_text(v, c) for v, c in zip(r, table.columns, strict=True)] for r in table.rows]
            for page in range(0, max(len(rows), 1), _ROWS_PER_PAGE):
                chunk = rows[page:page + _ROWS_PER_PAGE] or [["no rows"] + [""] * (len(table.columns) - 1)]
                fig = plt.figure(figsize=(11.69, 8.27))
                fig.text(0.03, 0.95, table.title, fontsize=14, weight="bold")
                ax = fig.add_axes((0.02, 0.02, 0.96, 0.9))
                ax.axis("off")
                shown = [[t[:40] for t in r] for r in chunk]
                drawn = ax.table(cellText=shown, colLabels=[c.title for c in table.columns],
                                 loc="upper left", cellLoc="left")
                drawn.auto_set_font_size(False)
                drawn.set_fontsize(7 if len(table.columns) > 12 else 8)
                drawn.auto_set_column_width(list(range(len(table.columns))))
                drawn.scale(1, 1.5)
                pdf.savefig(fig)
                plt.close(fig)
        info = pdf.infodict()
        info["Title"] = f"{payload['kind']} report {payload['period']}"
        if generated_at is not None:
            info["CreationDate"] = generated_at
    return out.getvalue()


def render(payload: dict[str, Any], fmt: str) -> bytes:
    if fmt == "json":
        return to_json(payload)
    if fmt == "csv":
        return to_csv(payload)
    if fmt == "xlsx":
        return to_xlsx(payload)
    if fmt == "html":
        return to_html(payload)
    if fmt == "pdf":
        return to_pdf(payload)
    raise ValueError(f"unknown format {fmt!r}; choose json, csv, xlsx, html or pdf")
