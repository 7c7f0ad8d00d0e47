"""The IVR engine: one call, events in, actions out, no I/O.

``Session(flow).handle(event) -> list[Action]`` interprets the flow table of
:mod:`ivr.flow`. The adapter feeds carrier events (keys, timeouts,
recordings, hang-ups) and the results of the effects it performed; it never
needs to know the menus.

Guarantees (tests hold them):

* **No dead ends.** After every ``handle`` the call is in one of three safe
  places: waiting for the caller (the last media action was a ``Gather`` or
  ``Record``), waiting for an effect's result (``waiting_for`` names it), or
  ended (a ``Transfer``/``Hangup`` was emitted, or the caller hung up).
  Events that do not fit (a key while an effect is pending, a stale result)
  change nothing and return ``[]``.
* **Keep what was given.** When the call ends by any path (hang-up,
  transfer, goodbye) a complaint that has a category but was not yet sent is
  sent as ``CreateComplaint(partial=True)``, and survey answers not yet sent
  as ``SaveSurvey(complete=False)`` (on outbound flows likewise a follow-up
  verdict or a verification answer). Nothing is sent twice.
* **Outbound calls close their callback.** A flow with
  ``completes_callback`` ends (hang-up or goodbye) with one
  ``CompleteCallback`` after everything else was sent; the slots named in
  ``Flow.context_slots`` are seeded from ``CallerContext.outbound`` at
  ``Start``.
* **Any process can continue any call.** ``to_json``/``from_json`` round-trip
  the whole state; the flow itself is code, named in the JSON and checked.
* Every input handled emits a ``Step`` (node, keys, outcome).
"""

from __future__ import annotations

import dataclasses
import string
from datetime import datetime
from typing import Any

from ivr import actions as act
from ivr import effect_payloads
from ivr import events as ev
from ivr.effect_payloads import CALLBACK_E164_SLOT
from ivr.flow import (
    BACK_KEY,
    COMPLAINT_STATES,
    EFFECTS,
    REPEAT_KEY,
    Announce,
    Branch,
    DigitEntry,
    EffectStep,
    EndCall,
    Flow,
    Menu,
    ReadDigits,
    ReadStatus,
    Recording,
    SwitchLanguage,
    ToAgents,
)
from ivr.prompts import normalize_language
from ivr.spoken import spoken_keys
from ivr.state import CallState, SessionError

_MAX_HOPS = 64
_PATH_KEPT = 20
#: each effect's result event class, by its name in `EFFECTS`
_RESULT_TYPES: dict[str, type[ev.Event]] = {kind.result: getattr(ev, kind.result) for kind in EFFECTS.values()}
#: The slot the session fills with a status lookup's complaints (``ReadStatus`` reads it).
STATUS_SLOT = "status_lines"


