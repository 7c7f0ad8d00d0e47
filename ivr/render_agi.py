"""Plan one batch of IVR actions as carrier-neutral steps for Asterisk.

The Asterisk adapter turns each step into AGI commands (STREAM FILE, GET
DATA, RECORD FILE, SAY DIGITS, SET VARIABLE, HANGUP); this module holds no
protocol strings, only data.

Contract with the adapter:

* sound names are ``[<sounds_prefix>/]<language>/<prompt_id>``, matching the
  files generated from :mod:`ivr.prompts`;
* a ``Gather`` becomes ``PlayPrompt(..., interrupt_digits=DTMF_KEYS)`` for
  every prompt but the last, then ``CollectDigits`` on the last. A key that
  interrupts such a ``PlayPrompt`` is the first key of the collection: skip
  the remaining prompts and collect the rest (or feed it at once when
  ``max_digits`` is 1). A plain ``Say`` has no interrupt digits, as on
  Twilio;
* ``CollectDigits`` with an empty ``sound_name`` plays nothing first;
* after ``CollectDigits`` feed ``Digits(keys)`` (``''`` on timeout); after
  ``Record`` feed ``RecordingDone(path, seconds)``;
* a ``Transfer`` sets ``IVR_ACTION=queue``, ``IVR_QUEUE``, ``IVR_PATH``,
  ``IVR_REASON`` then returns to the dialplan, which queues the call;
* a ``SayName`` (a name only the back office holds, e.g. a department) is
  spelled from its ``spelling`` (SAY ALPHA), as the PBX has no text-to-speech;
* effects and ``Step`` are the adapter's job and plan nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ivr import actions as act
from ivr.prompts import normalize_language

DTMF_KEYS = "0123456789*#"
#: GET DATA reads "up to" this many keys when the Gather sets no number.
OPEN_ENDED_MAX_DIGITS = 32


@dataclass(frozen=True)
class PlayPrompt:
    sound_name: str
    interrupt_digits: str = ""


@dataclass(frozen=True)
class CollectDigits:
    sound_name: str
    timeout_ms: int
    max_digits: int
    node: str = ""


@dataclass(frozen=True)
class Record:
    path_hint: str
    fmt: str = "wav"
    escape_digits: str = "#"
    timeout_ms: int = 120_000
    beep: bool = True


@dataclass(frozen=True)
class SayDigitsStep:
    """Read ``digits`` one by one; ``alpha`` when it holds letters too
    (the adapter then uses SAY ALPHA)."""

    digits: str
    alpha: bool = False


@dataclass(frozen=True)
class SetVariable:
    name: str
    value: str


@dataclass(frozen=True)
class ReturnToDialplan:
    """End the AGI script; the dialplan reads the IVR_* variables."""


@dataclass(frozen=True)
class HangupStep:
    pass


AgiStep = (
    PlayPrompt
    | CollectDigits
    | Record
    | SayDigitsStep
    | SetVariable
    | ReturnToDialplan
    | HangupStep
)


def sound_name(prompt_id: str, language: str, sounds_prefix: str = "") -> str:
    name = f"{normalize_language(language)}/{prompt_id}"
    return f"{sounds_prefix.rstrip('/')}/{name}" if sounds_prefix else name


def plan(actions: Sequence[act.Action], *, language: str, sounds_prefix: str = "") -> list[AgiStep]:
    """The steps for the media actions of one turn, in order."""
    steps: list[AgiStep] = []

    def sound(prompt_id: str) -> str:
        return sound_name(prompt_id, language, sounds_prefix)

    for action in actions:
        if isinstance(action, act.Say):
            steps.append(PlayPrompt(sound(action.prompt_id)))
        elif isinstance(action, act.SayDigits):
            steps.append(SayDigitsStep(action.digits, alpha=not action.digits.isdigit()))
        elif isinstance(action, act.SayName):
            # no text-to-speech on the PBX: the name's code, letter by letter
            spelling = "".join(ch for ch in action.spelling if ch.isalnum())
            if spelling:
                steps.append(SayDigitsStep(spelling, alpha=not spelling.isdigit()))
        elif isinstance(action, act.Gather):
            *lead, last = action.prompt_ids
            steps.extend(PlayPrompt(sound(p), DTMF_KEYS) for p in lead)
            max_digits = action.num_digits or OPEN_ENDED_MAX_DIGITS
            steps.append(
                CollectDigits(sound(last), action.timeout_s * 1000, max_digits, action.node)
            )
        elif isinstance(action, act.Record):
            steps.append(PlayPrompt(sound(action.prompt)))
            steps.append(
                Record(
                    path_hint=f"ivr-{action.node or 'recording'}",
                    escape_digits=action.finish_on_key,
                    timeout_ms=action.max_length_s * 1000,
                )
            )
        elif isinstance(action, act.Transfer):
            steps.append(SetVariable("IVR_ACTION", "queue"))
            steps.append(SetVariable("IVR_QUEUE", action.queue))
            steps.append(SetVariable("IVR_PATH", action.path))
            steps.append(SetVariable("IVR_REASON", action.reason))
            steps.append(ReturnToDialplan())
        elif isinstance(action, act.Hangup):
            steps.append(HangupStep())
    return steps
