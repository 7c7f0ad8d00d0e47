"""Flows as data: the node kinds a hotline is built from, and the validator.

A :class:`Flow` is a table ``node id -> node``; a :class:`Menu` is itself a
table ``key -> Option(target, value)``, like h11's ``{state: {event: next}}``.
The engine in :mod:`ivr.session` interprets the table; the renderers and
``scripts/draw_ivr.py`` read the same table.

Prompt ids may name a slot, e.g. ``"grade_{grade_timeliness}"``; the session
fills it from what the caller chose, and the validator expands it with every
value a menu can store in that slot. An outbound flow also names the slots
the call's context fills (``Flow.context_slots``: the job, the ticket, the
grades on the form), with the values each may hold.

Guarantee of :func:`validate`: an empty list means every target exists, every
node is reachable from the start, every node has a way out that leads to an
agent or to a goodbye, no loop of announcements spins without waiting for the
caller, every branch condition and effect is known to the engine, and every
prompt exists in every language of the catalogue.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from ivr.prompts import LANGUAGES, has_prompt

DTMF_KEYS = "0123456789*#"
BACK_KEY = "*"
REPEAT_KEY = "9"

#: Branch conditions the engine knows how to answer from the CallerContext.
CONDITIONS = frozenset({"agents_open", "callback_today_possible", "caller_number_callable"})


class EffectKind(NamedTuple):
    """What an effect step (flow data) is to the engine: the `ivr.actions` effect it emits
    (what ``EffectFailed`` names) and the `ivr.events` result it awaits."""

    action: str
    result: str


#: Effects the engine knows how to build (`ivr.effect_payloads.build`), by their name in a flow.
EFFECTS: Mapping[str, EffectKind] = {
    "create_complaint": EffectKind("CreateComplaint", "ComplaintCreated"),
    "lookup_job": EffectKind("LookupJob", "JobLookup"),
    "save_survey": EffectKind("SaveSurvey", "SurveySaved"),
    "schedule_callback": EffectKind("ScheduleCallback", "CallbackScheduled"),
    "record_followup_verdict": EffectKind("RecordFollowupVerdict", "FollowupRecorded"),
    "confirm_survey": EffectKind("ConfirmSurvey", "SurveyConfirmed"),
    "check_callback_number": EffectKind("CheckCallbackNumber", "NumberChecked"),
    "lookup_complaint_status": EffectKind("LookupComplaintStatus", "ComplaintStatus"),
}
#: Effects whose result can be a miss (no job, an invalid number, no complaint
#: the caller may hear about): their step needs a ``not_found`` target.
LOOKUP_EFFECTS = frozenset({"lookup_job", "check_callback_number", "lookup_complaint_status"})
#: Complaint states the status read-out can speak (``state_<state>`` prompts).
COMPLAINT_STATES = ("new", "assigned", "in_progress", "resolved", "closed", "reopened")


class FlowError(ValueError):
    """The flow table is broken; the message lists every problem to fix."""


@dataclass(frozen=True)
class Option:
    """Where a key leads, and the value it stores in the menu's slot."""

    target: str
    value: str | None = None


@dataclass(frozen=True)
class ReadDigits:
    """An announcement item: read the slot's value digit by digit."""

    slot: str


@dataclass(frozen=True)
class ReadStatus:
    """An announcement item: read the complaints held in the slot (a list of
    ``ivr.events.StatusLine`` dicts): per complaint its ticket digit by digit,
    its state, its owner department and, while open, its due date."""

    slot: str


#: Every prompt a :class:`ReadStatus` item can play.
STATUS_PROMPTS: tuple[str, ...] = (
    "status_ticket", "status_department", "status_due",
    *(f"state_{state}" for state in COMPLAINT_STATES),
    *(f"month_{m}" for m in range(1, 13)),
    *(f"day_{d}" for d in range(1, 32)),
)


@dataclass(frozen=True)
class Menu:
    """Play prompts and wait for one key. ``*`` goes to ``back``; ``9``
    repeats unless it is an option; anything else re-prompts up to
    ``retries`` times, then goes to ``on_fail``."""

    prompts: tuple[str, ...]
    options: Mapping[str, Option]
    back: str
    on_fail: str
    store: str | None = None
    retries: int = 3
    timeout_s: int = 6
    clear_on_enter: tuple[str, ...] = ()


@dataclass(frozen=True)
class DigitEntry:
    """Collect a number ended by ``finish_on_key`` (job references)."""

    prompts: tuple[str, ...]
    store: str
    next: str
    back: str
    on_fail: str
    min_digits: int = 1
    max_digits: int = 12
    finish_on_key: str = "#"
    timeout_s: int = 10
    retries: int = 3
    clear_on_enter: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recording:
    """Record the caller; silence re-prompts like a missing key."""

    prompt: str
    store: str
    next: str
    back: str
    on_fail: str
    max_length_s: int = 120
    finish_on_key: str = "#"
    retries: int = 3
    clear_on_enter: tuple[str, ...] = ()


@dataclass(frozen=True)
class Announce:
    """Play prompts (and read slots digit by digit), then go on at once."""

    items: tuple[str | ReadDigits | ReadStatus, ...]
    next: str
    clear_on_enter: tuple[str, ...] = ()


