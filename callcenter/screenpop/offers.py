"""What a carrier tells us when it rings an agent, and how we name the agent.

Guarantees:
- `CallOffer` is carrier-neutral: Asterisk (AMI AgentCalled) and Twilio (agent
  dial) build the same object.
- `agent_keys` turns whatever the carrier calls the agent into the names we
  look up in `staff.extension` / `staff.username`: "PJSIP/1001",
  "SIP/1001-0000002a", "Local/1001@agents/n" -> "1001"; "client:agent-wu" ->
  "agent-wu"; the raw text is always tried too.
- Agent statuses are the strings stored in `agent_states.status`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from crm.agent_states import AgentState
from crm.errors import aware_utc

AgentStatus = AgentState  # the states and their rules live in crm.agent_states


@dataclass(frozen=True)
class CallOffer:
    carrier: str  # "asterisk" | "twilio"
    carrier_call_id: str  # Asterisk Linkedid / Twilio parent CallSid
    caller_number: str  # as the carrier gave it (any format, may be "anonymous")
    agent: str  # extension, "PJSIP/1001", "Local/1001@agents", "client:agent-wu", username
    queue: str | None
    ivr_path: str | None  # e.g. "main>complaint>repair_quality"
    at: datetime  # when the agent's phone started ringing (aware)

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", aware_utc(self.at, "offer.at"))

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


_CHANNEL_SUFFIX = re.compile(r"-[0-9a-fA-F]{6,}(;\d+)?$")


def agent_keys(agent: str) -> list[str]:
    """Names to look the agent up by, most specific first (never empty for non-blank input)."""
    raw = agent.strip()
    keys = [raw]
    text = raw
    if text.lower().startswith("client:"):
        text = text[len("client:"):]
    elif "/" in text:
        tech, _, rest = text.partition("/")
        text = rest
        if tech.lower() == "local":
            text = text.split("@", 1)[0]
        text = _CHANNEL_SUFFIX.sub("", text.split("/", 1)[0])
    text = text.strip()
    if text and text not in keys:
        keys.append(text)
    return [k for k in keys if k]


def message(kind: str, **fields: Any) -> dict[str, Any]:
    """A message for the agent page: {"type": kind, ...}."""
    return {"type": kind, **fields}
