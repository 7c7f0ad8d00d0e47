"""A deterministic driver: run a whole call through a flow without a carrier.

Used by the tests and by the simulated demo. The caller's key presses are a
list; the back office is a pure callable that answers each effect with a
result event (or None when it has nothing to say, which the driver feeds as
``EffectFailed``).

Guarantees: the same inputs give the same transcript; every effect the
session emits (partial ones at the end of a call too) is shown to the
handler exactly once; a result is fed back only when the session waits for
it; when the key presses run out before the call ends, the caller hangs up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ivr import actions as act
from ivr import events as ev
from ivr.flow import Flow
from ivr.prompts import prompt_text
from ivr.session import Session

EffectHandler = Callable[[act.Effect], ev.Event | None]
#: A key press as a string (``"1"``, ``"123#"``, ``""`` for nothing), or any
#: caller event (``Timeout()``, ``RecordingDone(...)``, ``Hangup()``).
CallerInput = str | ev.Event
MAX_TURNS = 2_000


@dataclass(frozen=True)
class Turn:
    event: ev.Event
    actions: tuple[act.Action, ...]


@dataclass
class Transcript:
    """Every event fed and every action returned, in order."""

    turns: list[Turn] = field(default_factory=list)
    final_state: str = ""
    unused_inputs: tuple[CallerInput, ...] = ()

    @property
    def actions(self) -> list[act.Action]:
        return [a for turn in self.turns for a in turn.actions]

    @property
    def effects(self) -> list[act.Effect]:
        """Effects other than ``Step``."""
        return [
            a for a in self.actions if isinstance(a, act.Effect) and not isinstance(a, act.Step)
        ]

    @property
    def steps(self) -> list[act.Step]:
        return [a for a in self.actions if isinstance(a, act.Step)]

    @property
    def media(self) -> list[act.Action]:
        return [a for a in self.actions if isinstance(a, act.MEDIA_ACTIONS)]

    @property
    def prompts(self) -> list[str]:
        """Prompt ids played, in order (Say, Gather and Record prompts)."""
        out: list[str] = []
        for action in self.actions:
            if isinstance(action, act.Say):
                out.append(action.prompt_id)
            elif isinstance(action, act.Gather):
                out.extend(action.prompt_ids)
            elif isinstance(action, act.Record):
                out.append(action.prompt)
        return out

    @property
    def last_media(self) -> act.Action | None:
        media = self.media
        return media[-1] if media else None

    def lines(self, language: str = "zh-CN") -> list[str]:
        """A readable transcript for the demo."""
        out: list[str] = []
        for turn in self.turns:
            out.append(f"  caller/back office: {turn.event!r}")
            for action in turn.actions:
                line = _describe(action, language)
                if line:
                    out.append(line)
        return out


def run(
    flow: Flow,
    context: ev.CallerContext,
    key_presses: Iterable[CallerInput],
    effect_handler: EffectHandler,
    *,
    through_json: bool = False,
) -> Transcript:
    """Play one call. With ``through_json`` the session is serialised and
    rebuilt from JSON after every event, as a multi-process adapter would."""
    session = Session(flow)
    inputs: deque[CallerInput] = deque(key_presses)
    transcript = Transcript()
    next_event: ev.Event | None = ev.Start(context)
    for _ in range(MAX_TURNS):
        if next_event is None:
            if session.ended:
                break
            next_event = ev.Hangup() if not inputs else _as_event(inputs.popleft())
        batch = session.handle(next_event)
        transcript.turns.append(Turn(next_event, tuple(batch)))
        if through_json:
            session = Session.from_json(flow, session.to_json())
        next_event = None
        answers = [
            (effect, effect_handler(effect))
            for effect in batch
            if isinstance(effect, act.Effect) and not isinstance(effect, act.Step)
        ]
        if session.waiting_for is not None and answers:
            effect, result = answers[-1]
            next_event = result or ev.EffectFailed(type(effect).__name__, "no result")
    else:
        raise RuntimeError(f"call did not end within {MAX_TURNS} turns")
    transcript.final_state = session.to_json()
    transcript.unused_inputs = tuple(inputs)
    return transcript


def cooperative_back_office(effect: act.Effect) -> ev.Event | None:
    """A back office where everything works: for the demo and for tests."""
    if isinstance(effect, act.CreateComplaint):
        return ev.ComplaintCreated(ticket="20240001")
    if isinstance(effect, act.LookupJob):
        return ev.JobLookup(found=True, job_id=42, reference=effect.reference or "880042")
    if isinstance(effect, act.SaveSurvey):
        return ev.SurveySaved(survey_id=7)
    if isinstance(effect, act.ScheduleCallback):
        return ev.CallbackScheduled(callback_id=9, due_local_iso="")
    if isinstance(effect, act.RecordFollowupVerdict):
        return ev.FollowupRecorded(reopened=not effect.satisfied)
    if isinstance(effect, act.ConfirmSurvey):
        return ev.SurveyConfirmed("verified" if effect.confirmed else "disputed")
    if isinstance(effect, act.CheckCallbackNumber):
        valid = effect.digits.startswith("1") and len(effect.digits) == 11
        return ev.NumberChecked(valid, "+86" + effect.digits if valid else None)
    if isinstance(effect, act.LookupComplaintStatus):
        if effect.ticket not in (None, "20240001"):
            return ev.ComplaintStatus(())
        return ev.ComplaintStatus((ev.StatusLine("20240001", "in_progress", "售后服务部", "SVC",
                                                 5, 8),))
    return None


def _as_event(item: CallerInput) -> ev.Event:
    return ev.Digits(item) if isinstance(item, str) else item


def _describe(action: act.Action, language: str) -> str:
    if isinstance(action, act.Say):
        return "    IVR: " + prompt_text(action.prompt_id, language, action.params)
    if isinstance(action, act.SayDigits):
        return "    IVR: " + " ".join(action.digits)
    if isinstance(action, act.SayName):
        return "    IVR: " + action.text
    if isinstance(action, act.Gather):
        said = "".join(prompt_text(p, language) for p in action.prompt_ids)
        return f"    IVR: {said}  [waits for keys at {action.node}]"
    if isinstance(action, act.Record):
        return f"    IVR: {prompt_text(action.prompt, language)}  [records]"
    if isinstance(action, act.Transfer):
        return f"    IVR: -> agents in {action.queue} ({action.reason}; {action.path})"
    if isinstance(action, act.Hangup):
        return "    IVR: hangs up"
    if isinstance(action, act.Step):
        return ""
    return f"    effect: {action!r}"