@dataclass(frozen=True)
class Branch:
    """Go one way or the other on a condition the engine answers."""

    condition: str
    if_true: str
    if_false: str


@dataclass(frozen=True)
class EffectStep:
    """Ask the adapter to perform an effect and wait for its result.

    ``not_found`` applies to the effects of ``LOOKUP_EFFECTS`` (a job not
    found, a keyed number that cannot be called back, no complaint the caller
    may hear about). With ``not_found_is_retry`` the miss counts as a failed attempt at the ``not_found`` node (so a caller
    who keeps typing unknown references reaches its ``on_fail``)."""

    effect: str
    ok: str
    failed: str
    not_found: str | None = None
    not_found_prompt: str | None = None
    not_found_is_retry: bool = False
    clear_on_enter: tuple[str, ...] = ()


@dataclass(frozen=True)
class ToAgents:
    """Play prompts and transfer to the agent queue (ends the IVR)."""

    prompts: tuple[str, ...]
    queue: str = "hotline-agents"


@dataclass(frozen=True)
class EndCall:
    """Play prompts and hang up (ends the IVR). On an outbound flow,
    ``disposition`` is what the callback is recorded as when the call ends
    here without an answer from the callee (e.g. ``no_response``)."""

    prompts: tuple[str, ...]
    disposition: str | None = None


@dataclass(frozen=True)
class SwitchLanguage:
    """Switch the call to the other catalogue language (zh-CN <-> en) and go on at once;
    the adapter is told (``RememberLanguage``) so the caller's record keeps the choice."""

    next: str


Node = (Menu | DigitEntry | Recording | Announce | Branch | EffectStep | ToAgents | EndCall
        | SwitchLanguage)
WAITING_NODES = (Menu, DigitEntry, Recording, EffectStep)
ENDING_NODES = (ToAgents, EndCall)


#: the satisfaction survey's items as the IVR names them (its slots are ``grade_<item>``),
#: in the order they are asked
SURVEY_ITEMS = ("timeliness", "repair_quality", "attitude")


