"""Outbound calls on the hotline: what an answered callback talks about.

`outbound_target(attempt_id, uow)` reads the callback behind a dial attempt
(the id the dispatcher handed the carrier) and gathers what its flow needs:
the job reference, the complaint ticket and its state (spoken on the
follow-up call: the customer is told it is resolved), the grades recorded on the survey
form, the callee's zone. The driver passes it to the IVR session as
`CallerContext.outbound` (plain values only).

The effect handlers (`callcenter.hotline.effects`) land the answers through
the use cases:

- `RecordFollowupVerdict` -> `crm.services.complaints.record_followup_verdict`
  (satisfied closes the complaint, dissatisfied reopens it as major);
- `ConfirmSurvey` -> `crm.services.callbacks.record_verification` (the survey
  becomes verified or disputed; the grades the customer says they gave go
  into the audit note for the supervisor, who alone may correct the form);
- `CompleteCallback` -> `crm.services.callbacks.complete_callback` (the
  disposition and the feedback, written as a contact on the customer).

A post-repair survey keyed on the call is saved by the `SaveSurvey` handler
with source `callback`, which counts first-hand (001).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callcenter.hotline.effects import SURVEY_COLUMNS
from crm.enums import CallbackKind
from crm.services.unit_of_work import UnitOfWork

_IVR_ITEMS = {column: item for item, column in SURVEY_COLUMNS.items()}  # survey column -> IVR item
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
