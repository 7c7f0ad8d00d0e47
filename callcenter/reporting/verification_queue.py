"""The supervisors' review of a month's surveys that do not count as they stand (read model).

Guarantees:
- The month is the *service* month, as in the score (`loaders.load_scored_surveys`):
  a survey is listed in the month its job was completed.
- ``pending``: the complete surveys still ``pending`` that stand for their job
  (`reports.survey_frame.choose_per_job`, the score's own choice), oldest first,
  each with the reason it waits (keyed from a number not on the customer record,
  paper form, agent...); each can be verified or disputed with
  `crm.services.surveys.verify_survey`.
- ``superseded``: every survey another survey of the same job stands in for,
  with the reason (which survey counts instead, and why it ranks higher), and
  its own verification state; a pending one can still be verified (a verified
  form ranks first and would then stand for the job).
- Exactly the surveys the score leaves out for these two reasons, so the page
  and the report's counts agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from callcenter.reporting.loaders import load_scored_surveys
from callcenter.reporting.pending import PendingSurvey
from callcenter.storage.engine import Database
from callcenter.storage.tables import Department, ServiceJob, Staff, Survey
from reports.rules import SEED_SUPERVISION_RULES, SupervisionRules, survey_precedence_text
from reports.survey_frame import PENDING, choose_per_job, survey_buckets
from reports.survey_tally import survey_kind

__all__ = ["PendingSurvey", "pending_surveys", "superseded_surveys", "month_review"]


async def _details(db: Database, ids: list[int]) -> dict[int, tuple[Any, ...]]:
    if not ids:
        return {}
    query = (
        select(Survey, ServiceJob.reference, Department.code, Staff.username)
        .outerjoin(ServiceJob, ServiceJob.id == Survey.job_id)
        .outerjoin(Department, Department.id == Survey.department_id)
        .outerjoin(Staff, Staff.id == Survey.staff_id)
        .where(Survey.id.in_(ids))
    )
    async with db.sessions() as session:
        return {s.id: (s, ref, code, user) for s, ref, code, user in
                (await session.execute(query)).all()}


def _row(details: tuple[Any, ...], reason: str) -> PendingSurvey:
    s, ref, code, user = details
    return PendingSurvey(s.id, s.surveyed_at, ref, code, user, s.source,
                         f"{s.timeliness or '-'}{s.quality or '-'}{s.attitude or '-'}",
                         reason, s.verification)


async def month_review(db: Database, start: datetime, end: datetime, tz: str,
                       rules: SupervisionRules = SEED_SUPERVISION_RULES, limit: int = 200,
                       ) -> tuple[list[PendingSurvey], list[PendingSurvey]]:
    """(pending, superseded) surveys of the service month ``[start, end)``, oldest first."""
    frame = await load_scored_surveys(db, start, end, tz)
    if frame.empty:
        return [], []
    frame = frame.sort_values(["surveyed_at", "survey_id"], kind="stable").reset_index(drop=True)
    buckets = survey_buckets(frame)
    months = np.zeros(len(frame), dtype=np.int64)  # one month: the window's
    chosen, winner, _ = choose_per_job(frame, buckets, months, rules)
    ids = frame["survey_id"].astype("int64").to_numpy()
    pending_at = np.flatnonzero(chosen & (buckets.bucket == PENDING))[:limit]
    superseded_at = np.flatnonzero(~chosen)[:limit]
    details = await _details(db, [int(ids[i]) for i in (*pending_at, *superseded_at)]
                             + [int(ids[winner[i]]) for i in superseded_at])
    pending = []
    for i in pending_at:
        survey = details[int(ids[i])][0]
        pending.append(_row(details[int(ids[i])], survey.pending_reason
                            or "waits for a supervisor's verification"))
    superseded = []
    order = survey_precedence_text(rules.survey_precedence).replace(",", " > ")
    for i in superseded_at:
        best = details[int(ids[winner[i]])][0]
        kind = survey_kind(best.source, best.verification)
        superseded.append(_row(details[int(ids[i])], (
            f"superseded by survey {best.id} ({kind}, {best.verification}) of the same job: "
            f"one survey counts per job, chosen by standing then precedence {order}")))
    return pending, superseded


async def pending_surveys(db: Database, start: datetime, end: datetime, tz: str,
                          rules: SupervisionRules = SEED_SUPERVISION_RULES,
                          limit: int = 200) -> list[PendingSurvey]:
    return (await month_review(db, start, end, tz, rules, limit))[0]


async def superseded_surveys(db: Database, start: datetime, end: datetime, tz: str,
                             rules: SupervisionRules = SEED_SUPERVISION_RULES,
                             limit: int = 200) -> list[PendingSurvey]:
    return (await month_review(db, start, end, tz, rules, limit))[1]