@dataclass(frozen=True)
class Flow:
    """A whole hotline: the node table plus the settings the engine reads."""

    name: str
    start: str
    nodes: Mapping[str, Node]
    invalid_prompt: str = "invalid_choice"
    no_input_prompt: str = "no_input"
    last_callback_hour: int = 20
    survey_items: tuple[str, ...] = SURVEY_ITEMS
    survey_slot_prefix: str = "grade_"
    extra_prompts: tuple[str, ...] = field(default=())
    #: Slots seeded from ``CallerContext.outbound`` at the start, with the
    #: values each may hold (empty: any value, e.g. a number read digit by digit).
    context_slots: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: An outbound flow: when the call ends (hang-up or goodbye, not a
    #: transfer) the session emits one ``CompleteCallback``.
    completes_callback: bool = False


def keys(table: Mapping[str, str | tuple[str, str]]) -> dict[str, Option]:
    """Write a menu as a table: ``{"1": "target"}`` or
    ``{"1": ("target", "value stored")}``."""
    out: dict[str, Option] = {}
    for key, spec in table.items():
        out[key] = Option(spec) if isinstance(spec, str) else Option(spec[0], spec[1])
    return out


def targets(node: Node) -> Iterator[tuple[str, str]]:
    """Every edge leaving ``node`` as ``(label, target)``."""
    if isinstance(node, Menu):
        for key, option in node.options.items():
            yield key, option.target
        yield "*", node.back
        yield "fail", node.on_fail
    elif isinstance(node, DigitEntry | Recording):
        yield "ok", node.next
        yield "*", node.back
        yield "fail", node.on_fail
    elif isinstance(node, Announce | SwitchLanguage):
        yield "", node.next
    elif isinstance(node, Branch):
        yield node.condition, node.if_true
        yield "not " + node.condition, node.if_false
    elif isinstance(node, EffectStep):
        yield "ok", node.ok
        yield "failed", node.failed
        if node.not_found is not None:
            yield "not found", node.not_found


def prompt_templates(node: Node) -> Iterator[str]:
    """Every prompt id (possibly a template) a node can play."""
    if isinstance(node, Menu | DigitEntry | ToAgents | EndCall):
        yield from node.prompts
    elif isinstance(node, Recording):
        yield node.prompt
    elif isinstance(node, Announce):
        for item in node.items:
            if isinstance(item, str):
                yield item
            elif isinstance(item, ReadStatus):
                yield from STATUS_PROMPTS
    elif isinstance(node, EffectStep) and node.not_found_prompt is not None:
        yield node.not_found_prompt


def slot_values(flow: Flow) -> dict[str, set[str]]:
    """For each slot a menu stores into (or the context seeds), every value it
    can hold."""
    values: dict[str, set[str]] = {
        name: set(allowed) for name, allowed in flow.context_slots.items()
    }
    for node in flow.nodes.values():
        if isinstance(node, Menu) and node.store is not None:
            for option in node.options.values():
                if option.value is not None:
                    values.setdefault(node.store, set()).add(option.value)
    return values


def expand_template(template: str, slots: Mapping[str, set[str]]) -> list[str] | None:
    """All prompt ids a template can become; None if it names an unknown slot."""
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    results = [template]
    for name in names:
        if name not in slots:
            return None
        results = [
            r.replace("{" + name + "}", value) for r in results for value in sorted(slots[name])
        ]
    return results


def validate(flow: Flow) -> list[str]:
    """Return every problem of the flow table; an empty list means sound."""
    problems: list[str] = []
    nodes = flow.nodes
    if flow.start not in nodes:
        problems.append(f"start node {flow.start!r} does not exist")
    for node_id, node in nodes.items():
        problems.extend(_node_problems(node_id, node, nodes))
    problems.extend(_prompt_problems(flow))
    if problems:
        return problems
    problems.extend(_graph_problems(flow))
    return problems


def assert_valid(flow: Flow) -> Flow:
    """Raise :class:`FlowError` listing every problem; return the flow."""
    problems = validate(flow)
    if problems:
        raise FlowError(f"flow {flow.name!r} is broken: " + "; ".join(problems))
    return flow


def _node_problems(node_id: str, node: Node, nodes: Mapping[str, Node]) -> list[str]:
    problems = [
        f"{node_id}: {label or 'next'} -> unknown node {target!r}"
        for label, target in targets(node)
        if target not in nodes
    ]
    if isinstance(node, Menu):
        if not node.options:
            problems.append(f"{node_id}: a menu needs at least one option")
        for key, option in node.options.items():
            if len(key) != 1 or key not in DTMF_KEYS or key == BACK_KEY:
                problems.append(f"{node_id}: key {key!r} is not a usable DTMF key")
            if option.value is not None and node.store is None:
                problems.append(f"{node_id}: key {key!r} stores a value but the menu has no slot")
    if isinstance(node, Menu | DigitEntry | Recording) and node.retries < 0:
        problems.append(f"{node_id}: retries must be >= 0")
    if isinstance(node, Branch) and node.condition not in CONDITIONS:
        problems.append(f"{node_id}: unknown condition {node.condition!r}")
    if isinstance(node, EffectStep):
        if node.effect not in EFFECTS:
            problems.append(f"{node_id}: unknown effect {node.effect!r}")
        if node.effect in LOOKUP_EFFECTS and node.not_found is None:
            problems.append(f"{node_id}: {node.effect} needs a not_found target")
    if isinstance(node, Menu | DigitEntry | ToAgents | EndCall) and not node.prompts:
        problems.append(f"{node_id}: nothing to say")
    return problems


def _prompt_problems(flow: Flow) -> list[str]:
    problems: list[str] = []
    slots = slot_values(flow)
    used = [flow.invalid_prompt, flow.no_input_prompt, *flow.extra_prompts]
    used_by: dict[str, str] = {p: "flow" for p in used}
    for node_id, node in flow.nodes.items():
        for template in prompt_templates(node):
            expanded = expand_template(template, slots)
            if expanded is None:
                problems.append(f"{node_id}: prompt {template!r} names a slot no menu fills")
                continue
            for prompt_id in expanded:
                used_by.setdefault(prompt_id, node_id)
    for prompt_id, where in used_by.items():
        for language in LANGUAGES:
            if not has_prompt(prompt_id, language):
                problems.append(f"{where}: prompt {prompt_id!r} has no {language} text")
    return problems


def _graph_problems(flow: Flow) -> list[str]:
    problems: list[str] = []
    edges = {node_id: [t for _, t in targets(node)] for node_id, node in flow.nodes.items()}
    seen = {flow.start}
    todo = [flow.start]
    while todo:
        for target in edges[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    problems += [f"{n}: unreachable from {flow.start!r}" for n in flow.nodes if n not in seen]
    # Every node must reach a transfer or a goodbye.
    reverse: dict[str, list[str]] = {n: [] for n in flow.nodes}
    for source, outs in edges.items():
        for target in outs:
            reverse[target].append(source)
    exits = {n for n, node in flow.nodes.items() if isinstance(node, ENDING_NODES)}
    todo = list(exits)
    while todo:
        for source in reverse[todo.pop()]:
            if source not in exits:
                exits.add(source)
                todo.append(source)
    problems += [f"{n}: no way out to an agent or a goodbye" for n in flow.nodes if n not in exits]
    problems += _spinning_loops(flow, edges)
    return problems


def _spinning_loops(flow: Flow, edges: Mapping[str, list[str]]) -> list[str]:
    """Loops of announcements/branches only would spin without the caller."""
    passing = {n for n, node in flow.nodes.items()
               if isinstance(node, Announce | Branch | SwitchLanguage)}
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    problems: list[str] = []

    def visit(node_id: str) -> None:
        state[node_id] = 1
        for target in edges[node_id]:
            if target not in passing:
                continue
            if state.get(target) == 1:
                problems.append(f"{node_id}: loops back to {target!r} without waiting")
            elif target not in state:
                visit(target)
        state[node_id] = 2

    for node_id in sorted(passing):
        if node_id not in state:
            visit(node_id)
    return problems
