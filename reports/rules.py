"""The configurable amounts and thresholds reports apply, with the seeds' defaults.

Guarantees:

* Every rule object is a frozen dataclass; `to_dict` gives a JSON-able dict
  and `from_dict(to_dict(x)) == x`, so each generated report stores exactly
  the settings it used and can be recomputed later.
* Money is `Decimal` (yuan), written as a string in JSON. Reward / penalty
  amounts are positive magnitudes; the complaint band table is signed.
* The complaint band table covers every count from 0 upward with no gap and no
  overlap, the last band open-ended; anything else is refused at construction.

Defaults (seed 001): month-over-month reward 1000, penalty 1000; the all-A
bonus and all-E penalty are "XXXX" in the seed, defaulted here to 1000 each;
complaint bands 0 -> +5000, 1-5 -> 0, 6-10 -> -3000, 11-15 -> -5000,
more than 15 -> -10000; administrative action flagged at 30 complaints.
Call KPIs (kpi.md): SL threshold 20 s, short abandon under 5 s, FCR window 7 days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

__all__ = [
    "ComplaintBand",
    "SURVEY_KINDS",
    "DEFAULT_SURVEY_PRECEDENCE",
    "parse_survey_precedence",
    "survey_precedence_text",
    "SupervisionRules",
    "CallKpiSettings",
    "KpiRules",
    "DEFAULT_COMPLAINT_BANDS",
    "SEED_SUPERVISION_RULES",
    "DEFAULT_KPI_RULES",
]


@dataclass(frozen=True)
class ComplaintBand:
    """Complaints ``min_count..max_count`` (inclusive; ``None`` = no upper limit) earn ``amount``."""

    min_count: int
    max_count: int | None
    amount: Decimal

    def covers(self, count: int) -> bool:
        return count >= self.min_count and (self.max_count is None or count <= self.max_count)

    @property
    def label(self) -> str:
        if self.max_count is None:
            return f"{self.min_count}+"
        if self.max_count == self.min_count:
            return str(self.min_count)
        return f"{self.min_count}-{self.max_count}"

    def to_dict(self) -> dict[str, Any]:
        return {"min_count": self.min_count, "max_count": self.max_count, "amount": str(self.amount)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComplaintBand:
        top = data["max_count"]
        return cls(int(data["min_count"]), None if top is None else int(top), Decimal(data["amount"]))


DEFAULT_COMPLAINT_BANDS: tuple[ComplaintBand, ...] = (
    ComplaintBand(0, 0, Decimal(5000)),
    ComplaintBand(1, 5, Decimal(0)),
    ComplaintBand(6, 10, Decimal(-3000)),
    ComplaintBand(11, 15, Decimal(-5000)),
    ComplaintBand(16, None, Decimal(-10000)),
)


def _check_bands(bands: tuple[ComplaintBand, ...]) -> None:
    expected = 0
    for index, band in enumerate(bands):
        if band.min_count != expected:
            raise ValueError(
                f"complaint bands must start at 0 and follow each other without gaps; "
                f"band {index} starts at {band.min_count}, expected {expected}"
            )
        if band.max_count is None:
            if index != len(bands) - 1:
                raise ValueError("only the last complaint band may be open-ended (max_count=None)")
            return
        if band.max_count < band.min_count:
            raise ValueError(f"complaint band {band.label} ends before it starts")
        expected = band.max_count + 1
    raise ValueError("the last complaint band must be open-ended (max_count=None)")


#: What a survey is, for choosing the one that counts for its job: ``verified`` (confirmed by the
#: supervision department, whatever its source), else its source (`crm.enums.SurveySource`).
SURVEY_KINDS = ("verified", "callback", "ivr", "paper", "agent")
#: The issue-14 default: a supervisor-verified form first, then the 3-day callback survey,
#: then the IVR survey, then paper / agent forms (one tier: the earlier of the two wins).
DEFAULT_SURVEY_PRECEDENCE: tuple[tuple[str, ...], ...] = (
    ("verified",), ("callback",), ("ivr",), ("paper", "agent"))


def parse_survey_precedence(text: str) -> tuple[tuple[str, ...], ...]:
    """``"verified, callback, ivr, paper/agent"`` -> tiers, best first; every kind exactly once."""
    tiers = tuple(tuple(k.strip().lower() for k in part.split("/") if k.strip())
                  for part in text.split(",") if part.strip())
    _check_precedence(tiers)
    return tiers


def survey_precedence_text(tiers: tuple[tuple[str, ...], ...]) -> str:
    return ",".join("/".join(tier) for tier in tiers)


def _check_precedence(tiers: tuple[tuple[str, ...], ...]) -> None:
    named = [kind for tier in tiers for kind in tier]
    unknown = sorted(set(named) - set(SURVEY_KINDS))
    if unknown or sorted(named) != sorted(SURVEY_KINDS) or any(not tier for tier in tiers):
        raise ValueError(
            f"survey precedence must name each of {', '.join(SURVEY_KINDS)} exactly once, "
            f"best first, comma-separated ('/' puts kinds in one tier), e.g. "
            f"'verified,callback,ivr,paper/agent'; got {survey_precedence_text(tiers)!r}"
            + (f" (unknown: {unknown})" if unknown else ""))


@dataclass(frozen=True)
class SupervisionRules:
    """Amounts and thresholds of the supervision department's monthly score (001)."""

    reward: Decimal = Decimal(1000)
    penalty: Decimal = Decimal(1000)
    all_a_bonus: Decimal = Decimal(1000)
    all_e_penalty: Decimal = Decimal(1000)
    complaint_bands: tuple[ComplaintBand, ...] = DEFAULT_COMPLAINT_BANDS
    administrative_action_at: int = 30
    #: which of a job's surveys counts (one per job, seed 001 "n = 本月维修工作项数")
    survey_precedence: tuple[tuple[str, ...], ...] = DEFAULT_SURVEY_PRECEDENCE

    def __post_init__(self) -> None:
        for name in ("reward", "penalty", "all_a_bonus", "all_e_penalty"):
            value = Decimal(getattr(self, name))
            if value < 0:
                raise ValueError(f"{name} is a magnitude and must be >= 0, got {value}")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "complaint_bands", tuple(self.complaint_bands))
        _check_bands(self.complaint_bands)
        if self.administrative_action_at < 1:
            raise ValueError("administrative_action_at must be at least 1 complaint")
        object.__setattr__(self, "survey_precedence",
                           tuple(tuple(tier) for tier in self.survey_precedence))
        _check_precedence(self.survey_precedence)

    def survey_tier(self, kind: str) -> int:
        """0 for the best kind of survey; used to choose the one survey of a job that counts."""
        for index, tier in enumerate(self.survey_precedence):
            if kind in tier:
                return index
        raise ValueError(f"unknown survey kind {kind!r}")

    def band_for(self, complaints: int) -> ComplaintBand:
        if complaints < 0:
            raise ValueError(f"a complaint count cannot be negative: {complaints}")
        return next(band for band in self.complaint_bands if band.covers(complaints))

    def to_dict(self) -> dict[str, Any]:
        return {
            "reward": str(self.reward),
            "penalty": str(self.penalty),
            "all_a_bonus": str(self.all_a_bonus),
            "all_e_penalty": str(self.all_e_penalty),
            "complaint_bands": [band.to_dict() for band in self.complaint_bands],
            "administrative_action_at": self.administrative_action_at,
            "survey_precedence": survey_precedence_text(self.survey_precedence),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SupervisionRules:
        return cls(
            reward=Decimal(data["reward"]),
            penalty=Decimal(data["penalty"]),
            all_a_bonus=Decimal(data["all_a_bonus"]),
            all_e_penalty=Decimal(data["all_e_penalty"]),
            complaint_bands=tuple(ComplaintBand.from_dict(b) for b in data["complaint_bands"]),
            administrative_action_at=int(data["administrative_action_at"]),
            survey_precedence=parse_survey_precedence(
                data.get("survey_precedence", survey_precedence_text(DEFAULT_SURVEY_PRECEDENCE))),
        )


@dataclass(frozen=True)
class CallKpiSettings:
    """Per-queue call thresholds (kpi.md). Waits compare in seconds.

    * answered "within" the SL threshold means ``wait_s <= sl_threshold_s``;
    * a short abandon is ``wait_s < short_abandon_s``.
    """

    sl_threshold_s: float = 20.0
    short_abandon_s: float = 5.0
    exclude_short_abandons: bool = True

    def __post_init__(self) -> None:
        if self.sl_threshold_s <= 0 or self.short_abandon_s < 0:
            raise ValueError("sl_threshold_s must be > 0 and short_abandon_s >= 0")

    @property
    def service_level_label(self) -> str:
        return f"SL {self.sl_threshold_s:g} s"

    def to_dict(self) -> dict[str, Any]:
        return {
            "sl_threshold_s": self.sl_threshold_s,
            "short_abandon_s": self.short_abandon_s,
            "exclude_short_abandons": self.exclude_short_abandons,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallKpiSettings:
        return cls(
            float(data["sl_threshold_s"]),
            float(data["short_abandon_s"]),
            bool(data["exclude_short_abandons"]),
        )


@dataclass(frozen=True)
class KpiRules:
    """KPI settings: centre-wide defaults, per-queue overrides, and customer-level windows.

    Centre-wide and per-agent figures use ``default``; per-queue figures use
    ``per_queue[queue]`` when present, else ``default``.
    """

    default: CallKpiSettings = CallKpiSettings()
    per_queue: Mapping[str, CallKpiSettings] = field(default_factory=dict)
    fcr_window_days: int = 7

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_queue", MappingProxyType(dict(self.per_queue)))
        if self.fcr_window_days < 1:
            raise ValueError("fcr_window_days must be at least 1")

    def for_queue(self, queue: str | None) -> CallKpiSettings:
        if queue is None:
            return self.default
        return self.per_queue.get(queue, self.default)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KpiRules):
            return NotImplemented
        return (
            self.default == other.default
            and dict(self.per_queue) == dict(other.per_queue)
            and self.fcr_window_days == other.fcr_window_days
        )

    def __hash__(self) -> int:
        return hash((self.default, tuple(sorted(self.per_queue.items())), self.fcr_window_days))

    def to_dict(self) -> dict[str, Any]:
        return {
            "default": self.default.to_dict(),
            "per_queue": {queue: s.to_dict() for queue, s in sorted(self.per_queue.items())},
            "fcr_window_days": self.fcr_window_days,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KpiRules:
        return cls(
            default=CallKpiSettings.from_dict(data["default"]),
            per_queue={q: CallKpiSettings.from_dict(s) for q, s in data["per_queue"].items()},
            fcr_window_days=int(data["fcr_window_days"]),
        )


SEED_SUPERVISION_RULES = SupervisionRules()
DEFAULT_KPI_RULES = KpiRules()