class Session:
    """One call through one flow. Create it, then feed ``Start`` first."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self._s = CallState(node=flow.start)

    # --- what the adapter may read -------------------------------------

    @property
    def node(self) -> str:
        return self._s.node

    @property
    def ended(self) -> bool:
        return self._s.ended

    @property
    def waiting_for(self) -> str | None:
        """Name of the result event the session needs next, if any."""
        return self._s.waiting

    @property
    def language(self) -> str:
        return normalize_language(self._s.context.language)

    @property
    def context(self) -> ev.CallerContext:
        return self._s.context

    @property
    def slots(self) -> dict[str, Any]:
        """A copy of what the caller chose so far (category, grades, ...)."""
        return dict(self._s.slots)

    # --- the one entry point -------------------------------------------

    def handle(self, event: ev.Event) -> list[act.Action]:
        """Take one event, return what to do, in order."""
        s = self._s
        if s.ended:
            return []
        if isinstance(event, ev.Start):
            return [] if s.started else self._start(event.context)
        if not s.started:
            if isinstance(event, ev.Hangup):
                s.ended = True
                return []
            raise SessionError(f"feed Start before {type(event).__name__}")
        out: list[act.Action] = []
        if isinstance(event, ev.Hangup):
            out.append(act.Step(s.node, "", "hangup"))
            self._end(out, "hangup")
        elif s.waiting is not None:
            self._on_result(event, out)
        elif isinstance(event, ev.RESULT_EVENTS):
            pass  # a stale result (e.g. of a partial complaint): nothing to do
        else:
            self._on_input(event, out)
        return out

    # --- serialisation --------------------------------------------------

    def to_json(self) -> str:
        return self._s.to_json(self.flow)

    @classmethod
    def from_json(cls, flow: Flow, data: str) -> Session:
        session = cls(flow)
        session._s = CallState.from_json(flow, data)
        return session

    # --- events -----------------------------------------------------------

    def _start(self, context: ev.CallerContext) -> list[act.Action]:
        self._s.started = True
        self._s.context = context
        seeds = context.outbound or {}
        for name in self.flow.context_slots:
            if seeds.get(name) is not None:
                self._s.slots[name] = seeds[name]
        out: list[act.Action] = [act.Step(self.flow.start, "", "call_started")]
        self._enter(self.flow.start, out)
        return out

    def _on_input(self, event: ev.Event, out: list[act.Action]) -> None:
        node = self.flow.nodes[self._s.node]
        if isinstance(node, Menu):
            self._on_menu_input(node, event, out)
        elif isinstance(node, DigitEntry):
            self._on_digit_entry(node, event, out)
        elif isinstance(node, Recording):
            self._on_recording(node, event, out)

    def _on_menu_input(self, node: Menu, event: ev.Event, out: list[act.Action]) -> None:
        pressed = _pressed(event)
        if pressed is None:
            self._fail(node, "", "no_input", self.flow.no_input_prompt, out)
            return
        key = pressed[:1]
        if key == BACK_KEY:
            out.append(act.Step(self._s.node, pressed, "back"))
            self._enter(node.back, out)
        elif key in node.options:
            option = node.options[key]
            out.append(act.Step(self._s.node, pressed, "selected"))
            if node.store is not None and option.value is not None:
                self._s.slots[node.store] = option.value
            self._s.reason = "caller_request"
            self._enter(option.target, out)
        elif key == REPEAT_KEY:
            out.append(act.Step(self._s.node, pressed, "repeat"))
            out.append(self._prompt_action(self._s.node))
        else:
            self._fail(node, pressed, "invalid", self.flow.invalid_prompt, out)

    def _on_digit_entry(self, node: DigitEntry, event: ev.Event, out: list[act.Action]) -> None:
        pressed = _pressed(event)
        if pressed is None:
            self._fail(node, "", "no_input", self.flow.no_input_prompt, out)
            return
        if pressed.startswith(BACK_KEY):
            out.append(act.Step(self._s.node, pressed, "back"))
            self._enter(node.back, out)
            return
        number = pressed.rstrip(node.finish_on_key) if node.finish_on_key else pressed
        if number.isdigit() and node.min_digits <= len(number) <= node.max_digits:
            out.append(act.Step(self._s.node, pressed, "entered"))
            self._s.slots[node.store] = number
            self._enter(node.next, out)
        elif not number:
            self._fail(node, pressed, "no_input", self.flow.no_input_prompt, out)
        else:
            self._fail(node, pressed, "invalid", self.flow.invalid_prompt, out)

    def _on_recording(self, node: Recording, event: ev.Event, out: list[act.Action]) -> None:
        if isinstance(event, ev.RecordingDone):
            if event.url_or_path and event.duration_s > 0:
                out.append(act.Step(self._s.node, "", "recorded"))
                self._s.slots[node.store] = event.url_or_path
                self._enter(node.next, out)
            else:
                self._fail(node, "", "no_input", self.flow.no_input_prompt, out)
            return
        pressed = _pressed(event)
        if pressed is not None and pressed.startswith(BACK_KEY):
            out.append(act.Step(self._s.node, pressed, "back"))
            self._enter(node.back, out)
        elif pressed is None:
            self._fail(node, "", "no_input", self.flow.no_input_prompt, out)
        else:
            self._fail(node, pressed, "invalid", self.flow.invalid_prompt, out)

    def _on_result(self, event: ev.Event, out: list[act.Action]) -> None:
        node = self.flow.nodes[self._s.node]
        assert isinstance(node, EffectStep), "waiting outside an effect step"
        if isinstance(event, ev.EffectFailed):
            if event.effect not in (EFFECTS[node.effect].action, node.effect):
                return  # another effect's failure: keep waiting
            self._s.waiting = None
            out.append(act.Step(self._s.node, "", "effect_failed"))
            self._s.reason = "effect_failed"
            self._enter(node.failed, out)
            return
        if not isinstance(event, _RESULT_TYPES[EFFECTS[node.effect].result]):
            return  # not the result we wait for: keep waiting
        self._s.waiting = None
        if _is_miss(event):
            self._on_miss(node, out)
            return
        if isinstance(event, ev.ComplaintCreated):
            self._s.slots["ticket"] = event.ticket
        elif isinstance(event, ev.JobLookup):
            self._s.slots["job_id"] = event.job_id
            self._s.slots["job_reference"] = event.reference
        elif isinstance(event, ev.SurveySaved):
            self._s.slots["survey_id"] = event.survey_id
        elif isinstance(event, ev.CallbackScheduled):
            self._s.slots["callback_id"] = event.callback_id
            self._s.slots["callback_due_local"] = event.due_local_iso
        elif isinstance(event, ev.FollowupRecorded):
            self._s.slots["complaint_reopened"] = event.reopened
        elif isinstance(event, ev.SurveyConfirmed):
            self._s.slots["verification"] = event.verification
        elif isinstance(event, ev.NumberChecked):
            self._s.slots[CALLBACK_E164_SLOT] = event.e164
        elif isinstance(event, ev.ComplaintStatus):
            self._s.slots[STATUS_SLOT] = [line.to_dict() for line in event.complaints]
        out.append(act.Step(self._s.node, "", "done"))
        self._enter(node.ok, out)

    def _on_miss(self, node: EffectStep, out: list[act.Action]) -> None:
        out.append(act.Step(self._s.node, "", "not_found"))
        target = node.not_found or node.failed
        prompt = node.not_found_prompt
        retry_node = self.flow.nodes[target]
        if node.not_found_is_retry and isinstance(retry_node, Menu | DigitEntry | Recording):
            self._s.node = target
            self._fail(retry_node, "", "not_found", prompt or self.flow.invalid_prompt, out)
            return
        if prompt is not None:
            out.append(act.Say(prompt))
        self._enter(target, out)

    # --- moving through the table ------------------------------------------

    def _fail(
        self,
        node: Menu | DigitEntry | Recording,
        keys: str,
        outcome: str,
        prompt: str,
        out: list[act.Action],
    ) -> None:
        """A failed attempt: re-prompt, or leave by ``on_fail`` when spent."""
        count = self._s.failures.get(self._s.node, 0) + 1
        self._s.failures[self._s.node] = count
        if count > node.retries:
            out.append(act.Step(self._s.node, keys, "retries_exhausted"))
            self._s.reason = "retries_exhausted"
            self._enter(node.on_fail, out)
            return
        out.append(act.Step(self._s.node, keys, outcome))
        out.append(act.Say(prompt))
        out.append(self._prompt_action(self._s.node))

    def _enter(self, target: str, out: list[act.Action]) -> None:
        """Walk from ``target`` until a node waits for the caller or ends."""
        for _ in range(_MAX_HOPS):
            node = self.flow.nodes[target]
            self._s.node = target
            self._s.failures.pop(target, None)
            for slot in getattr(node, "clear_on_enter", ()):
                self._s.clear(slot)
            if isinstance(node, Announce):
                for item in node.items:
                    self._announce(item, out)
                target = node.next
            elif isinstance(node, Branch):
                target = node.if_true if self._condition(node.condition) else node.if_false
            elif isinstance(node, SwitchLanguage):
                other = "en" if self.language == "zh-CN" else "zh-CN"
                self._s.context = dataclasses.replace(self._s.context, language=other)
                out.append(act.Step(target, "", f"language_{other}"))
                out.append(act.RememberLanguage(other))
                target = node.next
            elif isinstance(node, Menu | DigitEntry | Recording):
                self._s.path.append(target)
                del self._s.path[:-_PATH_KEPT]
                out.append(self._prompt_action(target))
                return
            elif isinstance(node, EffectStep):
                self._request(node, out)
                return
            elif isinstance(node, ToAgents):
                self._s.path.append(target)
                self._end(out, "transfer")
                out.extend(act.Say(p) for p in self._expand_all(node.prompts))
                path = ">".join(self._s.path[-_PATH_KEPT:])
                out.append(act.Transfer(queue=node.queue, reason=self._s.reason, path=path))
                return
            elif isinstance(node, EndCall):
                self._s.path.append(target)
                self._end(out, "goodbye")
                out.extend(act.Say(p) for p in self._expand_all(node.prompts))
                out.append(act.Hangup())
                return
        raise RuntimeError(f"flow {self.flow.name!r} spins at {target!r}; run ivr.flow.validate")

    def _prompt_action(self, node_id: str) -> act.Action:
        node = self.flow.nodes[node_id]
        if isinstance(node, Menu):
            return act.Gather(self._expand_all(node.prompts), 1, node.timeout_s, "", node_id)
        if isinstance(node, DigitEntry):
            return act.Gather(
                self._expand_all(node.prompts),
                node.max_digits,
                node.timeout_s,
                node.finish_on_key,
                node_id,
            )
        assert isinstance(node, Recording), f"{node_id} does not wait for the caller"
        return act.Record(node.prompt, node.max_length_s, node.finish_on_key, node_id)

    def _announce(self, item: str | ReadDigits | ReadStatus, out: list[act.Action]) -> None:
        if isinstance(item, ReadStatus):
            for line in self._s.slots.get(item.slot) or []:
                out.extend(_status_media(line))
        elif isinstance(item, ReadDigits):
            value = self._s.slots.get(item.slot)
            if value is not None and str(value):
                out.append(act.SayDigits(str(value)))
        else:
            out.extend(act.Say(p) for p in self._expand_all((item,)))

    def _expand_all(self, templates: tuple[str, ...]) -> tuple[str, ...]:
        """Fill ``{slot}`` prompt ids; a prompt whose slot is empty is skipped."""
        expanded: list[str] = []
        for template in templates:
            names = [n for _, n, _, _ in string.Formatter().parse(template) if n]
            if all(self._s.slots.get(n) is not None for n in names):
                expanded.append(template.format_map({n: self._s.slots[n] for n in names}))
        return tuple(expanded)

    def _condition(self, name: str) -> bool:
        if name == "agents_open":
            return self._s.context.agents_open
        if name == "callback_today_possible":
            try:
                local_now = datetime.fromisoformat(self._s.context.local_now_iso)
            except ValueError:
                return False  # unknown time: offer only the windows that are surely open
            return local_now.hour < self.flow.last_callback_hour
        if name == "caller_number_callable":
            return self._s.context.callback_number_known
        raise ValueError(f"unknown condition {name!r}; see ivr.flow.CONDITIONS")

    # --- effects and keeping what was given ------------------------------

    def _request(self, node: EffectStep, out: list[act.Action]) -> None:
        effect = effect_payloads.build(self.flow, self._s, node.effect, partial=False)
        if effect is None:
            out.append(act.Step(self._s.node, "", "effect_impossible"))
            self._s.reason = "effect_failed"
            self._enter(node.failed, out)
            return
        self._s.waiting = EFFECTS[node.effect].result
        out.append(effect)

    def _end(self, out: list[act.Action], how: str) -> None:
        """The call leaves the IVR (``hangup``, ``transfer``, ``goodbye``):
        send what the caller gave and was not sent."""
        out.extend(effect_payloads.unsent(self.flow, self._s, how))
        self._s.waiting = None
        self._s.ended = True


def _is_miss(event: ev.Event) -> bool:
    """A lookup result that found nothing usable (its step's ``not_found`` applies)."""
    if isinstance(event, ev.JobLookup):
        return not (event.found and event.job_id is not None)
    if isinstance(event, ev.NumberChecked):
        return not (event.valid and event.e164)
    if isinstance(event, ev.ComplaintStatus):
        return not event.complaints
    return False


def _status_media(line: dict[str, Any]) -> list[act.Action]:
    """What the caller hears about one complaint (see ``ivr.flow.ReadStatus``)."""
    out: list[act.Action] = [act.Say("status_ticket"), act.SayDigits(str(line["ticket"]))]
    if line.get("state") in COMPLAINT_STATES:  # never a prompt the catalogue lacks
        out.append(act.Say(f"state_{line['state']}"))
    if line.get("department_name") or line.get("department_code"):
        out.append(act.Say("status_department"))
        out.append(act.SayName(str(line.get("department_name") or line["department_code"]),
                               str(line.get("department_code") or "")))
    month, day = line.get("due_month"), line.get("due_day")
    if isinstance(month, int) and isinstance(day, int) and 1 <= month <= 12 and 1 <= day <= 31:
        out += [act.Say("status_due"), act.Say(f"month_{month}"), act.Say(f"day_{day}")]
    return out


def _pressed(event: ev.Event) -> str | None:
    """The keys an input event carries; None for "nothing"."""
    if isinstance(event, ev.Digits):
        keys = "".join(ch for ch in event.digits if ch in "0123456789*#")
        return keys or None
    if isinstance(event, ev.Speech):
        return spoken_keys(event.text) or None
    if isinstance(event, ev.RecordingDone):
        return "?"  # a recording where keys were expected: invalid, re-prompt
    return None
