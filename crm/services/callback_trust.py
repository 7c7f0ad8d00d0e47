"""Supervision callbacks dial only a trustworthy number, and count only from one.

The rules are `crm.callback_numbers`; this module applies them where a
supervision callback (`crm.access.SUPERVISION_CALLBACKS`: post-repair survey,
complaint follow-up, survey verification) is scheduled, dialled and answered:

- `numbers_to_dial`: the number each callback may dial now (the dispatcher asks
  just before every dial: the record may have changed since scheduling), the
  records of a whole claimed batch read at once; `number_to_dial` for one;
- `dialled_refusal`: why the answer on the call just made does not count
  (the number dialled was edited, moved or stamped meanwhile);
- `hold`: the callback goes to `held` with the reason in its data
  (`held`, `held_reason`), never dialled as it stands, shown in the callbacks
  list for the supervision staff; an answer it refuses leaves an audited
  `Refusal` row. Nothing the call said is counted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crm.access import SUPERVISION_CALLBACKS
from crm.callback_numbers import NO_TRUSTWORTHY_NUMBER, dialled_number_refusal, trustworthy_number
from crm.callbacks import CallbackAction, callback_transition
from crm.enums import CallbackState
from crm.services.callback_ports import CallbackRecord, CallbackRepository, JudgedCall
from crm.services.refusals import Refusal

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


def judges_anyone(cb: CallbackRecord) -> bool:
    """Does the answer on `cb` feed supervision (and so need a trustworthy number)?"""
    return cb.kind in SUPERVISION_CALLBACKS and cb.customer_id is not None


def judged_call(cb: CallbackRecord) -> JudgedCall:
    """What `cb` judges (`judges_anyone(cb)` must hold)."""
    assert cb.customer_id is not None
    return JudgedCall(cb.customer_id, cb.job_id, cb.complaint_id, cb.survey_id)


async def numbers_to_dial(repo: CallbackRepository, callbacks: Sequence[CallbackRecord],
                          ) -> dict[int, tuple[str | None, str | None]]:
    """By callback id: (number, None): dial it; (None, reason): no number may be dialled.
    The records of all `callbacks` are read at once."""
    calls = {judged_call(cb) for cb in callbacks if judges_anyone(cb)}
    found = await repo.judged_numbers_for(calls) if calls else {}
    out: dict[int, tuple[str | None, str | None]] = {}
    for cb in callbacks:
        if not judges_anyone(cb):
            out[cb.id] = cb.phone, None
        elif (numbers := found[judged_call(cb)]) is None:
            out[cb.id] = None, "the callback's customer no longer exists"
        else:
            out[cb.id] = trustworthy_number(numbers)
    return out


async def number_to_dial(repo: CallbackRepository,
                         cb: CallbackRecord) -> tuple[str | None, str | None]:
    """(number, None): dial it; (None, reason): no number may be dialled for `cb`."""
    return (await numbers_to_dial(repo, [cb]))[cb.id]


async def dialled_refusal(repo: CallbackRepository, cb: CallbackRecord) -> str | None:
    """Why an answer on `cb`'s call (to `cb.phone`) does not count now; None: it counts."""
    if not judges_anyone(cb):
        return None
    call = judged_call(cb)
    return dialled_number_refusal((await repo.judged_numbers_for([call]))[call], cb.phone)


def held_changes(cb: CallbackRecord, reason: str) -> dict[str, Any]:
    """The changes that hold `cb` (any state `HOLD` leaves) with `reason`."""
    return {"state": callback_transition(cb.state, CallbackAction.HOLD), "claimed_by": None,
            "claim_expires_at": None,
            "data": {**cb.data, "held": NO_TRUSTWORTHY_NUMBER, "held_reason": reason}}


async def hold(uow: UnitOfWork, cb: CallbackRecord, reason: str, now: datetime, *,
               refused: str | None = None) -> CallbackRecord:
    """Hold `cb` for the supervision staff (compare-and-set on its state; a callback that
    moved meanwhile is left as it is). `refused`: the action whose answer is refused, kept as
    an audited `Refusal` row. Call inside the use case's block; the caller commits."""
    changes = held_changes(cb, reason)
    moved = await uow.callbacks.change(cb.id, cb.state, changes)
    if refused is not None:
        await uow.refusals.add(Refusal(at=now, staff_id=None, actor="callback-flow",
                                       action=refused[:80], subject=f"callback:{cb.id}",
                                       reason=reason))
    if not moved:
        return cb
    log.warning("callback %s held: %s", cb.id, reason)
    return replace(cb, state=CallbackState.HELD, claimed_by=None, claim_expires_at=None,
                   data=changes["data"])
