"""A small Prometheus registry (counters, gauges, histograms) and its text exposition.

Kept in-process and lock-free (one event loop); `/metrics` renders it in the
Prometheus text format 0.0.4. Labels are passed as keyword arguments.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from typing import TypeVar


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(
        f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in sorted(labels.items())
    )
    return "{" + inner + "}"


class Counter:
    kind = "counter"

    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help = name, help_text
        self.values: dict[tuple[tuple[str, str], ...], float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items())) if labels else ()
        self.values[key] = self.values.get(key, 0.0) + amount

    def get(self, **labels: str) -> float:
        return self.values.get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> Iterable[str]:
        for key, value in self.values.items():
            yield f"{self.name}{_labels(dict(key))} {value}"


class Gauge(Counter):
    kind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        self.values[tuple(sorted(labels.items()))] = value


class Histogram:
    kind = "histogram"
    DEFAULT = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...] = DEFAULT) -> None:
        self.name, self.help, self.buckets = name, help_text, buckets
        self.series: dict[tuple[tuple[str, str], ...], list[float]] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items())) if labels else ()
        counts = self.series.get(key)
        if counts is None:  # not setdefault: that would build a fresh list on every call
            counts = self.series[key] = [0.0] * (len(self.buckets) + 2)
        counts[bisect.bisect_left(self.buckets, value)] += 1
        counts[-1] += value  # sum

    def render(self) -> Iterable[str]:
        for key, counts in self.series.items():
            labels = dict(key)
            running = 0.0
            for bound, count in zip(self.buckets, counts, strict=False):
                running += count
                yield f"{self.name}_bucket{_labels({**labels, 'le': repr(bound)})} {running}"
            running += counts[len(self.buckets)]
            yield f"{self.name}_bucket{_labels({**labels, 'le': '+Inf'})} {running}"
            yield f"{self.name}_sum{_labels(labels)} {counts[-1]}"
            yield f"{self.name}_count{_labels(labels)} {running}"


M = TypeVar("M", bound="Counter | Histogram")


class Registry:
    def __init__(self) -> None:
        self.metrics: dict[str, Counter | Histogram] = {}

    def counter(self, name: str, help_text: str) -> Counter:
        return self._get(name, lambda: Counter(name, help_text), Counter)

    def gauge(self, name: str, help_text: str) -> Gauge:
        return self._get(name, lambda: Gauge(name, help_text), Gauge)

    def histogram(self, name: str, help_text: str) -> Histogram:
        return self._get(name, lambda: Histogram(name, help_text), Histogram)

    def _get(self, name: str, make: Callable[[], M], kind: type[M]) -> M:
        metric = self.metrics.get(name)
        if metric is None:
            metric = self.metrics[name] = make()
        if type(metric) is not kind or not isinstance(metric, kind):
            raise ValueError(f"metric {name} already registered as {metric.kind}")
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for metric in self.metrics.values():
            lines.append(f"# HELP {metric.name} {metric.help}")
            lines.append(f"# TYPE {metric.name} {metric.kind}")
            lines.extend(metric.render())
        return "\n".join(lines) + "\n"


REGISTRY = Registry()
