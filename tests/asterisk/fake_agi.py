"""The fake Asterisk of the tests: `callcenter.telephony.asterisk.simulate`, under its test name."""

from __future__ import annotations

from callcenter.telephony.asterisk.simulate import (
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
from callcenter.telephony.asterisk.simulate import SimulatedAgiCall as FakeAgiCall

__all__ = ["DEAD", "TIMEOUT", "CallerStep", "FakeAgiCall", "Garbage", "Hangup", "Interrupt",
           "Speak", "agi_block", "parse_command"]
