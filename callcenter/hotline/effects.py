"""The IVR effects' handlers: what the session asks for, done through the use cases.

Each handler gets the call's `CallContext` and the effect, performs it
through a `crm` use case on ``ctx.uow()`` (inside a transaction, a savepoint
of the turn's; inside a batched turn, `BatchedUnitOfWork`), and returns the
event to feed back to the session (or None). A handler raises on failure;
the turn (`callcenter.hotline.turns`) turns that into `EffectFailed`, a safe
IVR path, logged with the call id.

- `RememberLanguage` -> the caller's record keeps the language chosen;
- `CreateComplaint` -> `crm.services.complaints.open_complaint` (a caller
  nobody could identify gets an "unidentified caller" record first);
- `LookupJob` / `SaveSurvey` -> `crm.services.surveys` (first-hand only from
  the customer's own number);
- `ScheduleCallback` / `CheckCallbackNumber` -> `crm.services.callbacks`, on
  a number of `DEFAULT_REGION`;
- `LookupComplaintStatus` -> `crm.services.complaint_status` (the call's own
  customer only);
- outbound calls: `RecordFollowupVerdict`, `ConfirmSurvey`, `CompleteCallback`
  (see `callcenter.hotline.outbound`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from callcenter.clock import Clock
from callcenter.complaints.policy import callback_problem_policy, complaint_policy
from callcenter.settings import Settings
from crm.calls import CallRecord
from crm.enums import (
    CallbackWindow,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintState,
    Direction,
    SurveySource,
    Verdict,
)
from crm.errors import InvalidPhoneNumber
from crm.phones import normalize_phone, normalize_regional_phone
from crm.services import surveys
from crm.services.unit_of_work import UnitOfWork
from crm.surveys import ITEMS, parse_grade
from ivr import actions as act
from ivr import events as ev
from ivr.flow import SURVEY_ITEMS
from ivr.session import Session

log = logging.getLogger(__name__)
#: the IVR's survey items -> the survey columns they fill (each list in the order asked)
SURVEY_COLUMNS = dict(zip(SURVEY_ITEMS, ITEMS, strict=True))
E = TypeVar("E", bound=act.Effect)


@dataclass
class CallContext:
    """One call inside one turn: the call as read (the handlers may set its customer), its
    IVR session, the number it came from / was placed to, and where a use case runs."""

    call: CallRecord
    session: Session
    flow_name: str
    phone: str | None
    settings: Settings
    clock: Clock
    #: a use case's unit of work inside this turn
    uow: Callable[[], UnitOfWork]


def callable_number(number: str | None, settings: Settings) -> str | None:
    """`number` as E.164 when the centre can call it back (a valid number of its region);
    None for a withheld, foreign or unparseable one."""
    if not number:
        return None
    try:
        return normalize_regional_phone(number, settings.default_region)
    except InvalidPhoneNumber:
        return None


async def caller_record(ctx: CallContext) -> int:
    """The call's customer; for a caller nobody could identify (withheld or unreadable
    number), a new "unidentified caller" record that the call now belongs to."""
    from crm.services.customers import record_unidentified_caller

    if ctx.call.customer_id is not None:
        return ctx.call.customer_id
    record = await record_unidentified_caller(
        ctx.uow(), call_id=ctx.call.id, timezone=ctx.session.context.customer_tz,
        language=ctx.session.language)
    ctx.call = dataclasses.replace(ctx.call, customer_id=record.customer_id)
    log.info("caller without a readable number: unidentified caller record %s",
             record.customer_id)
    return record.customer_id


async def remember_language(ctx: CallContext, effect: act.RememberLanguage) -> None:
    """The caller chose the other language: the call goes on in it (the session switched)
    and their record keeps it for the next call. An unknown caller has no record yet."""
    from crm.services.customers import update_customer

    if ctx.call.customer_id is None:
        return None
    await update_customer(ctx.call.customer_id, {"language": effect.language}, ctx.uow())
    return None


async def create_complaint(ctx: CallContext, effect: act.CreateComplaint) -> ev.Event:
    from crm.services.complaints import Actor, OpenComplaint, open_complaint

    customer_id = await caller_record(ctx)
    opened = await open_complaint(OpenComplaint(
        customer_id=customer_id, channel=ComplaintChannel.PHONE_IVR,
        category=ComplaintCategory(effect.category), recording_url=effect.recording_url,
        call_id=ctx.call.id, actor=Actor.system("ivr"),
        description="" if not effect.partial else "(caller hung up before recording)",
    ), ctx.uow(), clock=ctx.clock, policy=complaint_policy(ctx.settings))
    return ev.ComplaintCreated(opened.ticket)


async def lookup_job(ctx: CallContext, effect: act.LookupJob) -> ev.Event:
    job = await surveys.find_job_for_caller(ctx.call.customer_id, effect.reference, ctx.uow(),
                                            at=ctx.clock())
    if job is None:
        return ev.JobLookup(False)
    return ev.JobLookup(True, job.id, job.reference)


async def save_survey(ctx: CallContext, effect: act.SaveSurvey) -> ev.Event:
    outbound = ctx.call.direction == Direction.OUTBOUND  # keyed on a callback flow
    try:  # the number the call came from / was placed to: first-hand only from the customer's
        number = normalize_phone(ctx.phone, ctx.settings.default_region) if ctx.phone else None
    except InvalidPhoneNumber:
        number = None
    saved = await surveys.save_survey(surveys.SaveSurvey(
        job_id=effect.job_id, source=SurveySource.CALLBACK if outbound else SurveySource.IVR,
        grades={SURVEY_COLUMNS.get(k, k): parse_grade(v) for k, v in effect.grades.items()},
        at=ctx.clock(), customer_id=ctx.call.customer_id, call_id=ctx.call.id,
        number=number,
    ), ctx.uow())
    return ev.SurveySaved(saved.id)


async def check_callback_number(ctx: CallContext, effect: act.CheckCallbackNumber) -> ev.Event:
    e164 = callable_number(effect.digits, ctx.settings)
    return ev.NumberChecked(e164 is not None, e164)


async def lookup_complaint_status(ctx: CallContext,
                                  effect: act.LookupComplaintStatus) -> ev.Event:
    from crm.services.complaint_status import complaint_status_for_caller

    views = await complaint_status_for_caller(
        ctx.uow(), customer_id=ctx.call.customer_id, ticket=effect.ticket)
    zone = ZoneInfo(ctx.session.context.customer_tz)
    lines = []
    for view in views:
        due = view.due_at.astimezone(zone) if view.due_at is not None else None
        lines.append(ev.StatusLine(
            view.ticket, str(view.state), view.department_name, view.department_code,
            due.month if due else None, due.day if due else None))
    return ev.ComplaintStatus(tuple(lines))


async def schedule_callback(ctx: CallContext, effect: act.ScheduleCallback) -> ev.Event:
    from crm.services.callbacks import request_callback

    tz = ctx.session.context.customer_tz
    if effect.phone is not None:  # keyed by a caller we cannot call back on their ID
        phone = normalize_regional_phone(effect.phone, ctx.settings.default_region)
        await caller_record(ctx)
    else:
        known = callable_number(ctx.phone, ctx.settings)
        if known is None:
            return ev.EffectFailed("ScheduleCallback", "no number to call back")
        phone = known
    record = await request_callback(ctx.call.customer_id, phone, CallbackWindow(effect.window), ctx.call.id,
                                    ctx.uow(), ctx.clock, tz)
    return ev.CallbackScheduled(record.id, record.due_at.astimezone(ZoneInfo(tz)).isoformat())


# -- outbound calls ------------------------------------------------------------------------

def _callback_id(ctx: CallContext) -> int | None:
    value = (ctx.session.context.outbound or {}).get("callback_id")
    return None if value is None else int(value)


async def record_followup_verdict(ctx: CallContext,
                                  effect: act.RecordFollowupVerdict) -> ev.Event:
    from crm.services.complaints import Actor, record_followup_verdict

    verdict = Verdict.SATISFIED if effect.satisfied else Verdict.DISSATISFIED
    note = (f"service rated {effect.service_grade} on the follow-up call"
            if effect.service_grade else "service not rated on the follow-up call")
    record = await record_followup_verdict(
        effect.complaint_id, verdict, ctx.uow(), clock=ctx.clock,
        actor=Actor.system("followup-ivr"), note=note, policy=complaint_policy(ctx.settings),
        callback_id=_callback_id(ctx),
    )
    return ev.FollowupRecorded(reopened=record.state == ComplaintState.REOPENED)


async def confirm_survey(ctx: CallContext, effect: act.ConfirmSurvey) -> ev.Event:
    from crm.services.callbacks import record_verification

    if effect.confirmed:
        note = "the customer confirmed the recorded grades on a verification call"
    else:
        said = ", ".join(f"{item} {grade}" for item, grade in effect.grades.items())
        note = ("the customer says the recorded grades are wrong"
                + (f"; the customer's grades: {said}" if said else ""))
    verification = await record_verification(
        effect.survey_id, effect.confirmed, ctx.uow(), ctx.clock,
        callback_id=_callback_id(ctx), note=note)
    return ev.SurveyConfirmed(verification)


async def complete_callback(ctx: CallContext, effect: act.CompleteCallback) -> ev.Event | None:
    from crm.services.callbacks import complete_callback

    callback_id = _callback_id(ctx)
    if callback_id is None:
        return ev.EffectFailed("CompleteCallback", "the call belongs to no callback")
    done = await complete_callback(callback_id, effect.disposition, effect.feedback, None,
                                   ctx.uow(), ctx.clock,
                                   problems=callback_problem_policy(ctx.settings))
    log.info("callback %s completed: %s", done.id, done.disposition)
    return None


Handler = Callable[[CallContext, Any], Awaitable[ev.Event | None]]

#: the handler of each effect the IVR sessions ask for
HANDLERS: dict[type[act.Effect], Handler] = {
    act.RememberLanguage: remember_language,
    act.CreateComplaint: create_complaint,
    act.LookupJob: lookup_job,
    act.SaveSurvey: save_survey,
    act.ScheduleCallback: schedule_callback,
    act.CheckCallbackNumber: check_callback_number,
    act.LookupComplaintStatus: lookup_complaint_status,
    act.RecordFollowupVerdict: record_followup_verdict,
    act.ConfirmSurvey: confirm_survey,
    act.CompleteCallback: complete_callback,
}


async def perform(ctx: CallContext, effect: act.Effect) -> ev.Event | None:
    """Perform `effect` with its handler (raises what the handler raises)."""
    return await HANDLERS[type(effect)](ctx, effect)
