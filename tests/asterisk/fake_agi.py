"""The fake Asterisk of the tests: `callcenter.demo.simulated_asterisk`, under its test name."""

from __future__ import annotations

from callcenter.demo.simulated_asterisk import (
    DEAD,
    TIMEOUT,
    CallerStep,
    Garbage,
    Hangup,
    Interrupt,
    Speak,
    agi_block,
    parse_command,
)
from callcenter.demo.simulated_asterisk import SimulatedAgiCall as FakeAgiCall

__all__ = ["DEAD", "TIMEOUT", "CallerStep", "FakeAgiCall", "Garbage", "Hangup", "Interrupt",
           "Speak", "agi_block", "parse_command"]
