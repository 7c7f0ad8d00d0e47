"""Charts of a report payload with matplotlib (Agg): SVG text for HTML, PNG bytes for XLSX.

Charts: the monthly average trend per department, complaint counts per month
against the configured bands (band edges drawn, amounts labelled), and the
call KPIs (service level and abandon rate per window). Labels use department
codes; titles are English; Chinese text (names in PDF tables) is drawn with
the CJK font that :mod:`callcenter.reporting.fonts` finds.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from callcenter.reporting import fonts  # noqa: E402

__all__ = ["figures", "svg", "png"]

fonts.configure()
plt.rcParams["svg.fonttype"] = "none"  # text stays text (searchable, small)
# Names come from staff and callers: "$...$" in one must print as typed, not as
# mathtext (which fails to parse and would break the PDF/XLSX/HTML export).
plt.rcParams["text.parse_math"] = False


def _code(p: dict[str, Any], dept_id: str) -> str:
    info = p["names"]["departments"].get(dept_id)
    if not info:
        return dept_id
    return info["code"] if info["name"] in ("", info["code"]) else f"{info['code']} {info['name']}"


SIZE = (7.5, 3.4)


def _trend(p: dict[str, Any], size: tuple[float, float] = SIZE) -> Figure:
    fig, ax = plt.subplots(figsize=size, dpi=100)
    months = [m["month"] for m in p["trend"]]
    departments = sorted({d for m in p["trend"] for d in m["departments"]}, key=lambda d: int(d))
    for dept in departments:
        values = [float("nan") if (x := m["departments"].get(dept)) is None or x["average"] is None
                  else float(x["average"]) for m in p["trend"]]
        ax.plot(range(len(months)), values, marker="o", label=_code(p, dept))
    ax.set_xticks(range(len(months)), months)
    ax.set_xlim(-0.5, len(months) - 0.5)
    ax.axhline(0, color="#999", linewidth=0.8)
    ax.set_ylim(-6.3, 6.3)
    ax.set_ylabel("average score (-6..6)")
    ax.set_title("Monthly average satisfaction score per department")
    ax.grid(alpha=0.3)
    if departments:
        ax.legend(fontsize=8, loc="lower left", ncol=min(len(departments), 4))
    fig.tight_layout()
    return fig


def _complaints(p: dict[str, Any], size: tuple[float, float] = SIZE) -> Figure:
    fig, ax = plt.subplots(figsize=size, dpi=100)
    months = [m["month"] for m in p["trend"]]
    departments = sorted({d for m in p["trend"] for d in m["departments"]}, key=lambda d: int(d))
    width = 0.8 / max(len(departments), 1)
    top = 0
    for i, dept in enumerate(departments):
        counts = [m["departments"].get(dept, {}).get("complaints", 0) for m in p["trend"]]
        top = max([top, *counts])
        xs = [x - 0.4 + width * (i + 0.5) for x in range(len(months))]
        ax.bar(xs, counts, width=width, label=_code(p, dept))
    bands = p["supervision"]["rules"]["complaint_bands"] if "supervision" in p else []
    ceiling = max(top + 2, 17)
    for band in bands:
        high = band["max_count"]
        if high is not None and high + 0.5 < ceiling:
            ax.axhline(high + 0.5, color="#b3261e", linestyle="--", linewidth=0.8)
        low = band["min_count"]
        middle = max((low + min(high if high is not None else ceiling, ceiling)) / 2, 0.6)
        label = f"{low}+" if high is None else str(low) if high == low else f"{low}-{high}"
        ax.text(len(months) - 0.45, middle, f"{label}: {band['amount']}", fontsize=7,
                color="#b3261e", va="center", ha="left")
    ax.set_xticks(range(len(months)), months)
    ax.set_ylim(0, ceiling)
    ax.set_xlim(-0.6, len(months) - 0.4 + 1.2)
    ax.set_ylabel("complaints")
    ax.set_title("Complaints per month against the bands (yuan)")
    if departments:
        ax.legend(fontsize=8, loc="upper left", ncol=min(len(departments), 4))
    fig.tight_layout()
    return fig


def _kpis(p: dict[str, Any], size: tuple[float, float] = SIZE) -> Figure:
    centre = p.get("centre") or p.get("calls") or []
    fig, ax = plt.subplots(figsize=size, dpi=100)
    labels = [k["window"]["label"][5:] if k["window"]["kind"] == "day" else k["window"]["label"]
              for k in centre]
    sl = [float("nan") if k["service_level"] is None else 100 * k["service_level"] for k in centre]
    ab = [float("nan") if k["abandon_rate"] is None else 100 * k["abandon_rate"] for k in centre]
    offered = [k["offered"] for k in centre]
    ax2 = ax.twinx()
    ax2.bar(range(len(labels)), offered, color="#d9dde5", label="offered")
    ax2.set_ylabel("calls offered")
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    label = centre[0]["service_level_label"] if centre else "SL"
    ax.plot(range(len(labels)), sl, marker="o", color="#0a5bd3", label=f"service level ({label})")
    ax.plot(range(len(labels)), ab, marker="s", color="#b3261e", label="abandon rate")
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    step = max(1, len(labels) // 12)
    ax.set_xticks(range(0, len(labels), step), labels[::step], fontsize=8)
    ax.set_title("Call KPIs")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def figures(p: dict[str, Any], size: tuple[float, float] = SIZE) -> list[tuple[str, Figure]]:
    """(name, figure) pairs for this payload; the caller closes them (see `closing`)."""
    if p["kind"] == "supervision":
        return [("trend", _trend(p, size)), ("complaints", _complaints(p, size))]
    if p["kind"] == "kpi" or (p["kind"] == "daily" and p.get("calls")):
        return [("kpis", _kpis(p, size))]
    return []


@contextmanager
def closing(p: dict[str, Any], size: tuple[float, float] = SIZE) -> Iterator[list[tuple[str, Figure]]]:
    made = figures(p, size)
    try:
        yield made
    finally:
        for _, fig in made:
            plt.close(fig)


def svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()
