"""What an IVR session asks the adapter to do.

Two families, both frozen dataclasses:

* media actions, which a renderer turns into TwiML or an AGI plan:
  :class:`Say`, :class:`SayDigits`, :class:`SayName`, :class:`Gather`, :class:`Record`,
  :class:`Transfer`, :class:`Hangup`;
* effects, which the adapter performs against the database:
  :class:`CreateComplaint`, :class:`LookupJob`, :class:`SaveSurvey`,
  :class:`ScheduleCallback`, :class:`CheckCallbackNumber`,
  :class:`LookupComplaintStatus`, :class:`Step`, and on outbound calls
  :class:`RecordFollowupVerdict`, :class:`ConfirmSurvey`,
  :class:`CompleteCallback`.

Guarantees:

* a batch returned by ``Session.handle`` lists effects before the media they
  lead to, in the order they must happen;
* when the session needs the result of an effect (``Session.waiting_for`` is
  not None) the batch ends with that effect and holds no ``Gather``/``Record``
  after it; the adapter performs it and feeds the result event back, then
  renders the media of both batches together;
* :class:`Step` needs no result: it records where the caller went and what
  was pressed, for the "where do callers drop out" report; the adapter adds
  the time stamp.
* :class:`CompleteCallback` needs no result either; an outbound session
  emits it once, as its last effect, when the callee hangs up or the flow
  says goodbye (never on a transfer: the callback agent who takes the call
  completes the callback by hand).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_QUEUE = "hotline-agents"


class Action:
    """Base class of everything ``Session.handle`` returns."""

    __slots__ = ()


class Effect(Action):
    """An action the adapter performs against the back office."""

    __slots__ = ()


# --- media ----------------------------------------------------------------


@dataclass(frozen=True)
class Say(Action):
    """Play one catalogue prompt in the call's language."""

    prompt_id: str
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SayDigits(Action):
    """Read a number digit by digit (ticket numbers)."""

    digits: str


@dataclass(frozen=True)
class SayName(Action):
    """Say a name the back office holds (an owner department): ``text`` where
    the carrier speaks text (Twilio), ``spelling`` letter by letter where
    only recorded prompts exist (Asterisk)."""

    text: str
    spelling: str


@dataclass(frozen=True)
class Gather(Action):
    """Play the prompts, interruptible by keys, and wait for keys.

    ``num_digits`` None means "until ``finish_on_key`` or the timeout";
    ``finish_on_key`` '' means no finishing key.
    """

    prompt_ids: tuple[str, ...]
    num_digits: int | None
    timeout_s: int
    finish_on_key: str
    node: str


@dataclass(frozen=True)
class Record(Action):
    """Play ``prompt``, beep, and record the caller."""

    prompt: str
    max_length_s: int = 120
    finish_on_key: str = "#"
    node: str = ""


@dataclass(frozen=True)
class Transfer(Action):
    """Hand the call to the agent queue; the IVR session ends here.

    ``reason`` says why (``caller_request``, ``retries_exhausted``,
    ``effect_failed``); ``path`` is the IVR path, e.g.
    ``main_menu>complaint_category>agent``.
    """

    queue: str = DEFAULT_QUEUE
    reason: str = ""
    path: str = ""


@dataclass(frozen=True)
class Hangup(Action):
    """End the call; the IVR session ends here."""


# --- effects --------------------------------------------------------------


@dataclass(frozen=True)
class CreateComplaint(Effect):
    """Open a complaint; ``partial`` when the caller left before finishing
    (no recording). Result: ``ComplaintCreated``, except for partial ones
    sent at the end of the call, whose result is ignored."""

    category: str
    recording_url: str | None
    partial: bool


@dataclass(frozen=True)
class LookupJob(Effect):
    """Find a completed service job; ``reference`` None means "the caller's
    most recent completed job". Result: ``JobLookup``."""

    reference: str | None


@dataclass(frozen=True)
class SaveSurvey(Effect):
    """Store a first-hand survey; ``grades`` maps item -> 'A'..'E'.

    ``complete`` False (fewer than three answers, or not confirmed): stored
    for the record, never counted in scores. Result: ``SurveySaved`` when
    complete, ignored otherwise."""

    job_id: int
    grades: Mapping[str, str]
    complete: bool


@dataclass(frozen=True)
class ScheduleCallback(Effect):
    """Ask for a callback in the caller's time zone. Result:
    ``CallbackScheduled``."""

    window: str  # 'today' | 'tomorrow_morning' | 'tomorrow_afternoon'
    #: the number the caller keyed in and confirmed (E.164); None: the caller ID
    phone: str | None = None


@dataclass(frozen=True)
class CheckCallbackNumber(Effect):
    """Is the number the caller keyed in one the centre can call back (valid
    in its region)? Result: ``NumberChecked``."""

    digits: str


@dataclass(frozen=True)
class LookupComplaintStatus(Effect):
    """The state of the caller's complaint ``ticket``, or (None) of the open
    complaints on the caller's own number. A ticket that is not the caller's
    is not found. Result: ``ComplaintStatus``."""

    ticket: str | None


@dataclass(frozen=True)
class Step(Effect):
    """One step of the IVR path: at ``node`` the caller pressed ``keys`` and
    this is what came of it (``selected``, ``invalid``, ``no_input``,
    ``back``, ``repeat``, ``retries_exhausted``, ``recorded``, ``hangup``,
    ...). Never needs a result."""

    node: str
    keys: str
    outcome: str


@dataclass(frozen=True)
class RememberLanguage(Effect):
    """The caller switched the call's language: keep it on their record. Needs no result."""

    language: str


@dataclass(frozen=True)
class RecordFollowupVerdict(Effect):
    """The customer's answer on a complaint follow-up call (二次回访).

    ``satisfied`` is the answer to "was your complaint resolved to your
    satisfaction?"; ``service_grade`` 'A'..'E' (None when not given).
    ``complete`` False: the service was not rated (the callee hung up or
    pressed nothing); the verdict still counts. Result: ``FollowupRecorded``
    when sent by the flow's step; ignored when sent as the call ends.
    """

    complaint_id: int
    satisfied: bool
    service_grade: str | None
    complete: bool


@dataclass(frozen=True)
class ConfirmSurvey(Effect):
    """The customer's answer on a survey verification call (001).

    ``confirmed`` True: the grades recorded on the form are right. False:
    they are not, and ``grades`` (item -> 'A'..'E', maybe empty) holds what
    the customer says they gave, for the supervisor who corrects the form.
    ``complete`` False: sent as the call ended (hang-up or transfer);
    the answer still counts. Result: ``SurveyConfirmed``, ignored then.
    """

    survey_id: int
    confirmed: bool
    grades: Mapping[str, str]
    complete: bool


@dataclass(frozen=True)
class CompleteCallback(Effect):
    """Close the callback this outbound call was made for: ``disposition``
    (``surveyed``, ``satisfied``, ``dissatisfied``, ``confirmed``,
    ``disputed``, ``partial_survey``, ``hung_up``, ``no_response``, ...) and
    ``feedback``, a short text for the callback staff and the customer's
    contact history. Never needs a result."""

    disposition: str
    feedback: str


MEDIA_ACTIONS: tuple[type[Action], ...] = (
    Say, SayDigits, SayName, Gather, Record, Transfer, Hangup)
ENDING_ACTIONS: tuple[type[Action], ...] = (Transfer, Hangup)
