"""Render one batch of IVR actions as a TwiML document (Twilio carrier).

Pure: builds the XML with ``twilio.twiml.voice_response`` (never by string
concatenation) and returns it; no HTTP, no clock.

Guarantees:

* prompts inside a ``Gather`` are nested ``<Say>`` elements, so a key press
  interrupts them; ``<Gather input="dtmf" actionOnEmptyResult="true">`` posts
  to ``action_url`` even when nothing was pressed (the adapter then feeds
  ``Digits('')``);
* ``Record`` becomes ``<Say>`` + ``<Record maxLength finishOnKey playBeep
  action=recording_url>`` followed by a ``<Redirect>`` to ``recording_url``,
  so silence also comes back (without ``RecordingUrl``: feed
  ``RecordingDone('', 0)``);
* ``Transfer`` goes where the adapter says (:class:`TransferTarget`): by
  default ``<Enqueue>`` into the action's queue; ``<Dial>`` to a queue,
  client, SIP URI or number otherwise; ``conference``: ``<Dial><Conference>``
  named ``address``, the caller waiting (``startConferenceOnEnter=false``, the
  wait music from ``wait_url``) until an agent the adapter rings joins, the
  conference's events (join, leave, hold) posted to ``status_callback``;
* effects and ``Step`` are the adapter's job and render nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from ivr import actions as act
from ivr.prompts import normalize_language, prompt_text

#: Twilio ``<Say language>`` per catalogue language.
SAY_LANGUAGES: Mapping[str, str] = {"zh-CN": "zh-CN", "en": "en-US"}
#: Default ``<Say voice>`` per catalogue language (Amazon Polly voices).
DEFAULT_VOICES: Mapping[str, str] = {"zh-CN": "Polly.Zhiyu", "en": "Polly.Joanna"}


@dataclass(frozen=True)
class TransferTarget:
    """Where a ``Transfer`` goes on Twilio.

    ``enqueue`` puts the caller in a TaskRouter/Twilio queue named
    ``address`` (or the action's queue when empty); ``queue``, ``client``,
    ``sip`` and ``number`` ``<Dial>`` that noun with ``address``.
    """

    kind: Literal["enqueue", "queue", "client", "sip", "number", "conference"] = "enqueue"
    address: str = ""
    dial_action_url: str | None = None
    wait_url: str | None = None
    #: ``client``: ring these identities at once instead of ``address`` (the ready agents)
    clients: tuple[str, ...] = ()
    #: ``conference``: where Twilio posts the conference's status events
    status_callback: str | None = None


def render(
    actions: Sequence[act.Action],
    *,
    language: str,
    action_url: str,
    recording_url: str,
    voice: str | None = None,
    transfer_to: TransferTarget | None = None,
    method: str = "POST",
) -> str:
    """TwiML for the media actions of one turn, in order."""
    lang = normalize_language(language)
    speaker = _Speaker(lang, voice or DEFAULT_VOICES[lang])
    response = VoiceResponse()
    for action in actions:
        if isinstance(action, act.Say):
            speaker.say(response, prompt_text(action.prompt_id, lang, action.params))
        elif isinstance(action, act.SayDigits):
            speaker.say(response, " ".join(action.digits))
        elif isinstance(action, act.SayName):
            speaker.say(response, action.text)
        elif isinstance(action, act.Gather):
            _gather(response, action, speaker, action_url, method)
        elif isinstance(action, act.Record):
            speaker.say(response, prompt_text(action.prompt, lang))
            response.record(
                action=recording_url,
                method=method,
                max_length=action.max_length_s,
                finish_on_key=action.finish_on_key,
                play_beep=True,
            )
            response.redirect(recording_url, method=method)
        elif isinstance(action, act.Transfer):
            _transfer(response, action, transfer_to or TransferTarget())
        elif isinstance(action, act.Hangup):
            response.hangup()
    return str(response.to_xml())


@dataclass(frozen=True)
class _Speaker:
    language: str
    voice: str

    def say(self, parent: VoiceResponse | Gather, text: str) -> None:
        parent.say(text, language=SAY_LANGUAGES[self.language], voice=self.voice)


def _gather(
    response: VoiceResponse, action: act.Gather, speaker: _Speaker, action_url: str, method: str
) -> None:
    gather = response.gather(
        input="dtmf",
        action=action_url,
        method=method,
        num_digits=action.num_digits,
        timeout=action.timeout_s,
        finish_on_key=action.finish_on_key,
        action_on_empty_result=True,
    )
    for prompt_id in action.prompt_ids:
        speaker.say(gather, prompt_text(prompt_id, speaker.language))


def _transfer(response: VoiceResponse, action: act.Transfer, target: TransferTarget) -> None:
    address = target.address or action.queue
    if target.kind == "enqueue":
        response.enqueue(address, action=target.dial_action_url, wait_url=target.wait_url)
        return
    dial = Dial(action=target.dial_action_url)
    if target.kind == "conference":
        dial.conference(
            address, start_conference_on_enter=False, end_conference_on_exit=True, beep=False,
            wait_url=target.wait_url, wait_method="POST", participant_label="caller",
            status_callback=target.status_callback, status_callback_method="POST",
            status_callback_event="start end join leave hold",
        )
    elif target.kind == "queue":
        dial.queue(address)
    elif target.kind == "client":
        for identity in target.clients or (address,):
            dial.client(identity)
    elif target.kind == "sip":
        dial.sip(address)
    else:
        dial.number(address)
    response.append(dial)
