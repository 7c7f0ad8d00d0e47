"""The ports of the callback use cases: what they read and write, and how they dial.

`CallbackRepository` is implemented by
`callcenter.storage.repositories.callbacks.SqlCallbackRepository`; `Dialer` by
each carrier adapter (Asterisk AMI Originate, Twilio calls.create) and by the
fake carriers of the tests.

Guarantees of every `Dialer`:

- `dial` is called only after the callback is committed as `dialing` with the
  attempt row whose id is `DialRequest.attempt_id`; the adapter must hand that
  id to the carrier (Originate `ChannelId`/variable, Twilio webhook URLs) so
  the call can be found again by it.
- `dial` raises `DialRejected` only when the carrier certainly placed no call
  (a 4xx answer, a refused Originate); any other exception means "may have
  been placed": the callback stays `dialing`, its claim lapses into `unknown`
  and `lookup` settles it. Never redial blindly.
- `lookup` answers from the carrier's own record: `None` when the carrier has
  no call for the attempt (it was never placed), else a `DialLookup`.
- Results come back later through `crm.services.callbacks.record_dial_result`
  and `record_call_ended` (status callbacks, AMI events), which are idempotent.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from crm.callback_numbers import JudgedNumbers
from crm.enums import CallbackKind, CallbackState, DialOutcome


class DialRejected(Exception):
    """The carrier refused the dial outright: no call exists (safe to record as failed)."""


@dataclass(frozen=True, slots=True)
class DialRequest:
    attempt_id: str  # ours; the carrier must be able to find the call by it
    callback_id: int
    number: str  # E.164
    caller_id: str  # E.164 we present, may be "" to use the trunk's default
    flow: str  # the outbound IVR flow the callee hears on answer
    timeout_s: int = 30  # ring time before giving up (no answer)


@dataclass(frozen=True, slots=True)
class DialStarted:
    carrier: str
    carrier_call_id: str | None  # Twilio CallSid, Asterisk channel/uniqueid, None if not known yet


@dataclass(frozen=True, slots=True)
class PlacedAttempt:
    """What a carrier adapter gets to find one attempt again (reconcile)."""

    attempt_id: str
    callback_id: int
    number: str
    started_at: datetime
    carrier_call_id: str | None


@dataclass(frozen=True, slots=True)
class DialLookup:
    """The carrier's record of one attempt.

    `ended` False: still ringing or talking. `outcome` None while ringing;
    ANSWERED once answered (then `ended` says whether the call is over).
    """

    carrier_call_id: str | None
    outcome: DialOutcome | None
    ended: bool


class Dialer(Protocol):
    carrier: str

    async def dial(self, req: DialRequest) -> DialStarted: ...

    async def lookup(self, attempt: PlacedAttempt) -> DialLookup | None: ...


# --- records the repository hands out ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallbackRecord:
    id: int
    source_key: str
    kind: CallbackKind
    state: CallbackState
    customer_id: int | None
    phone: str
    timezone: str
    priority: int
    due_at: datetime
    deadline_at: datetime | None
    next_attempt_at: datetime
    window_start: str
    window_end: str
    attempts: int
    max_attempts: int
    campaign_id: int | None = None
    complaint_id: int | None = None
    job_id: int | None = None
    survey_id: int | None = None
    requested_call_id: int | None = None
    assigned_staff_id: int | None = None
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None
    current_attempt_id: str | None = None
    disposition: str | None = None
    feedback: str | None = None
    completed_at: datetime | None = None
    created_at: datetime | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def flow(self) -> str:
        return str(self.data.get("flow") or DEFAULT_FLOWS[self.kind])


DEFAULT_FLOWS: Mapping[CallbackKind, str] = {
    CallbackKind.POST_REPAIR: "post_repair_survey",
    CallbackKind.COMPLAINT_FOLLOWUP: "complaint_followup",
    CallbackKind.SURVEY_VERIFICATION: "survey_verification",
    CallbackKind.REQUESTED: "requested_callback",
    CallbackKind.CAMPAIGN: "campaign",
}


@dataclass(frozen=True, slots=True)
class NewCallback:
    source_key: str  # unique: the same source never creates a second callback
    kind: CallbackKind
    phone: str
    timezone: str
    priority: int
    due_at: datetime
    deadline_at: datetime | None
    next_attempt_at: datetime
    window_start: str = "09:00"
    window_end: str = "20:00"
    max_attempts: int = 3
    customer_id: int | None = None
    campaign_id: int | None = None
    complaint_id: int | None = None
    job_id: int | None = None
    survey_id: int | None = None
    requested_call_id: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    id: str
    callback_id: int
    number: int
    started_at: datetime
    worker: str
    carrier: str
    carrier_call_id: str | None
    result: str | None
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class CustomerContact:
    """What a source needs to know about the customer it schedules a call to."""

    customer_id: int
    phone: str | None  # primary E.164, None when the customer has no phone
    timezone: str
    do_not_call: bool


@dataclass(frozen=True, slots=True)
class JobFacts:
    job_id: int
    customer_id: int
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ComplaintFacts:
    complaint_id: int
    customer_id: int
    severity: str
    state: str
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class SurveyFacts:
    survey_id: int
    customer_id: int | None
    department_id: int | None
    surveyed_at: datetime
    source: str
    verification: str


@dataclass(frozen=True, slots=True)
class JudgedCall:
    """A supervision call as the number rules see it (`CallbackRepository.judged_numbers_for`):
    the customer it rings and the survey, complaint or job it is about."""

    customer_id: int
    job_id: int | None = None
    complaint_id: int | None = None
    survey_id: int | None = None


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    id: int
    name: str
    flow: str
    window_start: str
    window_end: str
    max_concurrent: int
    active: bool


class CallbackRepository(Protocol):
    """Storage of callbacks, attempts and campaigns; every state change is compare-and-set."""

    # sources
    async def add(self, new: NewCallback) -> tuple[CallbackRecord, bool]: ...
    async def add_many(self, news: Sequence[NewCallback]) -> list[tuple[CallbackRecord, bool]]:
        """`add` of each (distinct source keys), in order, in a few statements."""
        ...
    async def customer_contact(self, customer_id: int) -> CustomerContact | None: ...
    async def judged_numbers_for(
        self, calls: Collection[JudgedCall]
    ) -> dict[JudgedCall, JudgedNumbers | None]:
        """For each call, its customer's numbers with their stamps, as a supervision call
        about the survey, complaint or job (first named wins for the department) sees them:
        the department it judges (the customer's when none is named), its people
        (technician, keyer, owner); None when the customer no longer exists. Read for all
        of `calls` at once, in a number of statements that does not grow with them (the
        dispatcher checks a whole claimed batch before it commits it as dialing)."""
        ...
    async def job_facts(self, job_id: int) -> JobFacts | None: ...
    async def complaint_facts(self, complaint_id: int) -> ComplaintFacts | None: ...
    async def survey_facts(self, survey_id: int) -> SurveyFacts | None: ...
    async def job_survey_grades(self, job_id: int, since: datetime) -> dict[str, str | None]:
        """The grades (timeliness, quality, attitude) of the job's latest survey taken at or
        after `since`; empty when there is none."""
        ...
    async def completed_jobs_without_callback(
        self, since: datetime, until: datetime
    ) -> list[int]: ...
    async def set_survey_verification(
        self, survey_id: int, verification: str, actor_id: int | None, at: datetime, note: str | None
    ) -> bool: ...
    async def add_campaign(
        self, name: str, flow: str, window_start: str, window_end: str, max_concurrent: int
    ) -> CampaignRecord: ...
    async def campaign(self, campaign_id: int) -> CampaignRecord | None: ...
    async def customer_by_reference(self, reference: str) -> CustomerContact | None: ...

    # reading
    async def get(self, callback_id: int) -> CallbackRecord | None: ...
    async def attempt(self, attempt_id: str) -> AttemptRecord | None: ...
    async def attempts_of(self, callback_id: int) -> list[AttemptRecord]: ...
    # departments (None: every one): callbacks of no customer, or of customers of those
    # departments or of none (the rule of reading the customer one by one)
    # at most `limit` from `offset` on, in the order of the work list
    async def due_between(self, start: datetime, end: datetime, *,
                          departments: Collection[int] | None = None, limit: int = 500,
                          offset: int = 0) -> list[CallbackRecord]: ...
    async def past_deadline(self, now: datetime, *,
                            departments: Collection[int] | None = None, limit: int = 500,
                            offset: int = 0) -> list[CallbackRecord]: ...
    async def blocked_by_dnc(self, callbacks: Sequence[CallbackRecord]) -> set[int]: ...

    # dispatch
    async def claim_due(
        self, worker: str, now: datetime, limit: int, claim_until: datetime
    ) -> list[CallbackRecord]: ...
    async def change(
        self,
        callback_id: int,
        expect: CallbackState | frozenset[CallbackState],
        changes: Mapping[str, Any],
        expect_attempt: str | None = None,
        expect_worker: str | None = None,
    ) -> bool: ...
    async def set_carrier_ids(self, pairs: Sequence[tuple[str, str]]) -> None: ...
    async def start_dials(
        self, callback_ids: Sequence[int], worker: str, now: datetime, dial_until: datetime,
        carrier: str,
    ) -> list[CallbackRecord]: ...
    async def attempt_and_callback(
        self, attempt_id: str
    ) -> tuple[AttemptRecord, CallbackRecord] | None: ...
    async def add_attempt(self, attempt: AttemptRecord) -> None: ...
    async def settle_attempt(
        self,
        attempt_id: str,
        result: str | None,
        ended_at: datetime | None,
        carrier_call_id: str | None = None,
        detail: str | None = None,
    ) -> None: ...
    async def lapse_claims(self, now: datetime) -> tuple[int, int]: ...
    async def promote_retries(self, now: datetime) -> int: ...
    async def expire_overdue(self, cutoff: datetime, now: datetime) -> int: ...
    async def unknown(self, limit: int) -> list[tuple[CallbackRecord, AttemptRecord]]: ...
    async def record_contact(
        self, callback: CallbackRecord, at: datetime, staff_id: int | None, disposition: str,
        summary: str | None,
    ) -> None: ...
