"""Draw the periodic verification sample (`crm.sampling`) and queue its verification calls.

Guarantees:
- `draw_verification_samples` draws every period that has ended within the
  look-back and has no draw yet; each draw (the period, per department the
  surveys awaiting verification and those drawn, the drawn surveys) is
  committed in one transaction before its verification callbacks are
  queued, so a crash never leaves callbacks without their draw.
- A period is drawn once: a second draw of it, by this process or another
  (the unique period label decides), returns the stored draw unchanged. A
  survey is drawn at most once, ever.
- Drawn surveys get one verification callback each (unique source key),
  deadline 7 days after the draw; a survey whose customer has no phone stays
  drawn and pending, and the supervisor page lists it. The call goes only to
  a number nobody with a stake in the survey put on the record
  (`crm.callback_numbers`); with none, the callback is `held` with the reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from crm.call_windows import next_allowed_time
from crm.callbacks import (
    CallbackDeadlines,
    SurveyForSampling,
    deadline_for,
    priority_for,
    verification_sample,
)
from crm.enums import CallbackKind, SurveySource
from crm.sampling import Cadence, SamplePeriod, ended_periods
from crm.services.callback_ports import NewCallback
from crm.services.callbacks import (
    CallbackDefaults,
    CannotSchedule,
    UnknownCallback,
    _create,
    judged_contact,
)

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

Clock = Callable[[], datetime]

__all__ = ["Draw", "SampleCandidate", "SampleRepository", "draw_verification_samples",
           "draw_period"]


@dataclass(frozen=True, slots=True)
class SampleCandidate:
    survey_id: int
    department_id: int | None
    customer_id: int | None
    source: str


@dataclass(frozen=True)
class Draw:
    label: str
    period_start: datetime
    period_end: datetime
    drawn_at: datetime
    departments: dict[str, dict[str, int]]  # department id or "none" -> awaiting, drawn
    survey_ids: tuple[int, ...]


class SampleRepository(Protocol):
    async def draw(self, label: str) -> Draw | None: ...
    async def drawn_labels(self, labels: list[str]) -> set[str]: ...
    async def awaiting_verification(self, start: datetime, end: datetime) -> list[SampleCandidate]: ...
    async def add_draw(self, period: SamplePeriod, at: datetime, percentage: float, minimum: int,
                       departments: dict[str, dict[str, int]],
                       drawn: list[SampleCandidate]) -> bool: ...


def _key(department_id: int | None) -> str:
    return "none" if department_id is None else str(department_id)


async def draw_period(
    period: SamplePeriod, uow: UnitOfWork, clock: Clock, percentage: float = 10,
    minimum: int = 3, deadlines: CallbackDeadlines | None = None,
    defaults: CallbackDefaults | None = None,
) -> Draw:
    """The draw of one ended period: the stored one, or a new one (with its callbacks)."""
    now = clock()
    if period.end > now:
        raise ValueError(f"period {period.label} has not ended; it is drawn once it is over")
    async with uow:
        stored = await uow.samples.draw(period.label)
        if stored is not None:
            return stored
        candidates = await uow.samples.awaiting_verification(period.start, period.end)
        pool = [SurveyForSampling(c.survey_id, c.department_id or 0, period.label,
                                  SurveySource(c.source)) for c in candidates]
        picked = {s.survey_id for s in verification_sample(
            pool, percentage, minimum, seed=period.label, eligible=lambda _: True)}
        drawn = [c for c in candidates if c.survey_id in picked]
        awaiting = Counter(_key(c.department_id) for c in candidates)
        chosen = Counter(_key(c.department_id) for c in drawn)
        departments = {k: {"awaiting": n, "drawn": chosen[k]} for k, n in sorted(awaiting.items())}
        if not await uow.samples.add_draw(period, now, percentage, minimum, departments, drawn):
            await uow.rollback()  # another process drew it first: theirs stands
        else:
            await uow.commit()
    async with uow:
        stored = await uow.samples.draw(period.label)
        assert stored is not None
        await _queue_calls(uow, stored, candidates, now, deadlines, defaults or CallbackDefaults())
        await uow.commit()
    return stored


async def _queue_calls(uow: UnitOfWork, draw: Draw, candidates: list[SampleCandidate],
                       now: datetime, deadlines: CallbackDeadlines | None,
                       defaults: CallbackDefaults) -> None:
    by_id = {c.survey_id: c for c in candidates}
    kind = CallbackKind.SURVEY_VERIFICATION
    repo = uow.callbacks
    for survey_id in draw.survey_ids:
        survey = by_id.get(survey_id)
        if survey is None or survey.customer_id is None:
            continue  # nobody to call: stays drawn and pending, listed for the supervisors
        try:  # a number nobody with a stake in the survey added (`crm.callback_numbers`)
            contact, phone, held = await judged_contact(repo, survey.customer_id,
                                                        survey_id=survey_id)
        except (UnknownCallback, CannotSchedule):
            continue
        await _create(repo, NewCallback(
            source_key=f"survey-verification:{survey_id}", kind=kind,
            phone=phone, timezone=contact.timezone, priority=priority_for(kind),
            due_at=now, deadline_at=deadline_for(kind, now, deadlines),
            next_attempt_at=next_allowed_time(now, ZoneInfo(contact.timezone), defaults.window),
            customer_id=contact.customer_id, survey_id=survey_id, **defaults.as_new(),
        ), contact.do_not_call, now, held)


async def draw_verification_samples(
    uow: UnitOfWork, clock: Clock, centre_tz: str = "Asia/Shanghai",
    cadence: Cadence | str = Cadence.WEEK, percentage: float = 10, minimum: int = 3,
    lookback: timedelta = timedelta(days=45), deadlines: CallbackDeadlines | None = None,
    defaults: CallbackDefaults | None = None,
) -> list[Draw]:
    """Draw every ended, undrawn period of the look-back; returns the draws made now."""
    periods = ended_periods(clock(), cadence, ZoneInfo(centre_tz), lookback)
    async with uow:
        done = await uow.samples.drawn_labels([p.label for p in periods])
    made = []
    for period in periods:
        if period.label not in done:
            made.append(await draw_period(period, uow, clock, percentage, minimum, deadlines,
                                          defaults))
    return made
