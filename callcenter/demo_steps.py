"""The demo steps each feature contributes, in the order `callcenter demo` runs them."""

from __future__ import annotations

from callcenter.commands.demo import DemoStep


def load_steps() -> list[tuple[str, DemoStep]]:
    steps: list[tuple[str, DemoStep]] = []
    return steps
