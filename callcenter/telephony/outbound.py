"""Outbound calls in the hotline driver: what an answered callback talks about,
and where the callee's answers land.

`outbound_target(attempt_id, uow)` reads the callback behind a dial attempt
(the id the dispatcher handed the carrier) and gathers what its flow needs:
the job reference, the complaint ticket and its state (spoken on the
follow-up call: the customer is told it is resolved), the grades recorded on the survey
form, the callee's zone. The driver passes it to the IVR session as
`CallerContext.outbound` (plain values only).

The performers land the answers through the use cases:

- `RecordFollowupVerdict` -> `crm.services.complaints.record_followup_verdict`
  (satisfied closes the complaint, dissatisfied reopens it as major);
- `ConfirmSurvey` -> `crm.services.callbacks.record_verification` (the survey
  becomes verified or disputed; the grades the customer says they gave go
  into the audit note for the supervisor, who alone may correct the form);
- `CompleteCallback` -> `crm.services.callbacks.complete_callback` (the
  disposition and the feedback, written as a contact on the customer).

A post-repair survey keyed on the call is saved by the driver's `SaveSurvey`
performer with source `callback`, which counts first-hand (001).

Guarantee: these functions only read and write through the unit of work's
repositories; a failure raises, and the driver turns it into `EffectFailed`
(a safe IVR path), logged with the call id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from callcenter.complaints.policy import callback_problem_policy
from crm.enums import CallbackKind, ComplaintState, Verdict
from crm.services.callbacks import complete_callback, record_verification
from crm.services.unit_of_work import UnitOfWork
from ivr import actions as act
from ivr import events as ev

if TYPE_CHECKING:
    from callcenter.telephony.hotline import HotlineDriver, _CallCtx

log = logging.getLogger(__name__)
_IVR_ITEMS = {"quality": "repair_quality"}  # survey column -> IVR item name
Seed = str | int | None


@dataclass(frozen=True)
class OutboundTarget:
    """The callback an answered outbound call belongs to, and its flow's context."""

    callback_id: int
    kind: CallbackKind
    flow: str
    customer_id: int | None
    timezone: str
    language: str | None
    seeds: dict[str, Seed] = field(default_factory=dict)


async def outbound_target(attempt_id: str, uow: UnitOfWork) -> OutboundTarget | None:
    """What the call for dial attempt `attempt_id` is about; None for an unknown attempt."""
    async with uow:
        attempt = await uow.callbacks.attempt(attempt_id)
        cb = await uow.callbacks.get(attempt.callback_id) if attempt is not None else None
        if cb is None:
            return None
        seeds: dict[str, Seed] = {"callback_id": cb.id, "callback_kind": str(cb.kind)}
        job_id = cb.job_id
        if cb.complaint_id is not None:
            complaint = await uow.complaints.get(cb.complaint_id)
            if complaint is not None:
                seeds.update(complaint_id=complaint.complaint_id, ticket=complaint.ticket,
                             complaint_state=str(complaint.state))
                job_id = job_id or complaint.job_id
        if cb.survey_id is not None:
            survey = await uow.surveys.get(cb.survey_id)
            if survey is not None:
                seeds["survey_id"] = survey.id
                for column, grade in survey.grades.items():
                    name = _IVR_ITEMS.get(column, column)
                    seeds[f"recorded_{name}"] = None if grade is None else grade.value
                job_id = job_id or survey.job_id
        if job_id is not None:
            job = await uow.surveys.job(job_id)
            if job is not None:
                seeds.update(job_id=job.id, job_reference=job.reference)
        customer = (await uow.customers.get(cb.customer_id)
                    if cb.customer_id is not None else None)
        return OutboundTarget(
            callback_id=cb.id, kind=cb.kind, flow=cb.flow, customer_id=cb.customer_id,
            timezone=cb.timezone, language=customer.language if customer else None, seeds=seeds,
        )


def _callback_id(ctx: _CallCtx) -> int | None:
    value = (ctx.session.context.outbound or {}).get("callback_id")
    return None if value is None else int(value)


async def perform_followup_verdict(
    driver: HotlineDriver, ctx: _CallCtx, effect: act.RecordFollowupVerdict
) -> ev.Event:
    from callcenter.complaints.policy import complaint_policy
    from crm.services.complaints import Actor, record_followup_verdict

    verdict = Verdict.SATISFIED if effect.satisfied else Verdict.DISSATISFIED
    note = (f"service rated {effect.service_grade} on the follow-up call"
            if effect.service_grade else "service not rated on the follow-up call")
    record = await record_followup_verdict(
        effect.complaint_id, verdict, driver.uow(), clock=driver.clock,
        actor=Actor.system("followup-ivr"), note=note, policy=complaint_policy(driver.settings),
        callback_id=_callback_id(ctx),
    )
    return ev.FollowupRecorded(reopened=record.state == ComplaintState.REOPENED)


async def perform_confirm_survey(
    driver: HotlineDriver, ctx: _CallCtx, effect: act.ConfirmSurvey
) -> ev.Event:
    if effect.confirmed:
        note = "the customer confirmed the recorded grades on a verification call"
    else:
        said = ", ".join(f"{item} {grade}" for item, grade in effect.grades.items())
        note = ("the customer says the recorded grades are wrong"
                + (f"; the customer's grades: {said}" if said else ""))
    verification = await record_verification(
        effect.survey_id, effect.confirmed, driver.uow(), driver.clock,
        callback_id=_callback_id(ctx), note=note)
    return ev.SurveyConfirmed(verification)


async def perform_complete_callback(
    driver: HotlineDriver, ctx: _CallCtx, effect: act.CompleteCallback
) -> ev.Event | None:
    callback_id = _callback_id(ctx)
    if callback_id is None:
        return ev.EffectFailed("CompleteCallback", "the call belongs to no callback")
    done = await complete_callback(callback_id, effect.disposition, effect.feedback, None,
                                   driver.uow(), driver.clock,
                                   problems=callback_problem_policy(driver.settings))
    log.info("callback %s completed: %s", done.id, done.disposition)
    return None


OUTBOUND_PERFORMERS = {
    act.RecordFollowupVerdict: perform_followup_verdict,
    act.ConfirmSurvey: perform_confirm_survey,
    act.CompleteCallback: perform_complete_callback,
}
