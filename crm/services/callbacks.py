"""Callback use cases: where callbacks come from, and what ends them.

Sources (each idempotent through the callback's unique `source_key`: calling
one twice for the same thing returns the existing callback, never a second):

- `schedule_post_repair(job_id)`: due within 3 days of the job's completion (000);
- `schedule_complaint_followup(complaint_id)`: the second follow-up call
  after a complaint is resolved (二次回访); major complaints dial first;
- `request_callback(customer_id, phone, window, call_id)`: the IVR choice;
- survey verification samples and campaign lists: `crm.services.callback_lists`.

A callback whose customer or number is on the do-not-call list is stored and
at once cancelled with disposition `do_not_call`: it is reported, never dialled
(the dispatcher checks again just before every dial).

Results: `record_dial_result` / `record_call_ended` (from the carrier, any
number of times, in any order: a result already recorded, or a late one for an
attempt that is no longer the callback's current one, changes nothing),
`complete_callback` (the flow or a callback agent by hand) and
`record_verification` (the survey becomes verified or disputed, with an audit
row). The dialing itself is in `crm.services.callback_dispatch`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from crm.access import CALLBACK_WORKERS, normal_text
from crm.call_windows import CallWindow, RequestedWindowHours, next_allowed_time, requested_window
from crm.callback_numbers import JudgedNumbers, trustworthy_number
from crm.callbacks import (
    FINAL_STATES,
    CallbackAction,
    CallbackAttempt,
    CallbackDeadlines,
    RetryPolicy,
    after_attempt,
    callback_transition,
    deadline_for,
    may_call,
    priority_for,
)
from crm.enums import CallbackKind, CallbackState, CallbackWindow, DialOutcome, Severity
from crm.errors import CrmError, InvalidTransition
from crm.identity import Identity
from crm.phones import mask_phone
from crm.services.callback_ports import (
    DEFAULT_FLOWS,
    AttemptRecord,
    CallbackRecord,
    CallbackRepository,
    Dialer,
    DialLookup,
    DialRejected,
    DialRequest,
    DialStarted,
    JudgedCall,
    NewCallback,
    PlacedAttempt,
)
from crm.services.callback_problems import CallbackProblemPolicy, raise_callback_problem
from crm.services.callback_trust import dialled_refusal, hold, judges_anyone, number_to_dial
from crm.services.refusals import Refusal, check_role, refuse
from crm.services.supervision import check_supervision_callback, check_survey_supervisor

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

__all__ = [
    "DEFAULT_FLOWS", "AttemptRecord", "CallbackRecord", "CallbackRepository", "Dialer",
    "DialLookup", "DialRejected", "DialRequest", "DialStarted", "NewCallback", "PlacedAttempt",
    "CallbackConflict", "CallbackDefaults", "CannotSchedule", "UnknownCallback", "schedule_post_repair",
    "schedule_complaint_followup", "request_callback", "schedule_completed_jobs",
    "record_dial_result", "record_call_ended", "complete_callback", "record_verification",
    "call_now", "due_on", "past_deadline",
]

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
S = CallbackState
CALL_TTL = timedelta(hours=1)  # a call in progress is looked up at the carrier after this
FAR = timedelta(days=3650)


class UnknownCallback(CrmError, LookupError):
    http_status = 404


class CannotSchedule(CrmError, ValueError):
    """The source exists but no callback can be made (no phone, not completed...)."""

    http_status = 422


class CallbackConflict(InvalidTransition):
    http_status = 409


@dataclass(frozen=True, slots=True)
class CallbackDefaults:
    """What a new service callback gets unless its source says otherwise (configurable)."""

    window: CallWindow = field(default_factory=CallWindow)  # in the callee's own zone
    max_attempts: int = 3

    def as_new(self) -> dict[str, Any]:
        """The `NewCallback` fields these defaults fill."""
        return {"window_start": f"{self.window.start:%H:%M}",
                "window_end": f"{self.window.end:%H:%M}", "max_attempts": self.max_attempts}


def parse_hhmm(value: str) -> time:
    return time.fromisoformat(value)


def window_of(cb: CallbackRecord) -> CallWindow:
    return CallWindow(parse_hhmm(cb.window_start), parse_hhmm(cb.window_end))


async def _create(repo: CallbackRepository, new: NewCallback, contact_dnc: bool,
                  now: datetime, held: str | None = None) -> CallbackRecord:
    """Insert `new` once; cancel it at once when a do-not-call mark forbids the call; hold it
    at once (`held`: why) when no number may be dialled for it (`crm.callback_numbers`)."""
    (record,) = await _create_many(repo, [(new, contact_dnc)], now)
    if held is not None and record.state is S.SCHEDULED and record.attempts == 0 \
            and "held" not in record.data:
        state = callback_transition(record.state, CallbackAction.HOLD)
        data = {**record.data, "held": "no_trustworthy_number", "held_reason": held}
        if await repo.change(record.id, S.SCHEDULED, {"state": state, "data": data}):
            record = replace(record, state=state, data=data)
            log.warning("callback %s held: %s", record.id, held)
    return record


async def _create_many(repo: CallbackRepository, news: Sequence[tuple[NewCallback, bool]],
                       now: datetime) -> list[CallbackRecord]:
    """`_create` of each (new callback, its contact's do-not-call mark): one insert and one
    do-not-call check for all of them."""
    added = await repo.add_many([new for new, _ in news])
    fresh = [record for record, created in added if created]
    blocked_ids = await repo.blocked_by_dnc(fresh) if fresh else set()
    records = []
    for (new, contact_dnc), (record, created) in zip(news, added, strict=True):
        if created and not may_call(contact_dnc, contact_dnc or record.id in blocked_ids, new.kind):
            cancelled = callback_transition(record.state, CallbackAction.CANCEL)
            await repo.change(record.id, S.SCHEDULED, {
                "state": cancelled, "disposition": "do_not_call", "completed_at": now})
            record = replace(record, state=cancelled, disposition="do_not_call", completed_at=now)
            log.info("callback %s not dialled: do-not-call (%s)", record.id, mask_phone(new.phone))
        records.append(record)
    return records


def _first_try(now: datetime, due: datetime, tz: str, window: CallWindow) -> datetime:
    return next_allowed_time(max(now, due), ZoneInfo(tz), window)


async def judged_contact(repo: CallbackRepository, customer_id: int, *, job_id: int | None = None,
                         complaint_id: int | None = None, survey_id: int | None = None,
                         ) -> tuple[JudgedNumbers, str, str | None]:
    """For a supervision callback: the customer's numbers, the number to store on the
    callback, and why it must be held (None: that number may be dialled). With no trustworthy
    number the stored one is the primary (shown to the staff, never dialled)."""
    call = JudgedCall(customer_id, job_id, complaint_id, survey_id)
    numbers = (await repo.judged_numbers_for([call]))[call]
    if numbers is None:
        raise UnknownCallback(f"no customer {customer_id}; create the customer first")
    if not numbers.phones:
        raise CannotSchedule(f"customer {customer_id} has no phone number; add one to call back")
    phone, reason = trustworthy_number(numbers)
    return numbers, phone or numbers.phones[0].e164, reason


async def schedule_post_repair(
    job_id: int, uow: UnitOfWork, clock: Clock, deadlines: CallbackDeadlines | None = None,
    defaults: CallbackDefaults | None = None,
) -> CallbackRecord:
    """The post-repair callback of a completed job: deadline = completion + 3 days."""
    now = clock()
    defaults = defaults or CallbackDefaults()
    async with uow:
        repo = uow.callbacks
        job = await repo.job_facts(job_id)
        if job is None:
            raise UnknownCallback(f"no service job {job_id}")
        if job.completed_at is None:
            raise CannotSchedule(f"job {job_id} is not completed; mark it completed first")
        contact, phone, held = await judged_contact(repo, job.customer_id, job_id=job_id)
        window = defaults.window
        record = await _create(repo, NewCallback(
            source_key=f"post-repair:{job_id}", kind=CallbackKind.POST_REPAIR,
            phone=phone, timezone=contact.timezone,
            priority=priority_for(CallbackKind.POST_REPAIR), due_at=job.completed_at,
            deadline_at=deadline_for(CallbackKind.POST_REPAIR, job.completed_at, deadlines),
            next_attempt_at=_first_try(now, job.completed_at, contact.timezone, window),
            customer_id=job.customer_id, job_id=job_id, **defaults.as_new(),
        ), contact.do_not_call, now, held)
        await uow.commit()
        return record


async def schedule_completed_jobs(
    uow_factory: Callable[[], UnitOfWork], clock: Clock, lookback: timedelta = timedelta(days=3),
    defaults: CallbackDefaults | None = None,
) -> int:
    """Periodic job: a post-repair callback for every job completed in `lookback` without one."""
    now = clock()
    async with uow_factory() as uow:
        job_ids = await uow.callbacks.completed_jobs_without_callback(now - lookback, now)
    made = 0
    for job_id in job_ids:
        try:
            await schedule_post_repair(job_id, uow_factory(), clock, defaults=defaults)
            made += 1
        except CannotSchedule as exc:
            log.warning("post-repair callback for job %s not scheduled: %s", job_id, exc)
    return made


async def schedule_complaint_followup(
    complaint_id: int, uow: UnitOfWork, clock: Clock, deadlines: CallbackDeadlines | None = None,
    defaults: CallbackDefaults | None = None,
) -> CallbackRecord:
    """The follow-up call of a resolved complaint (deadline = resolution + 2 days).

    One per resolution: a complaint reopened and resolved again gets a new one.
    """
    now = clock()
    defaults = defaults or CallbackDefaults()
    async with uow:
        repo = uow.callbacks
        complaint = await repo.complaint_facts(complaint_id)
        if complaint is None:
            raise UnknownCallback(f"no complaint {complaint_id}")
        if complaint.resolved_at is None:
            raise CannotSchedule(f"complaint {complaint_id} is not resolved yet; resolve it first")
        contact, phone, held = await judged_contact(repo, complaint.customer_id,
                                                    complaint_id=complaint_id)
        kind = CallbackKind.COMPLAINT_FOLLOWUP
        resolved = complaint.resolved_at
        record = await _create(repo, NewCallback(
            source_key=f"complaint-followup:{complaint_id}:{resolved:%Y%m%dT%H%M%S}",
            kind=kind, phone=phone, timezone=contact.timezone,
            priority=priority_for(kind, Severity(complaint.severity)), due_at=resolved,
            deadline_at=deadline_for(kind, resolved, deadlines),
            next_attempt_at=_first_try(now, resolved, contact.timezone, defaults.window),
            customer_id=complaint.customer_id, complaint_id=complaint_id, **defaults.as_new(),
        ), contact.do_not_call, now, held)
        await uow.commit()
        return record


async def request_callback(
    customer_id: int | None, phone: str, window: CallbackWindow, call_id: int | None,
    uow: UnitOfWork, clock: Clock, tz: tzinfo | str | None = None,
    hours: RequestedWindowHours | None = None,
) -> CallbackRecord:
    """A callback the caller asked for on the IVR, in the window they chose.

    `tz` defaults to the customer's zone (Asia/Shanghai without a customer).
    Raises `WindowUnavailable` for "today" after 20:00. One per inbound call.
    """
    now = clock()
    hours = hours or RequestedWindowHours()
    async with uow:
        repo = uow.callbacks
        contact = await repo.customer_contact(customer_id) if customer_id is not None else None
        zone_name = tz if isinstance(tz, str) else (
            getattr(tz, "key", None) or (contact.timezone if contact else "Asia/Shanghai"))
        zone = ZoneInfo(zone_name)
        earliest, deadline = requested_window(CallbackWindow(window), now, zone, hours)
        start, end = {
            CallbackWindow.TODAY: (hours.day_start, hours.today_end),
            CallbackWindow.TOMORROW_MORNING: hours.morning,
            CallbackWindow.TOMORROW_AFTERNOON: hours.afternoon,
        }[CallbackWindow(window)]
        key = f"requested:call:{call_id}" if call_id is not None else (
            f"requested:{customer_id}:{phone}:{earliest:%Y%m%dT%H%M}")
        record = await _create(repo, NewCallback(
            source_key=key, kind=CallbackKind.REQUESTED, phone=phone, timezone=zone_name,
            priority=priority_for(CallbackKind.REQUESTED), due_at=earliest, deadline_at=deadline,
            next_attempt_at=_first_try(now, earliest, zone_name, CallWindow(start, end)),
            window_start=f"{start:%H:%M}", window_end=f"{end:%H:%M}",
            customer_id=customer_id, requested_call_id=call_id, data={"window": str(window)},
        ), bool(contact and contact.do_not_call), now)
        await uow.commit()
        return record


# --- results ------------------------------------------------------------------------------


def _after_outcome(
    cb: CallbackRecord, outcome: DialOutcome, now: datetime, policy: RetryPolicy
) -> dict[str, Any]:
    """The changes to `cb` (dialing or unknown) once its current attempt ended with `outcome`."""
    policy = replace(policy, max_attempts=cb.max_attempts)
    state, next_due = after_attempt(
        CallbackAttempt(cb.state, max(cb.attempts - 1, 0), cb.deadline_at or now + FAR),
        outcome, now, policy, ZoneInfo(cb.timezone), window_of(cb),
    )
    if state is S.IN_CALL:
        return {"state": state, "claim_expires_at": now + CALL_TTL}
    changes: dict[str, Any] = {"state": state, "claimed_by": None, "claim_expires_at": None}
    if state is S.RETRY_WAIT:
        changes["next_attempt_at"] = next_due
    else:
        changes.update(disposition=str(outcome) if state is S.FAILED else "expired",
                       completed_at=now)
    return changes


async def record_dial_result(
    attempt_id: str, outcome: DialOutcome | str, carrier_call_id: str | None,
    uow: UnitOfWork, clock: Clock, policy: RetryPolicy | None = None,
) -> CallbackState | None:
    """Apply the carrier's answer for one attempt; returns the new state, None if nothing changed.

    Answered -> in_call; busy / no answer / congestion / failed -> retry_wait
    with backoff, failed or expired (`crm.callbacks.after_attempt`).
    """
    outcome = DialOutcome(outcome)
    now = clock()
    async with uow:
        repo = uow.callbacks
        found = await repo.attempt_and_callback(attempt_id)
        if found is None:
            raise UnknownCallback(f"no callback attempt {attempt_id!r}")
        attempt, cb = found
        if attempt.result is not None:
            return None  # already recorded (the same report twice, or reconciled)
        if cb.current_attempt_id != attempt_id or cb.state not in (
            S.DIALING, S.UNKNOWN
        ):
            return None  # a late report for an attempt the callback has moved past
        changes = _after_outcome(cb, outcome, now, policy or RetryPolicy())
        if not await repo.change(cb.id, cb.state, changes, expect_attempt=attempt_id):
            return None
        ended = None if outcome is DialOutcome.ANSWERED else now
        await repo.settle_attempt(attempt_id, str(outcome), ended, carrier_call_id)
        await uow.commit()
        return CallbackState(changes["state"])


async def record_call_ended(
    attempt_id: str, uow: UnitOfWork, clock: Clock, disposition: str = "answered"
) -> CallbackState | None:
    """The answered call hung up: in_call -> completed (unless the flow already completed it)."""
    now = clock()
    async with uow:
        repo = uow.callbacks
        found = await repo.attempt_and_callback(attempt_id)
        if found is None:
            raise UnknownCallback(f"no callback attempt {attempt_id!r}")
        attempt, cb = found
        if attempt.ended_at is not None:
            return None
        state: CallbackState | None = None
        refused = (await dialled_refusal(repo, cb) if cb.current_attempt_id == attempt_id
                   and cb.state in (S.DIALING, S.IN_CALL, S.UNKNOWN) else None)
        if refused is not None:  # answered on a number that no longer qualifies: not counted
            state = (await hold(uow, cb, refused, now, refused="callback.answered")).state
        elif cb.current_attempt_id == attempt_id and cb.state in (
            S.DIALING, S.IN_CALL, S.UNKNOWN
        ):
            state = callback_transition(
                S.IN_CALL if cb.state is S.DIALING else cb.state, CallbackAction.COMPLETE
            )
            changed = await repo.change(cb.id, cb.state, {
                "state": state, "disposition": cb.disposition or disposition, "completed_at": now,
                "claimed_by": None, "claim_expires_at": None}, expect_attempt=attempt_id)
            if not changed:
                return None
            await repo.record_contact(cb, now, None, disposition, "outbound callback answered")
        await repo.settle_attempt(attempt_id, attempt.result or "answered", now)
        await uow.commit()
        return state


_TO_COMPLETE: dict[CallbackState, tuple[CallbackAction, ...]] = {
    S.IN_CALL: (CallbackAction.COMPLETE,),
    S.UNKNOWN: (CallbackAction.COMPLETE,),
    S.DIALING: (CallbackAction.ANSWER, CallbackAction.COMPLETE),
    S.CLAIMED: (CallbackAction.DIAL, CallbackAction.ANSWER, CallbackAction.COMPLETE),
    S.SCHEDULED: (CallbackAction.CLAIM, CallbackAction.DIAL, CallbackAction.ANSWER,
                  CallbackAction.COMPLETE),
    S.RETRY_WAIT: (CallbackAction.RETRY_DUE, CallbackAction.CLAIM, CallbackAction.DIAL,
                   CallbackAction.ANSWER, CallbackAction.COMPLETE),
    # by hand only (staff phoned the customer themselves): the flow's answers on a held
    # callback count for nothing
    S.HELD: (CallbackAction.RELEASE, CallbackAction.CLAIM, CallbackAction.DIAL,
             CallbackAction.ANSWER, CallbackAction.COMPLETE),
}


async def complete_callback(
    callback_id: int, disposition: str, feedback: str | None, staff: Identity | None,
    uow: UnitOfWork, clock: Clock, problems: CallbackProblemPolicy | None = None,
) -> CallbackRecord:
    """Record how the callback ended (by the outbound flow, or by hand after a manual call).

    A callback not in a call (the agent phoned from a desk phone) gets a
    `manual` attempt row. A verification callback with disposition
    `confirmed` / `disputed` verifies / disputes its survey in the same step.
    Completing again with the same disposition and feedback changes nothing.
    A post-repair callback that found a problem (a D/E grade, a complaint during
    the call) then opens the after-sales complaint
    (`crm.services.callback_problems.raise_callback_problem`, under `problems`);
    its failure is logged and never undoes the completion.
    """
    now = clock()
    disposition = disposition.strip()
    if not disposition:
        raise CannotSchedule("disposition is required (e.g. satisfied, dissatisfied, unreached)")
    if normal_text(disposition) in _VERDICTS:  # one spelling: " Confirmed", "ｃｏｎｆｉｒｍｅｄ"
        disposition = normal_text(disposition)
    async with uow:
        repo = uow.callbacks
        cb = await repo.get(callback_id)
        if cb is None:
            raise UnknownCallback(f"no callback {callback_id}")
        await check_role(uow, staff, CALLBACK_WORKERS, "callback.complete", f"callback:{cb.id}", now)
        await _check_reach(uow, staff, cb, "callback.complete", now)
        await check_supervision_callback(uow, staff, cb, "callback.complete", now)
        if staff is None and judges_anyone(cb) and cb.state not in FINAL_STATES:
            # the call's own answer: it counts only from a number that still qualifies
            if cb.state is S.HELD:
                return cb
            refused = await dialled_refusal(repo, cb)
            if refused is not None:
                held = await hold(uow, cb, refused, now, refused="callback.complete")
                await uow.commit()
                return held
        verified_survey = (cb.survey_id if cb.kind is CallbackKind.SURVEY_VERIFICATION
                           and disposition in _VERDICTS else None)
        if verified_survey is not None:  # before anything is written: a refusal changes nothing
            await _check_verifier(uow, verified_survey, disposition == "confirmed", staff, cb, now)
        if cb.state is S.COMPLETED and (cb.disposition, cb.feedback) == (disposition, feedback):
            return cb
        steps = _TO_COMPLETE.get(cb.state)
        if steps is None:
            raise CallbackConflict(f"callback {callback_id} is already {cb.state}; "
                                   "open a new callback to call again")
        state = cb.state
        for step in steps:
            state = callback_transition(state, step)
        attempt_id = cb.current_attempt_id
        attempts = cb.attempts
        if cb.state in (S.SCHEDULED, S.RETRY_WAIT, S.CLAIMED, S.HELD):
            attempt_id, attempts = f"manual-{callback_id}-{cb.attempts + 1}", cb.attempts + 1
            await repo.add_attempt(AttemptRecord(
                attempt_id, callback_id, attempts, now, staff.label if staff else "manual",
                "manual", None, "answered", now))
        elif attempt_id is not None:
            await repo.settle_attempt(attempt_id, "answered", now)
        ok = await repo.change(callback_id, cb.state, {
            "state": state, "disposition": disposition, "feedback": feedback, "completed_at": now,
            "claimed_by": None, "claim_expires_at": None, "current_attempt_id": attempt_id,
            "attempts": attempts,
            "assigned_staff_id": staff.staff_id if staff else cb.assigned_staff_id,
        })
        if not ok:
            raise CallbackConflict(f"callback {callback_id} changed meanwhile; reload and retry")
        if verified_survey is not None:
            await _verify(repo, verified_survey, disposition == "confirmed",
                          staff.staff_id if staff else None, now, feedback)
        await repo.record_contact(cb, now, staff.staff_id if staff else None, disposition, feedback)
        await uow.commit()
        done = await repo.get(callback_id)
        assert done is not None
    if done.kind is CallbackKind.POST_REPAIR:
        try:
            if await raise_callback_problem(callback_id, uow, clock=clock, policy=problems):
                async with uow:
                    done = await uow.callbacks.get(callback_id) or done
        except Exception:  # the completion stands; the problem is still on the callback
            log.exception("callback %s: opening the after-sales complaint failed", callback_id)
    return done


async def call_now(callback_id: int, staff: Identity, uow: UnitOfWork, clock: Clock) -> None:
    """Click to call: the dispatcher dials this callback on its next pass (window and DNC apply)."""
    async with uow:
        repo = uow.callbacks
        cb = await repo.get(callback_id)
        if cb is None:
            raise UnknownCallback(f"no callback {callback_id}")
        now = clock()
        await check_role(uow, staff, CALLBACK_WORKERS, "callback.call", f"callback:{cb.id}", now)
        await _check_reach(uow, staff, cb, "callback.call", now)
        if cb.state not in (S.SCHEDULED, S.RETRY_WAIT, S.HELD):
            raise CallbackConflict(f"callback {callback_id} is {cb.state}; it cannot be dialled now")
        changes: dict[str, Any] = {}
        if cb.state is S.HELD:  # released only once a trustworthy number is on the record
            phone, reason = await number_to_dial(repo, cb)
            if phone is None:
                raise CallbackConflict(f"callback {callback_id} is held: {reason}")
            data = {k: v for k, v in cb.data.items() if k not in ("held", "held_reason")}
            changes = {"phone": phone, "data": data}
        await repo.change(callback_id, cb.state, {
            "state": S.SCHEDULED, "priority": 0, "next_attempt_at": min(now, cb.next_attempt_at),
            "assigned_staff_id": staff.staff_id, **changes})
        await uow.commit()


async def _check_reach(uow: UnitOfWork, staff: Identity | None, cb: CallbackRecord, action: str,
                       now: datetime) -> None:
    """A staff member acts on a callback only if they may read its customer (a manager:
    their own department's); a refusal is audited and changes nothing."""
    if staff is None or staff.sees_all_departments or cb.customer_id is None:
        return
    customer = await uow.customers.get(cb.customer_id)
    if customer is not None and not staff.may_see_department(customer.department_id):
        await refuse(uow, staff, action, f"callback:{cb.id}",
                     "this callback is for another department's customer", now)


# --- survey verification -----------------------------------------------------------------

_VERDICTS = ("confirmed", "disputed")


async def _check_verifier(uow: UnitOfWork, survey_id: int, confirmed: bool, staff: Identity | None,
                          cb: CallbackRecord | None, now: datetime) -> None:
    """A staff member must be a supervisor outside the scored department; without one, it is
    the customer answering on this survey's own verification call (the outbound flow)."""
    action = "survey.verify" if confirmed else "survey.dispute"
    if staff is not None:
        await check_survey_supervisor(uow, staff, survey_id, action, now)
    elif cb is None or cb.kind is not CallbackKind.SURVEY_VERIFICATION or cb.survey_id != survey_id:
        await refuse(uow, None, action, f"survey:{survey_id}",
                     "without a supervisor, a survey is verified only by the customer on its "
                     "own verification call", now, actor_label="verification-call")



async def _verify(repo: CallbackRepository, survey_id: int, confirmed: bool,
                  actor_id: int | None, now: datetime, note: str | None) -> str:
    survey = await repo.survey_facts(survey_id)
    if survey is None:
        raise UnknownCallback(f"no survey {survey_id}")
    if survey.verification == "first_hand":
        raise CallbackConflict(f"survey {survey_id} was answered first-hand; nothing to verify")
    wanted = "verified" if confirmed else "disputed"
    if survey.verification != wanted:
        await repo.set_survey_verification(survey_id, wanted, actor_id, now, note)
    return wanted


async def record_verification(
    survey_id: int, confirmed: bool, uow: UnitOfWork, clock: Clock, *,
    callback_id: int | None = None, staff: Identity | None = None, note: str | None = None,
) -> str:
    """The customer confirmed (verified) or contradicted (disputed) the survey's grades on
    the survey's verification call `callback_id`, or a supervisor (`staff`) outside the
    scored department records it; anyone else is refused (audited, nothing changed)."""
    now = clock()
    async with uow:
        cb = await uow.callbacks.get(callback_id) if callback_id is not None else None
        await _check_verifier(uow, survey_id, confirmed, staff, cb, now)
        if staff is None and cb is not None:  # the customer's answer counts only from a
            refused = (await dialled_refusal(uow.callbacks, cb)  # number that still qualifies
                       if cb.state is not S.HELD else "the verification call is held")
            if refused is not None:
                action = "survey.verify" if confirmed else "survey.dispute"
                survey = await uow.callbacks.survey_facts(survey_id)
                if cb.state in FINAL_STATES or cb.state is S.HELD:
                    await uow.refusals.add(Refusal(
                        at=now, staff_id=None, actor="verification-call", action=action,
                        subject=f"survey:{survey_id}", reason=refused))
                else:
                    await hold(uow, cb, refused, now, refused=action)
                await uow.commit()
                return survey.verification if survey is not None else "pending"
        result = await _verify(uow.callbacks, survey_id, confirmed,
                               staff.staff_id if staff else None, now, note)
        await uow.commit()
        return result


# --- lists for the staff page and the reports ----------------------------------------------


def _scope(identity: Identity | None) -> dict[str, Any]:
    return {"departments": identity.readable_departments if identity is not None else None}


async def due_on(day_start: datetime, day_end: datetime, uow: UnitOfWork,
                 identity: Identity | None = None, *, limit: int = 500,
                 offset: int = 0) -> list[CallbackRecord]:
    """Open callbacks whose next try falls before `day_end` (today's work list), `limit` from
    `offset` on; a manager sees those of their department's customers (filtered in the query)."""
    async with uow:
        return await uow.callbacks.due_between(day_start, day_end, **_scope(identity),
                                               limit=limit, offset=offset)


async def past_deadline(uow: UnitOfWork, clock: Clock, identity: Identity | None = None, *,
                        limit: int = 500, offset: int = 0) -> list[CallbackRecord]:
    """Callbacks whose deadline passed without a completed call (open, failed or expired),
    oldest deadline first, `limit` from `offset` on."""
    async with uow:
        return await uow.callbacks.past_deadline(clock(), **_scope(identity), limit=limit,
                                                 offset=offset)
