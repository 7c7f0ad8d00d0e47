"""AMI actions we send, and builders for the ones the call center uses.

Guarantees:

- ``Action.encode()`` gives ``Action: Name\\r\\nActionID: id\\r\\n``, then every
  field in order (a key may repeat, e.g. ``Variable``), then ``\\r\\n``; UTF-8.
- A CR, LF or NUL in any name, key or value, an empty ActionID or a key with
  a colon raises ``LocalProtocolError`` when the action is built.
- ActionIDs are chosen by the caller (e.g. a counter or uuid in the AMI
  client); nothing here reads a clock or a random source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from callcenter.telephony.asterisk.errors import LocalProtocolError

_BAD_TEXT = re.compile(r"[\r\n\x00]")
_KEY = re.compile(r"[A-Za-z0-9_()\-.]+")

Fields = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Action:
    name: str
    action_id: str
    fields: Fields = ()

    def __post_init__(self) -> None:
        if not _KEY.fullmatch(self.name):
            raise LocalProtocolError(f"AMI action name {self.name!r} is not a plain word")
        if not self.action_id or _BAD_TEXT.search(self.action_id):
            raise LocalProtocolError(f"ActionID {self.action_id!r} must be non-empty, one line")
        for key, value in self.fields:
            if not _KEY.fullmatch(key) or key.lower() in ("action", "actionid"):
                raise LocalProtocolError(f"AMI field name {key!r} is not allowed")
            if _BAD_TEXT.search(value):
                raise LocalProtocolError(f"AMI field {key} has CR, LF or NUL in its value")

    def get_all(self, key: str) -> list[str]:
        folded = key.lower()
        return [value for k, value in self.fields if k.lower() == folded]

    def encode(self) -> bytes:
        lines = [f"Action: {self.name}", f"ActionID: {self.action_id}"]
        lines += [f"{key}: {value}" for key, value in self.fields]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _variables(variables: Mapping[str, str] | Iterable[tuple[str, str]]) -> Fields:
    pairs = variables.items() if isinstance(variables, Mapping) else variables
    fields: list[tuple[str, str]] = []
    for name, value in pairs:
        if not name or "=" in name or _BAD_TEXT.search(name):
            raise LocalProtocolError(f"channel variable name {name!r} is not allowed")
        fields.append(("Variable", f"{name}={value}"))
    return tuple(fields)


def login(action_id: str, username: str, secret: str, events: str | None = None) -> Action:
    """``events``: ``"on"``, ``"off"`` or a class list like ``"call,agent"``."""
    fields: list[tuple[str, str]] = [("Username", username), ("Secret", secret)]
    if events is not None:
        fields.append(("Events", events))
    return Action("Login", action_id, tuple(fields))


def ping(action_id: str) -> Action:
    return Action("Ping", action_id)


def logoff(action_id: str) -> Action:
    return Action("Logoff", action_id)


def core_show_channels(action_id: str) -> Action:
    return Action("CoreShowChannels", action_id)


def command(action_id: str, cli_command: str) -> Action:
    return Action("Command", action_id, (("Command", cli_command),))


def format_caller_id(name: str, number: str) -> str:
    """``"name" <number>``, as Originate's CallerID wants it."""
    if '"' in name or "<" in number or ">" in number:
        raise LocalProtocolError("caller name may not hold '\"', number not '<' or '>'")
    return f'"{name}" <{number}>'


def originate(
    action_id: str,
    channel: str,
    *,
    context: str | None = None,
    exten: str | None = None,
    priority: int | None = None,
    application: str | None = None,
    data: str | None = None,
    caller_id: str | None = None,
    timeout_ms: int | None = None,
    channel_id: str | None = None,
    other_channel_id: str | None = None,
    account: str | None = None,
    variables: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    async_: bool = True,
) -> Action:
    """Originate to a dialplan location (context/exten/priority) or an application.

    ``channel_id`` becomes the Uniqueid (and Linkedid) of the first channel,
    ``other_channel_id`` the Uniqueid of the ``;2`` half of a Local channel.
    """
    if (application is None) == (context is None and exten is None):
        raise LocalProtocolError("Originate needs either context/exten/priority or application")
    optional: list[tuple[str, str | None]] = [
        ("Context", context),
        ("Exten", exten),
        ("Priority", None if priority is None else str(priority)),
        ("Application", application),
        ("Data", data),
        ("Timeout", None if timeout_ms is None else str(timeout_ms)),
        ("CallerID", caller_id),
        ("Account", account),
        ("Async", "true" if async_ else None),
        ("ChannelId", channel_id),
        ("OtherChannelId", other_channel_id),
    ]
    fields = (("Channel", channel),) + tuple((k, v) for k, v in optional if v is not None)
    return Action("Originate", action_id, fields + _variables(variables))


def queue_add(
    action_id: str,
    queue: str,
    interface: str,
    *,
    member_name: str | None = None,
    penalty: int | None = None,
    paused: bool | None = None,
    state_interface: str | None = None,
) -> Action:
    optional: list[tuple[str, str | None]] = [
        ("MemberName", member_name),
        ("Penalty", None if penalty is None else str(penalty)),
        ("Paused", None if paused is None else ("true" if paused else "false")),
        ("StateInterface", state_interface),
    ]
    fields = (("Queue", queue), ("Interface", interface))
    return Action(
        "QueueAdd", action_id, fields + tuple((k, v) for k, v in optional if v is not None)
    )


def queue_remove(action_id: str, queue: str, interface: str) -> Action:
    return Action("QueueRemove", action_id, (("Queue", queue), ("Interface", interface)))


def queue_pause(action_id: str, queue: str, interface: str, paused: bool, reason: str = "") -> Action:
    fields: Fields = (("Queue", queue), ("Interface", interface),
                      ("Paused", "true" if paused else "false"))
    return Action("QueuePause", action_id, fields + ((("Reason", reason),) if reason else ()))


def queue_status(action_id: str, queue: str) -> Action:
    """A list action: one ``QueueParams``, a ``QueueMember`` per member, ``QueueEntry`` per caller."""
    return Action("QueueStatus", action_id, (("Queue", queue),))
