"""Everything one call has said and done so far, and its JSON form.

Guarantee: ``CallState.from_json(flow, state.to_json(flow))`` equals the
state; JSON from another flow (by name), another state version, or a node
the flow does not have raises :class:`SessionError`, never a half-built
state. The caller's context travels with the state, so any process can
continue any call. State stored before outbound flows existed (no ``sent``,
no ``context.outbound``) still loads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ivr.events import CallerContext
from ivr.flow import EffectStep, Flow

STATE_VERSION = 1
#: Clearing this slot starts a new complaint (and re-arms "send it once").
COMPLAINT_KEY_SLOT = "category"
#: Clearing this slot starts a new survey (and re-arms "send it once").
SURVEY_KEY_SLOT = "job_id"


class SessionError(ValueError):
    """The adapter misused the session (an event before ``Start``, or state
    JSON from another flow); fix the adapter, do not retry."""


@dataclass
class CallState:
    """The mutable state of one call; the session is its only writer."""

    node: str
    started: bool = False
    ended: bool = False
    waiting: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    reason: str = "caller_request"
    complaint_sent: bool = False
    survey_sent: bool = False
    context: CallerContext = field(default_factory=CallerContext)
    #: Once-per-call effects already sent (``followup``, ``verification``,
    #: ``callback``).
    sent: list[str] = field(default_factory=list)

    def clear(self, slot: str) -> None:
        self.slots.pop(slot, None)
        if slot == COMPLAINT_KEY_SLOT:
            self.complaint_sent = False
        if slot == SURVEY_KEY_SLOT:
            self.survey_sent = False

    def grades(self, flow: Flow) -> dict[str, str]:
        """The survey answers given so far, item -> 'A'..'E'."""
        prefix = flow.survey_slot_prefix
        return {
            item: str(self.slots[prefix + item])
            for item in flow.survey_items
            if self.slots.get(prefix + item) is not None
        }

    def to_json(self, flow: Flow) -> str:
        return json.dumps(
            {
                "v": STATE_VERSION,
                "flow": flow.name,
                "node": self.node,
                "started": self.started,
                "ended": self.ended,
                "waiting": self.waiting,
                "slots": self.slots,
                "failures": self.failures,
                "path": self.path,
                "reason": self.reason,
                "complaint_sent": self.complaint_sent,
                "survey_sent": self.survey_sent,
                "context": self.context.to_dict(),
                "sent": self.sent,
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, flow: Flow, data: str) -> CallState:
        try:
            raw = json.loads(data)
            if not isinstance(raw, dict):
                raise SessionError("session state must be a JSON object")
            if raw.get("v") != STATE_VERSION or raw.get("flow") != flow.name:
                raise SessionError(f"state is not version {STATE_VERSION} of flow {flow.name!r}")
            if raw["node"] not in flow.nodes:
                raise SessionError(f"state names node {raw['node']!r}, not in {flow.name!r}")
            waiting = raw["waiting"]
            if waiting is not None and not isinstance(flow.nodes[raw["node"]], EffectStep):
                raise SessionError(f"state waits for {waiting!r} outside an effect step")
            return cls(
                node=str(raw["node"]),
                started=bool(raw["started"]),
                ended=bool(raw["ended"]),
                waiting=None if waiting is None else str(waiting),
                slots=dict(raw["slots"]),
                failures={str(k): int(v) for k, v in raw["failures"].items()},
                path=[str(p) for p in raw["path"]],
                reason=str(raw["reason"]),
                complaint_sent=bool(raw["complaint_sent"]),
                survey_sent=bool(raw["survey_sent"]),
                context=CallerContext.from_dict(dict(raw["context"])),
                sent=[str(name) for name in raw.get("sent", [])],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, SessionError):
                raise
            raise SessionError(f"unreadable session state: {exc}") from exc
