"""The demo steps each feature contributes, in the order `callcenter demo` runs them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.console import Console

from callcenter.demo.asterisk import run_demo as asterisk_demo
from callcenter.demo.callbacks import callbacks_step
from callcenter.demo.complaints import complaints_step
from callcenter.demo.supervision import supervision_step
from callcenter.demo.twilio import run_demo as twilio_demo
from callcenter.settings import Settings
from callcenter.storage.engine import Database

DemoStep = Callable[[Settings, Database, Console], Awaitable[None]]


def load_steps() -> list[tuple[str, DemoStep]]:
    steps: list[tuple[str, DemoStep]] = []
    steps.append(("Twilio hotline: simulated callers on the live server", twilio_demo))
    steps.append(("Asterisk hotline: simulated Asterisk channels on the FastAGI server",
                  asterisk_demo))
    steps.append(("Callbacks: post-repair calls placed by the dispatcher on a simulated carrier",
                  callbacks_step))
    steps.append(("Complaints: three channels, major rules, one escalation pass", complaints_step))
    steps.append(("Supervision report: this month's score, written to var/reports", supervision_step))
    return steps
