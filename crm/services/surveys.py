"""Use cases for surveys: store one (IVR, agent, paper, callback), verify it, correct it.

Guarantees:
- Supervision is separated from execution (001): only a supervisor outside
  the department a survey scores verifies, disputes or corrects it
  (`crm.services.supervision.check_survey_supervisor`, checked inside the use
  case whatever the entrypoint; a refusal is stored in `access_refusals` and
  changes nothing); every verification or correction writes an append-only
  `survey_audit` row (who, when, before, after) in the same transaction.
- The survey's department and technician come from its service job, so the
  people scored cannot choose where a survey counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from crm.access import SurveyFacts
from crm.enums import Grade, SurveySource, SurveyVerification
from crm.identity import Identity
from crm.job_references import reference_spellings, single_job
from crm.services.supervision import check_survey_supervisor
from crm.services.unit_of_work import UnitOfWork
from crm.surveys import (
    ITEMS,
    DisputeNeedsReason,
    JobNotServiced,
    JobRef,
    SurveyAlreadySettled,
    SurveyNotFound,
    SurveyRecord,
    first_hand_check,
    serviced_by,
)


class UnknownJob(LookupError):
    http_status = 404


@dataclass(frozen=True)
class SaveSurvey:
    job_id: int | None
    source: SurveySource
    grades: dict[str, Grade | None]
    at: datetime
    customer_id: int | None = None
    call_id: int | None = None
    entered_by: int | None = None
    note: str | None = None
    #: E.164 number the survey's call came from (inbound) or was placed to (callback);
    #: first-hand only when it is on the job's customer record
    number: str | None = None


class SurveyRepository(Protocol):
    async def job(self, job_id: int) -> JobRef | None: ...
    async def job_by_reference(self, reference: str) -> JobRef | None: ...
    async def last_completed_job(self, customer_id: int) -> JobRef | None: ...
    async def add(self, values: dict[str, Any]) -> SurveyRecord: ...
    async def get(self, survey_id: int) -> SurveyRecord | None: ...
    async def update(self, survey_id: int, **values: Any) -> None: ...
    async def audit(self, survey_id: int, at: datetime, actor_id: int | None, action: str,
                    before: dict[str, Any] | None, after: dict[str, Any] | None) -> None: ...
    async def supervision_facts(self, survey_id: int) -> SurveyFacts | None: ...


def _snapshot(s: SurveyRecord) -> dict[str, Any]:
    return {
        **{k: (v.value if v else None) for k, v in s.grades.items()},
        "complete": s.complete, "verification": s.verification.value, "source": s.source.value,
        **({"pending_reason": s.pending_reason} if s.pending_reason else {}),
    }


async def find_job_for_caller(customer_id: int | None, reference: str | None, uow: UnitOfWork,
                              at: datetime | None = None) -> JobRef | None:
    """The job to rate: by reference when given, else the caller's latest completed job.
    With ``at``, a job not completed by then is not found (a survey rates a finished repair)."""
    async with uow:
        if reference:
            # the job is rated whoever calls about it (e.g. from an office phone); from a
            # number not on its customer's record the survey waits for verification.
            # Keyed digits may name a prefixed reference; several jobs: none (`crm.job_references`)
            job = single_job([await uow.surveys.job_by_reference(spelling)
                              for spelling in reference_spellings(reference)])
            return None if job is None or (at is not None and not serviced_by(job, at)) else job
        if customer_id is None:
            return None
        job = await uow.surveys.last_completed_job(customer_id)
        return None if job is None or (at is not None and not serviced_by(job, at)) else job


async def save_survey(cmd: SaveSurvey, uow: UnitOfWork) -> SurveyRecord:
    unknown = set(cmd.grades) - set(ITEMS)
    if unknown:
        raise ValueError(f"unknown survey item(s) {sorted(unknown)}; items are {ITEMS}")
    async with uow:
        job = await uow.surveys.job(cmd.job_id) if cmd.job_id is not None else None
        if cmd.job_id is not None and job is None:
            raise UnknownJob(f"no service job with id {cmd.job_id}")
        if job is not None and not serviced_by(job, cmd.at):
            raise JobNotServiced(
                f"job {job.reference} was not completed by {cmd.at.isoformat()}: a survey "
                "rates a finished repair")
        grades = {item: cmd.grades.get(item) for item in ITEMS}
        complete = all(g is not None for g in grades.values())
        verification, reason = first_hand_check(cmd.source, job, cmd.number)
        survey = await uow.surveys.add({
            "job_id": cmd.job_id,
            "customer_id": cmd.customer_id or (job.customer_id if job else None),
            "department_id": job.department_id if job else None,
            "staff_id": job.technician_id if job else None,
            "call_id": cmd.call_id,
            "surveyed_at": cmd.at,
            "source": cmd.source.value,
            **{k: (v.value if v else None) for k, v in grades.items()},
            "complete": complete,
            "verification": verification.value,
            "pending_reason": reason,
            "entered_by": cmd.entered_by,
            "note": cmd.note,
        })
        await uow.surveys.audit(survey.id, cmd.at, cmd.entered_by, "created", None, _snapshot(survey))
        await uow.commit()
        return survey


async def verify_survey(
    survey_id: int, confirmed: bool, actor: Identity | None, at: datetime, uow: UnitOfWork,
    *, note: str | None = None,
) -> SurveyRecord:
    """Confirm (verified) or contradict (disputed) a pending survey. A first-hand survey
    is not confirmed (it needs nothing) but may be disputed with a reason (`note`): it
    then waits for verification (pending, the reason kept) like a keyed-in one.

    `actor` must be a supervisor outside the department the survey scores
    (`crm.access.survey_supervisor_refusal`); a refusal is audited and
    changes nothing (`crm.services.supervision`).
    """
    action = "survey.verify" if confirmed else "survey.dispute"
    async with uow:
        await check_survey_supervisor(uow, actor, survey_id, action, at)
        assert actor is not None  # the check refuses an anonymous actor
        survey = await uow.surveys.get(survey_id)
        if survey is None:
            raise SurveyNotFound(f"no survey with id {survey_id}")
        first_hand = survey.verification == SurveyVerification.FIRST_HAND
        if first_hand and confirmed:
            raise SurveyAlreadySettled("a first-hand IVR survey needs no verification")
        if first_hand:  # a supervisor doubts it came from the customer: it goes to verification
            if not (note or "").strip():
                raise DisputeNeedsReason("disputing a first-hand survey needs a reason (note)")
            await uow.surveys.update(
                survey_id, verification=SurveyVerification.PENDING.value,
                pending_reason=f"first-hand survey disputed by {actor.label}: {note}"[:2000])
        else:
            new = SurveyVerification.VERIFIED if confirmed else SurveyVerification.DISPUTED
            await uow.surveys.update(
                survey_id, verification=new.value, verified_by=actor.staff_id, verified_at=at,
            )
        after = await uow.surveys.get(survey_id)
        assert after is not None
        await uow.surveys.audit(
            survey_id, at, actor.staff_id,
            "verified" if confirmed else "disputed_first_hand" if first_hand else "disputed",
            _snapshot(survey), {**_snapshot(after), "note": note},
        )
        await uow.commit()
        return after


async def correct_survey(
    survey_id: int, grades: dict[str, Grade | None], actor: Identity, at: datetime,
    uow: UnitOfWork, *, reason: str,
) -> SurveyRecord:
    """A supervisor outside the scored department corrects grades (e.g. after a
    verification call); audited, and a refusal is audited too."""
    if not reason.strip():
        raise ValueError("a correction needs a reason")
    async with uow:
        await check_survey_supervisor(uow, actor, survey_id, "survey.correct", at)
        survey = await uow.surveys.get(survey_id)
        if survey is None:
            raise SurveyNotFound(f"no survey with id {survey_id}")
        merged = {**survey.grades, **{k: v for k, v in grades.items() if k in ITEMS}}
        await uow.surveys.update(
            survey_id, **{k: (v.value if v else None) for k, v in merged.items()},
            complete=all(v is not None for v in merged.values()),
        )
        after = await uow.surveys.get(survey_id)
        assert after is not None
        await uow.surveys.audit(survey_id, at, actor.staff_id, "corrected", _snapshot(survey),
                                {**_snapshot(after), "reason": reason})
        await uow.commit()
        return after
