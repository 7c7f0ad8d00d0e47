"""The verification sample as the monthly score reads it (`crm.sampling`, Rule 3).

Guarantee: a survey of the month that still awaits verification and was
never drawn is counted (``SURVEY_SAMPLE_UNSAMPLED=count``: scored as if
checked) or left out as pending (``exclude``, the default); a drawn survey
counts only once a supervisor or the customer has confirmed it. The report
says per department how many were drawn and how many were never drawn, and
which rule applied.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import aliased

from callcenter.storage.engine import Database
from callcenter.storage.tables import (
    Callback,
    ServiceJob,
    Survey,
    VerificationDraw,
    VerificationSampleSurvey,
)
from crm.enums import CallbackKind, SurveySource, SurveyVerification
from crm.sampling import UnsampledRule

__all__ = ["scored_in", "drawn_survey_ids", "apply_unsampled_rule", "month_draws"]

_KEYED = [SurveySource.IVR.value, SurveySource.CALLBACK.value]


def scored_in(query: Select[Any], start: datetime, end: datetime) -> Select[Any]:
    """``query`` (over `Survey`) narrowed to the surveys a month's score reads: those whose
    job was completed in ``[start, end)``, or taken then when they have no completed job
    (the rule of `loaders.load_scored_surveys`)."""
    job = aliased(ServiceJob)
    return query.outerjoin(job, job.id == Survey.job_id).where(or_(
        and_(job.completed_at >= start, job.completed_at < end),
        and_(job.completed_at.is_(None), Survey.surveyed_at >= start, Survey.surveyed_at < end)))


async def drawn_survey_ids(db: Database, start: datetime, end: datetime) -> set[int]:
    """Ids of the drawn surveys the score of ``[start, end)`` reads."""
    async with db.sessions() as session:
        rows = await session.scalars(scored_in(
            select(VerificationSampleSurvey.survey_id)
            .join(Survey, Survey.id == VerificationSampleSurvey.survey_id), start, end))
        return set(rows)


def apply_unsampled_rule(surveys: pd.DataFrame, drawn: set[int], rule: UnsampledRule | str,
                         month: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The month's survey rows with the rule applied, and the report's sample section."""
    rule = UnsampledRule(rule)
    verification = surveys["verification"].astype("object")
    source = surveys["source"].astype("object")
    in_month = (surveys["month"].astype("object") == month).to_numpy()
    awaiting = (surveys["complete"].fillna(False).astype(bool)
                & ((verification == SurveyVerification.PENDING.value)
                   | ((verification == SurveyVerification.FIRST_HAND.value)
                      & ~source.isin(_KEYED)))).to_numpy() & in_month
    was_drawn = surveys["survey_id"].isin(list(drawn)).to_numpy() & in_month
    unsampled = awaiting & ~was_drawn
    departments: dict[str, dict[str, int]] = {}
    for dept, d, u in zip(surveys["department_id"], was_drawn, unsampled, strict=True):
        entry = departments.setdefault(str(dept), {"drawn": 0, "never_drawn": 0})
        entry["drawn"] += int(d)
        entry["never_drawn"] += int(u)
    if rule is UnsampledRule.COUNT and unsampled.any():
        surveys = surveys.copy()
        # what was stored: an unchecked form counted "as if checked" is not a supervisor-
        # verified one when the score picks one survey per job (`reports.survey_frame`)
        surveys["stored_verification"] = surveys["verification"]
        surveys["verification"] = verification.where(
            ~unsampled, SurveyVerification.VERIFIED.value).astype("category")
    section = {"rule": str(rule), "explanation": (
        "surveys awaiting verification that were never drawn for a check are counted"
        if rule is UnsampledRule.COUNT else
        "surveys awaiting verification count only once checked; those never drawn are left out"),
        "departments": {k: v for k, v in sorted(departments.items()) if v["drawn"] or v["never_drawn"]}}
    return surveys, section


async def month_draws(db: Database, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The draws of the periods starting in ``[start, end)``, oldest first, each with its
    drawn surveys: verification state, grades, department and the verification call's state."""
    async with db.sessions() as session:
        draws = (await session.scalars(
            select(VerificationDraw).where(VerificationDraw.period_start >= start,
                                           VerificationDraw.period_start < end)
            .order_by(VerificationDraw.period_start))).all()
        ids = [d.id for d in draws]
        rows = (await session.execute(
            select(VerificationSampleSurvey.draw_id, Survey.id, Survey.department_id,
                   Survey.source, Survey.verification, Survey.timeliness, Survey.quality,
                   Survey.attitude, Callback.state, Callback.disposition)
            .join(Survey, Survey.id == VerificationSampleSurvey.survey_id)
            .outerjoin(Callback, (Callback.survey_id == Survey.id)
                       & (Callback.kind == CallbackKind.SURVEY_VERIFICATION.value))
            .where(VerificationSampleSurvey.draw_id.in_(ids))
            .order_by(VerificationSampleSurvey.draw_id, Survey.id))).all() if ids else []
    drawn: dict[int, list[dict[str, Any]]] = {}
    for draw_id, sid, dept, source, verification, t, q, a, call_state, disposition in rows:
        drawn.setdefault(draw_id, []).append({
            "survey_id": sid, "department_id": dept, "source": source,
            "verification": verification, "grades": f"{t or '-'}{q or '-'}{a or '-'}",
            "call": None if call_state is None else {"state": call_state,
                                                     "disposition": disposition}})
    return [{"period": d.label, "cadence": d.cadence, "drawn_at": d.drawn_at.isoformat(),
             "percentage": d.percentage, "minimum": d.minimum, "departments": d.departments,
             "surveys": drawn.get(d.id, [])} for d in draws]
