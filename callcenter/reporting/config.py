"""Report rules built from `Settings` (the `# reports` block), with readable errors.

Guarantee: the rules a report used are the ones these functions return; the
runner stores their `to_dict()` with every report so it can be recomputed.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from callcenter.settings import Settings
from reports.rules import (
    CallKpiSettings,
    ComplaintBand,
    KpiRules,
    SupervisionRules,
    parse_survey_precedence,
)

__all__ = ["parse_bands", "parse_queue_thresholds", "supervision_rules", "kpi_rules", "formats"]

FORMATS = ("json", "csv", "xlsx", "html", "pdf")


def parse_bands(text: str) -> tuple[ComplaintBand, ...]:
    """``"0:5000,1-5:0,6-10:-3000,11-15:-5000,16+:-10000"`` -> bands (validated by the rules)."""
    bands = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            counts, amount = part.split(":")
            counts = counts.strip()
            if counts.endswith("+"):
                low, high = int(counts[:-1]), None
            elif "-" in counts:
                low_text, high_text = counts.split("-")
                low, high = int(low_text), int(high_text)
            else:
                low = high = int(counts)
            bands.append(ComplaintBand(low, high, Decimal(amount.strip())))
        except (ValueError, InvalidOperation) as exc:
            raise ValueError(
                f"complaint band {part!r} must look like 6-10:-3000, 0:5000 or 16+:-10000"
            ) from exc
    return tuple(bands)


def parse_queue_thresholds(text: str, default: CallKpiSettings) -> dict[str, CallKpiSettings]:
    """``"vip=10/3,sales=60/5"`` -> per-queue SL threshold / short-abandon seconds."""
    result = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            queue, values = part.split("=")
            sl, short = values.split("/")
            result[queue.strip()] = CallKpiSettings(float(sl), float(short),
                                                    default.exclude_short_abandons)
        except ValueError as exc:
            raise ValueError(f"queue thresholds {part!r} must look like vip=10/3") from exc
    return result


def supervision_rules(settings: Settings) -> SupervisionRules:
    return SupervisionRules(
        reward=settings.supervision_reward,
        penalty=settings.supervision_penalty,
        all_a_bonus=settings.supervision_all_a_bonus,
        all_e_penalty=settings.supervision_all_e_penalty,
        complaint_bands=parse_bands(settings.supervision_complaint_bands),
        administrative_action_at=settings.supervision_administrative_action_at,
        survey_precedence=parse_survey_precedence(settings.supervision_survey_precedence),
    )


def kpi_rules(settings: Settings) -> KpiRules:
    default = CallKpiSettings(settings.kpi_sl_threshold_s, settings.kpi_short_abandon_s)
    return KpiRules(default, parse_queue_thresholds(settings.kpi_queue_thresholds, default),
                    settings.kpi_fcr_window_days)


def formats(text: str) -> tuple[str, ...]:
    chosen = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format(s) {unknown}; choose from {list(FORMATS)}")
    return chosen
