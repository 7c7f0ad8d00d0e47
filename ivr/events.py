"""What the caller and the back office tell an IVR session.

Every event is a frozen dataclass, like h11's ``_events``. Two families:

* caller events, which the carrier adapter translates from Twilio webhooks or
  AGI replies: :class:`Start`, :class:`Digits`, :class:`Timeout`,
  :class:`Speech`, :class:`RecordingDone`, :class:`Hangup`;
* result events, which the adapter feeds back after performing an effect the
  session asked for: :class:`ComplaintCreated`, :class:`JobLookup`,
  :class:`SurveySaved`, :class:`CallbackScheduled`, :class:`FollowupRecorded`,
  :class:`SurveyConfirmed`, :class:`NumberChecked`,
  :class:`ComplaintStatus`, :class:`EffectFailed`.

Guarantee: events carry plain data only (str, int, bool, None), so a session
can store them in JSON and never needs a clock, a socket or a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_LANGUAGE = "zh-CN"


@dataclass(frozen=True)
class CallerContext:
    """What the adapter knows about the caller when the call starts.

    ``local_now_iso`` is the caller's local wall-clock time as an ISO 8601
    string (the adapter reads the clock; the IVR never does).

    ``outbound`` is set on an outbound call only: what the call is about, as
    plain values (str, int, None) keyed by slot name, e.g. ``callback_id``,
    ``job_id``, ``job_reference``, ``ticket``, ``complaint_id``,
    ``survey_id``, ``recorded_timeliness``. The flow's ``context_slots`` are
    seeded from it when the call starts.
    """

    caller_known: bool = False
    customer_tz: str = "Asia/Shanghai"
    language: str = DEFAULT_LANGUAGE
    last_job_reference: str | None = None
    last_job_id: int | None = None
    agents_open: bool = True
    local_now_iso: str = ""
    outbound: dict[str, Any] | None = None
    #: The number the call came from can be called back (it is a valid number
    #: of the centre's region). False for a withheld, foreign or unparseable
    #: caller ID: the caller keys in a number to be called back on.
    callback_number_known: bool = True

    def __post_init__(self) -> None:
        for key, value in (self.outbound or {}).items():
            if not isinstance(key, str) or not (value is None or isinstance(value, str | int)):
                raise ValueError(
                    f"outbound context {key!r} must map a name to str, int or None, not {value!r}"
                )

    def to_dict(self) -> dict[str, Any]:
        # by hand: dataclasses.asdict deep-copies every value, on every IVR turn
        return {
            "caller_known": self.caller_known, "customer_tz": self.customer_tz,
            "language": self.language, "last_job_reference": self.last_job_reference,
            "last_job_id": self.last_job_id, "agents_open": self.agents_open,
            "local_now_iso": self.local_now_iso,
            "outbound": None if self.outbound is None else dict(self.outbound),
            "callback_number_known": self.callback_number_known,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallerContext:
        return cls(
            caller_known=bool(data.get("caller_known", False)),
            customer_tz=str(data.get("customer_tz", "Asia/Shanghai")),
            language=str(data.get("language", DEFAULT_LANGUAGE)),
            last_job_reference=data.get("last_job_reference"),
            last_job_id=data.get("last_job_id"),
            agents_open=bool(data.get("agents_open", True)),
            local_now_iso=str(data.get("local_now_iso", "")),
            outbound=_plain_dict(data.get("outbound")),
            callback_number_known=bool(data.get("callback_number_known", True)),
        )


def _plain_dict(value: Any) -> dict[str, Any] | None:
    """An ``outbound`` mapping as read from JSON; absent (state stored before
    outbound calls existed) or null is None."""
    return None if value is None else dict(value)


class Event:
    """Base class of everything ``Session.handle`` accepts."""

    __slots__ = ()


@dataclass(frozen=True)
class Start(Event):
    """The call begins."""

    context: CallerContext


@dataclass(frozen=True)
class Digits(Event):
    """Keys the caller pressed; ``''`` means the carrier got nothing."""

    digits: str


@dataclass(frozen=True)
class Timeout(Event):
    """The caller pressed nothing before the carrier gave up waiting."""


@dataclass(frozen=True)
class Speech(Event):
    """What a speech recogniser heard; spoken digits count as keys."""

    text: str


@dataclass(frozen=True)
class RecordingDone(Event):
    """A recording finished; an empty path or zero duration means silence."""

    url_or_path: str
    duration_s: int


@dataclass(frozen=True)
class Hangup(Event):
    """The caller hung up."""


@dataclass(frozen=True)
class ComplaintCreated(Event):
    """Result of ``CreateComplaint``: the ticket number to read back."""

    ticket: str


@dataclass(frozen=True)
class JobLookup(Event):
    """Result of ``LookupJob``."""

    found: bool
    job_id: int | None = None
    reference: str | None = None


@dataclass(frozen=True)
class SurveySaved(Event):
    """Result of ``SaveSurvey``."""

    survey_id: int


@dataclass(frozen=True)
class CallbackScheduled(Event):
    """Result of ``ScheduleCallback``."""

    callback_id: int
    due_local_iso: str


@dataclass(frozen=True)
class FollowupRecorded(Event):
    """Result of ``RecordFollowupVerdict``: ``reopened`` when the customer's
    "not satisfied" sent the complaint back to work."""

    reopened: bool


@dataclass(frozen=True)
class SurveyConfirmed(Event):
    """Result of ``ConfirmSurvey``: the survey's verification now
    (``"verified"`` or ``"disputed"``)."""

    verification: str


@dataclass(frozen=True)
class NumberChecked(Event):
    """Result of ``CheckCallbackNumber``: ``valid`` when the keyed number can
    be called back in the centre's region; ``e164`` is its normalised form."""

    valid: bool
    e164: str | None = None


@dataclass(frozen=True)
class StatusLine:
    """One complaint as the caller may hear it: ``state`` is a complaint state
    (``new`` ... ``reopened``), the owner department's ``department_name``
    (spoken by text-to-speech) and ``department_code`` (spelled where only
    recorded prompts exist), the due date as month and day in the caller's
    zone (None once resolved or without a time limit)."""

    ticket: str
    state: str
    department_name: str = ""
    department_code: str = ""
    due_month: int | None = None
    due_day: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ticket": self.ticket, "state": self.state,
                "department_name": self.department_name,
                "department_code": self.department_code,
                "due_month": self.due_month, "due_day": self.due_day}


@dataclass(frozen=True)
class ComplaintStatus(Event):
    """Result of ``LookupComplaintStatus``: the complaints the caller may hear
    about (empty: not found, or not the caller's: say only that)."""

    complaints: tuple[StatusLine, ...] = ()


@dataclass(frozen=True)
class EffectFailed(Event):
    """The adapter could not perform an effect; ``effect`` is the action's
    class name (``"CreateComplaint"``, ``"LookupJob"``, ...)."""

    effect: str
    reason: str = ""


RESULT_EVENTS: tuple[type[Event], ...] = (
    ComplaintCreated,
    JobLookup,
    SurveySaved,
    CallbackScheduled,
    FollowupRecorded,
    SurveyConfirmed,
    NumberChecked,
    ComplaintStatus,
    EffectFailed,
)
