"""The vocabulary shared by every package: states, grades, roles, outcomes.

Values are the strings stored in the database and sent over the API, so they
never change once released; add new members, never rename old ones.
"""

from __future__ import annotations

from enum import StrEnum


class Carrier(StrEnum):
    ASTERISK = "asterisk"
    TWILIO = "twilio"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallDisposition(StrEnum):
    """Outcome of one customer call (kpi.md: call outcomes)."""

    IN_PROGRESS = "in_progress"
    IVR_ONLY = "ivr_only"
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    TIMEOUT = "timeout"
    OVERFLOW = "overflow"
    # outbound dial outcomes
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    FAILED = "failed"
    CANCELED = "canceled"


class DialOutcome(StrEnum):
    """What a carrier says about one outbound attempt."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    FAILED = "failed"


class ValueGrade(StrEnum):
    """Customer value (000, after Peppers and Rogers)."""

    MVC = "MVC"  # most valuable
    MGC = "MGC"  # most growable
    BZ = "BZ"  # below zero
    NORMAL = "normal"


class Role(StrEnum):
    AGENT = "agent"
    TECHNICIAN = "technician"
    CALLBACK_STAFF = "callback_staff"
    MANAGER = "manager"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class ContactKind(StrEnum):
    CALL = "call"
    VISIT = "visit"
    NOTE = "note"
    FORM = "form"


class Grade(StrEnum):
    """Survey item grade; 1..5 on the keypad maps to A..E (001)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"


class SurveySource(StrEnum):
    IVR = "ivr"  # first-hand: the customer keyed it in
    AGENT = "agent"  # keyed in by an agent on the customer's behalf
    PAPER = "paper"  # a paper form typed in
    CALLBACK = "callback"  # answered during an outbound callback flow


class SurveyVerification(StrEnum):
    FIRST_HAND = "first_hand"  # IVR surveys: count as verified
    PENDING = "pending"
    VERIFIED = "verified"
    DISPUTED = "disputed"


class ComplaintState(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


class ComplaintCategory(StrEnum):
    REPAIR_QUALITY = "repair_quality"
    ATTITUDE = "attitude"
    TIMELINESS = "timeliness"
    BILLING = "billing"
    OTHER = "other"


class ComplaintChannel(StrEnum):
    PHONE_IVR = "phone_ivr"
    AGENT = "agent"
    WEB_FORM = "web_form"
    CALLBACK = "callback"


class Severity(StrEnum):
    ORDINARY = "ordinary"
    MAJOR = "major"


class MajorReason(StrEnum):
    """Why a complaint is major (002), kept on the complaint."""

    VIP_HIGH_SPEND = "vip_high_spend"
    VIP_OFFICIAL = "vip_official"
    VIP_PUBLIC_FIGURE = "vip_public_figure"
    VIP_JOURNALIST = "vip_journalist"
    EMOTIONAL = "emotional"
    LARGE_COMPENSATION = "large_compensation"
    REPEAT = "repeat"
    REOPENED = "reopened"
    OVERDUE = "overdue"
    CONTRADICTORY_ANSWERS = "contradictory_answers"
    MEDIA_THREAT = "media_threat"
    PASSED_AROUND = "passed_around"  # 踢皮球: handed over too often, or across departments
    DISRESPECT = "disrespect"  # staff did not respect the customer (agent flag or keyword)
    GROUP = "group"  # several customers about the same job, product or site (群体性投诉)


class Verdict(StrEnum):
    """The customer's verdict on a resolution, from the follow-up call."""

    SATISFIED = "satisfied"
    DISSATISFIED = "dissatisfied"
    UNREACHED = "unreached"


class CallbackKind(StrEnum):
    POST_REPAIR = "post_repair"
    COMPLAINT_FOLLOWUP = "complaint_followup"
    REQUESTED = "requested"
    SURVEY_VERIFICATION = "survey_verification"
    CAMPAIGN = "campaign"


class CallbackState(StrEnum):
    SCHEDULED = "scheduled"
    CLAIMED = "claimed"
    DIALING = "dialing"
    IN_CALL = "in_call"
    COMPLETED = "completed"
    RETRY_WAIT = "retry_wait"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # claim expired mid-dial: reconcile with the carrier
    #: a supervision callback with no trustworthy number to dial (`crm.callback_numbers`):
    #: never dialled; the supervision staff see it with the reason
    HELD = "held"


class CallbackWindow(StrEnum):
    """What a caller chose on the IVR callback menu."""

    TODAY = "today"
    TOMORROW_MORNING = "tomorrow_morning"
    TOMORROW_AFTERNOON = "tomorrow_afternoon"


class LeadState(StrEnum):
    OPEN = "open"
    CONTACTED = "contacted"
    QUOTED = "quoted"
    WON = "won"
    LOST = "lost"
