"""The checks of supervision apart from execution (001), shared by every use case that needs them.

Guarantees:
- `check_survey_supervisor` is called by every use case that verifies,
  disputes or corrects a survey (`crm.services.surveys`, the callback
  outcome in `crm.services.callbacks`), inside its unit of work and before
  any write; a refusal is stored and raised by `crm.services.refusals.refuse`
  (rule: `crm.access.survey_supervisor_refusal`).
- `check_verdict_recorder` is called by the use cases that record a
  complaint's follow-up verdict or close it (rule: `crm.access.verdict_refusal`).
- `check_supervision_callback` is called by `complete_callback` for every
  callback whose outcome feeds supervision (rule:
  `crm.access.supervision_callback_refusal`); other callbacks pass.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from crm.access import (
    SUPERVISION_CALLBACKS,
    SurveyFacts,
    supervision_callback_refusal,
    survey_supervisor_refusal,
    verdict_refusal,
)
from crm.enums import CallbackKind
from crm.identity import Identity
from crm.services.refusals import refuse
from crm.surveys import SurveyNotFound

if TYPE_CHECKING:
    from crm.services.callback_ports import CallbackRecord
    from crm.services.complaint_ports import ComplaintRecord
    from crm.services.unit_of_work import UnitOfWork

__all__ = ["check_supervision_callback", "check_survey_supervisor", "check_verdict_recorder"]


async def check_survey_supervisor(
    uow: UnitOfWork, actor: Identity | None, survey_id: int, action: str, at: datetime,
) -> SurveyFacts:
    facts = await uow.surveys.supervision_facts(survey_id)
    if facts is None:
        raise SurveyNotFound(f"no survey with id {survey_id}")
    scored = await uow.complaints.department_scope(
        [facts.department_id] if facts.department_id is not None else [])
    reason = survey_supervisor_refusal(actor, facts, scored)
    if reason is not None:
        await refuse(uow, actor, action, f"survey:{survey_id}", reason, at)
    return facts


async def check_verdict_recorder(
    uow: UnitOfWork, actor: Identity | None, record: ComplaintRecord, action: str, at: datetime,
    *, followup_holder_id: int | None = None,
) -> None:
    departments = await uow.complaints.department_scope(
        [record.department_id] if record.department_id is not None else [])
    responsible = {record.owner_id} if record.owner_id is not None else set()
    if record.department_id is not None:
        chain = await uow.complaints.department_chain(record.department_id)
        responsible |= {link.manager_id for link in chain if link.manager_id is not None}
    reason = verdict_refusal(actor, complaint_departments=departments,
                             responsible_ids=responsible, followup_holder_id=followup_holder_id)
    if reason is not None:
        await refuse(uow, actor, action, f"complaint:{record.complaint_id}", reason, at)


async def check_supervision_callback(
    uow: UnitOfWork, actor: Identity | None, cb: CallbackRecord, action: str, at: datetime,
) -> None:
    """Refuse `actor` on a post-repair, complaint follow-up or verification callback unless
    they are callback staff or a supervisor outside the department it concerns."""
    if actor is None or cb.kind not in SUPERVISION_CALLBACKS:
        return
    department: int | None = None
    responsible: set[int] = set()
    if cb.kind is CallbackKind.POST_REPAIR and cb.job_id is not None:
        job = await uow.customers.get_job(cb.job_id)
        if job is not None:
            department = job.department_id
            responsible |= {job.technician_id} if job.technician_id is not None else set()
    elif cb.kind is CallbackKind.COMPLAINT_FOLLOWUP and cb.complaint_id is not None:
        complaint = await uow.complaints.get(cb.complaint_id)
        if complaint is not None:
            department = complaint.department_id
            responsible |= {complaint.owner_id} if complaint.owner_id is not None else set()
    elif cb.kind is CallbackKind.SURVEY_VERIFICATION and cb.survey_id is not None:
        survey = await uow.surveys.supervision_facts(cb.survey_id)
        if survey is not None:
            department = survey.department_id
            responsible |= {i for i in (survey.staff_id, survey.entered_by) if i is not None}
    if department is None and cb.customer_id is not None:  # no department named: the customer's
        customer = await uow.customers.get(cb.customer_id)
        department = customer.department_id if customer is not None else None
    concerned = await uow.complaints.department_scope([department] if department is not None else [])
    if department is not None:
        chain = await uow.complaints.department_chain(department)
        responsible |= {link.manager_id for link in chain if link.manager_id is not None}
    reason = supervision_callback_refusal(actor, concerned_departments=concerned,
                                          responsible_ids=responsible)
    if reason is not None:
        await refuse(uow, actor, action, f"callback:{cb.id}", reason, at)
