"""Post-repair callbacks feed the problem list (seed 000 §3.2: 在回访中遇见客户投诉问题要以表格的
方式反映到售后专人负责，并跟踪解决问题的时间).

Guarantees:
- `raise_callback_problem` runs after a post-repair callback was completed
  (and committed): when `crm.callback_problems.callback_problem` finds a
  problem (a D/E grade on the job's survey taken since the repair was completed,
  or a complaint spoken during the call), it opens a complaint through
  `open_complaint` (channel ``callback``, the job, routed to the after-sales
  department so its manager owns it, time limits running), links it to the
  callback (`complaint_id`) and records the callback's outcome as
  ``problem`` (the original disposition kept in the feedback), so the daily
  problem list and the callback figures count the customer.
- A callback already linked to a complaint is never raised twice; callbacks
  of other kinds, not completed, or without a known customer are left alone.
- Unreached callbacks are never problems (their disposition stays unreached).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crm.callback_problems import SPOKEN_COMPLAINT, callback_problem
from crm.enums import CallbackKind, CallbackState, ComplaintChannel
from crm.services.complaint_ports import (
    Actor,
    Clock,
    ComplaintPolicy,
    OpenComplaint,
    OpenedComplaint,
)

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallbackProblemPolicy:
    """Where a callback's problem goes: the after-sales department, under the complaint rules."""

    complaint: ComplaintPolicy = field(default_factory=ComplaintPolicy)
    department_code: str | None = None  # after-sales (售后); None: route by category


async def raise_callback_problem(
    callback_id: int, uow: UnitOfWork, *, clock: Clock, policy: CallbackProblemPolicy | None = None,
) -> OpenedComplaint | None:
    """Open the after-sales complaint for a completed post-repair callback that found a problem."""
    from crm.services.complaints import open_complaint

    policy = policy or CallbackProblemPolicy()
    async with uow:
        cb = await uow.callbacks.get(callback_id)
        if (cb is None or cb.kind is not CallbackKind.POST_REPAIR or cb.state is not CallbackState.COMPLETED
                or cb.complaint_id is not None or cb.customer_id is None):
            return None
        grades: dict[str, str | None] = {}
        if cb.job_id is not None:  # a post-repair callback is due from the repair's completion
            grades = await uow.callbacks.job_survey_grades(cb.job_id, cb.due_at)
    problem = callback_problem(cb.disposition, cb.feedback, grades)
    if problem is None:
        return None
    opened = await open_complaint(
        OpenComplaint(customer_id=cb.customer_id, channel=ComplaintChannel.CALLBACK,
                      category=problem.category, description=problem.summary, job_id=cb.job_id,
                      actor=Actor.system("callback"), department_code=policy.department_code),
        uow, clock=clock, policy=policy.complaint,
    )
    changes: dict[str, object] = {"complaint_id": opened.complaint_id}
    if (cb.disposition or "").strip().lower() not in SPOKEN_COMPLAINT:
        changes["disposition"] = "problem"
        changes["feedback"] = f"{cb.disposition}: {cb.feedback or ''}".strip().rstrip(":")
    async with uow:
        await uow.callbacks.change(cb.id, CallbackState.COMPLETED, changes)
        await uow.commit()
    log.info("callback %s found a problem: complaint %s for after-sales", cb.id, opened.ticket)
    return opened
