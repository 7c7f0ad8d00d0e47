"""The checks of supervision apart from execution (001), shared by every use case that needs them.

Guarantees:
- `check_survey_supervisor` is called by every use case that verifies,
  disputes or corrects a survey (`crm.services.surveys`, the callback
  outcome in `crm.services.callbacks`), inside its unit of work and before
  any write; a refusal is stored and raised by `crm.services.refusals.refuse`
  (rule: `crm.access.survey_supervisor_refusal`).
- `check_verdict_recorder` is called by the use cases that record a
  complaint's follow-up verdict or close it (rule: `crm.access.verdict_refusal`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from crm.access import SurveyFacts, survey_supervisor_refusal, verdict_refusal
from crm.identity import Identity
from crm.services.refusals import refuse
from crm.surveys import SurveyNotFound

if TYPE_CHECKING:
    from crm.services.complaint_ports import ComplaintRecord
    from crm.services.unit_of_work import UnitOfWork

__all__ = ["check_survey_supervisor", "check_verdict_recorder"]


async def check_survey_supervisor(
    uow: UnitOfWork, actor: Identity | None, survey_id: int, action: str, at: datetime,
) -> SurveyFacts:
    facts = await uow.surveys.supervision_facts(survey_id)
    if facts is None:
        raise SurveyNotFound(f"no survey with id {survey_id}")
    scored = (await uow.complaints.department_subtree(facts.department_id)
              if facts.department_id is not None else set())
    reason = survey_supervisor_refusal(actor, facts, scored)
    if reason is not None:
        await refuse(uow, actor, action, f"survey:{survey_id}", reason, at)
    return facts


async def check_verdict_recorder(
    uow: UnitOfWork, actor: Identity | None, record: ComplaintRecord, action: str, at: datetime,
    *, followup_holder_id: int | None = None,
) -> None:
    departments: set[int] = set()
    responsible = {record.owner_id} if record.owner_id is not None else set()
    if record.department_id is not None:
        departments = await uow.complaints.department_subtree(record.department_id)
        chain = await uow.complaints.department_chain(record.department_id)
        responsible |= {link.manager_id for link in chain if link.manager_id is not None}
    reason = verdict_refusal(actor, complaint_departments=departments,
                             responsible_ids=responsible, followup_holder_id=followup_holder_id)
    if reason is not None:
        await refuse(uow, actor, action, f"complaint:{record.complaint_id}", reason, at)
