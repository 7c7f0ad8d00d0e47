"""From a hotline turn to the TwiML Twilio plays next.

The IVR renderer (`ivr.render_twiml.render`) builds the XML with the
``twilio`` package; this module supplies what only the adapter knows: our
public action URLs (each carrying the IVR state version, so a replayed
webhook is recognised) and where a transfer to agents goes
(``settings.twilio_agent_dial``).

Guarantees:
- Every action URL is absolute, on ``settings.public_base_url`` (the URL
  Twilio signs), and names the version the caller's next key applies to.
- Identical turns (same media, language and version) get the same document,
  rendered once per process and kept (bounded): rendering is pure.
- `transfer_target` accepts ``client:<name>``, ``queue:<name>`` (enqueue),
  ``sip:<uri>`` and an E.164 number, and refuses anything else with a message
  naming the accepted forms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from twilio.twiml.voice_response import VoiceResponse

from callcenter.settings import Settings
from callcenter.telephony.hotline import Turn
from ivr import actions as act
from ivr.render_twiml import TransferTarget, render

GATHER_PATH = "/twilio/gather"
RECORD_PATH = "/twilio/record"
DIAL_STATUS_PATH = "/twilio/dial-status"
VERSION_PARAM = "v"
CONTENT_TYPE = "text/xml"
_DOCUMENTS_KEPT = 4096  # rendered TwiML documents a renderer keeps (then starts over)


class BadAgentDial(ValueError):
    """settings.twilio_agent_dial cannot be turned into a Twilio transfer."""


def public(settings: Settings, path: str) -> str:
    return settings.public_base_url.rstrip("/") + path


def transfer_target(dial: str, dial_action_url: str | None = None) -> TransferTarget:
    """'client:agents' / 'queue:hotline' / 'sip:agent@pbx' / '+8610...' -> TransferTarget."""
    kind, _, rest = dial.partition(":")
    if kind == "client" and rest:
        return TransferTarget("client", rest, dial_action_url)
    if kind == "queue" and rest:
        return TransferTarget("enqueue", rest, dial_action_url)
    if kind in ("sip", "sips") and rest:
        return TransferTarget("sip", dial, dial_action_url)
    if dial.startswith("+") and dial[1:].isdigit():
        return TransferTarget("number", dial, dial_action_url)
    raise BadAgentDial(
        f"TWILIO_AGENT_DIAL={dial!r} is not usable; write client:<name>, queue:<name>, "
        "sip:<uri> or an E.164 number like +861012345678"
    )


class TwimlRenderer:
    """Renders turns for one process's settings (URLs and transfer target built once)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._gather = public(settings, GATHER_PATH) + f"?{VERSION_PARAM}="
        self._record = public(settings, RECORD_PATH) + f"?{VERSION_PARAM}="
        self.transfer_to = transfer_target(
            settings.twilio_agent_dial, public(settings, DIAL_STATUS_PATH)
        )
        self._documents: dict[tuple[str, str, int, tuple[str, ...]], str] = {}

    def turn(self, turn: Turn, clients: tuple[str, ...] = ()) -> str:
        """The turn's TwiML; a transfer to a ``client:`` target rings `clients` when given."""
        return self.media(turn.media, turn.language, turn.version, clients)

    def media(self, media: Sequence[act.Action], language: str, version: int,
              clients: tuple[str, ...] = ()) -> str:
        # `render` is pure and, for this renderer, depends only on the media, the
        # language and the version (the URLs carry no call id): callers at the same
        # step of a menu share one document. Actions hold dicts (unhashable), so the
        # key is their repr: frozen dataclasses, every field shown.
        key = (repr(tuple(media)), language, version, clients)
        document = self._documents.get(key)
        if document is None:
            target = self.transfer_to
            if clients and target.kind == "client":
                target = dataclasses.replace(target, clients=clients)
            document = render(
                media,
                language=language,
                action_url=f"{self._gather}{version}",
                recording_url=f"{self._record}{version}",
                transfer_to=target,
            )
            if len(self._documents) >= _DOCUMENTS_KEPT:
                self._documents.clear()
            self._documents[key] = document
        return document

    def goodbye(self, language: str) -> str:
        """What a caller hears when the agents could not take the call."""
        return render([act.Say("goodbye_unresolved"), act.Hangup()], language=language,
                      action_url="", recording_url="")


def empty() -> str:
    """An empty TwiML document: the answer to callbacks whose body Twilio ignores."""
    return str(VoiceResponse().to_xml())


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response.to_xml())
