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
- A transfer to ``client:`` agents bridges through a conference named for the
  call and the queue (`conference_name`): the caller waits in it with the hold
  music, the agents are rung into it over REST (`conference`), and its events
  come back to ``/twilio/conference``. That is what lets the agent put the
  caller on hold. Every agent hand-off's action URL names its queue
  (``/twilio/dial-status?queue=``), so a late action of a queue the caller has
  since left is recognised.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

from callcenter.hotline.turns import Turn
from callcenter.settings import Settings
from ivr import actions as act
from ivr.prompts import normalize_language, prompt_text
from ivr.render_twiml import DEFAULT_VOICES, SAY_LANGUAGES, TransferTarget, render

GATHER_PATH = "/twilio/gather"
RECORD_PATH = "/twilio/record"
DIAL_STATUS_PATH = "/twilio/dial-status"
CONFERENCE_PATH = "/twilio/conference"
AGENT_LEG_PATH = "/twilio/agent-leg"
HOLD_MUSIC_PATH = "/twilio/hold-music"
REQUEUE_PATH = "/twilio/requeue"
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


def conference_name(call_sid: str, queue: str) -> str:
    """The conference a caller waits and talks in while in `queue` (one per queue visit)."""
    return f"{call_sid}~{queue}"


def with_query(url: str, **params: str | tuple[str, ...]) -> str:
    """`url` with `params` added (a tuple: the key once per value)."""
    return url + ("&" if "?" in url else "?") + urlencode(params, doseq=True)


class TwimlRenderer:
    """Renders turns for one process's settings (URLs and transfer target built once)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._gather = public(settings, GATHER_PATH) + f"?{VERSION_PARAM}="
        self._record = public(settings, RECORD_PATH) + f"?{VERSION_PARAM}="
        self.transfer_to = transfer_target(
            settings.twilio_agent_dial, public(settings, DIAL_STATUS_PATH)
        )
        self._documents: dict[tuple[str, str, int, tuple[str, ...], str], str] = {}

    @property
    def conferences(self) -> bool:
        """Agents are ``client:`` identities: callers reach them through a conference."""
        return self.transfer_to.kind == "client" and self.settings.twilio_conference

    def turn(self, turn: Turn, clients: tuple[str, ...] = (), call_sid: str = "") -> str:
        """The turn's TwiML; a transfer to a ``client:`` target rings `clients` when given
        (without a conference; with `call_sid`, the caller waits in the call's conference and
        `clients` are rung into it, none: the configured identity)."""
        return self.media(turn.media, turn.language, turn.version, clients, call_sid)

    def queue_move(self, call_sid: str, queue: str, language: str,
                   clients: tuple[str, ...] = ()) -> str:
        """The TwiML of a caller moved to `queue` (an agent's transfer): told, then handed on."""
        return self.media([act.Say("agent_transfer"), act.Transfer(queue=queue)], language, 0,
                          clients, call_sid)

    def hold_music(self, language: str) -> str:
        """What a caller hears waiting for an agent or on hold: a word, a pause, again."""
        lang = normalize_language(language)
        response = VoiceResponse()
        response.say(prompt_text("agent_transfer", lang), language=SAY_LANGUAGES[lang],
                     voice=DEFAULT_VOICES[lang])
        response.pause(length=20)
        response.redirect(public(self.settings, HOLD_MUSIC_PATH), method="POST")
        return str(response.to_xml())

    def _target(self, media: Sequence[act.Action], clients: tuple[str, ...],
                call_sid: str) -> TransferTarget:
        target = self.transfer_to
        transfer = next((m for m in media if isinstance(m, act.Transfer)), None)
        if transfer is None:
            return target
        queue = transfer.queue  # the call's queue (calls.queue, its segments)
        action = with_query(public(self.settings, DIAL_STATUS_PATH), queue=queue)
        if self.conferences and call_sid:  # `clients`: whom to ring once the caller waits
            return TransferTarget(
                "conference", conference_name(call_sid, queue), action,
                wait_url=public(self.settings, HOLD_MUSIC_PATH),
                status_callback=with_query(public(self.settings, CONFERENCE_PATH),
                                           queue=queue, call=call_sid, ring=clients))
        if clients and target.kind == "client":
            target = dataclasses.replace(target, clients=clients)
        return dataclasses.replace(target, dial_action_url=action)

    def media(self, media: Sequence[act.Action], language: str, version: int,
              clients: tuple[str, ...] = (), call_sid: str = "") -> str:
        # `render` is pure and, for this renderer, depends only on the media, the
        # language and the version (the URLs carry no call id, but a conference is
        # the call's own): callers at the same step of a menu share one document. Actions hold dicts (unhashable), so the
        # key is their repr: frozen dataclasses, every field shown.
        has_transfer = any(isinstance(m, act.Transfer) for m in media)
        key = (repr(tuple(media)), language, version, clients, call_sid if has_transfer else "")
        document = self._documents.get(key)
        if document is None:
            target = self._target(media, clients, call_sid)
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
