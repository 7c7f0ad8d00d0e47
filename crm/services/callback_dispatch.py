"""Dialing callbacks exactly once: claim, commit `dialing`, dial; settle lost claims.

Rule 1 (claim): a worker takes due callbacks with one compare-and-set
UPDATE (`CallbackRepository.claim_due`); a callback is never held by two.

Rule 2 (commit before the act): before any dial, the callback is committed as
`dialing` with a new attempt row whose id goes to the carrier. Just before
that commit the callback is checked again: past deadline -> expired; outside
the callee's local window -> back to scheduled at the next opening; on the
do-not-call list -> cancelled (`do_not_call`), never dialled. A supervision
callback (post-repair, complaint follow-up, survey verification) dials only a
number that qualifies now (`crm.callback_numbers`): the number is switched if
the record changed since scheduling, and with none the callback is `held`. The
records of the whole claimed batch are read at once, in a number of statements
that does not grow with the batch; a switch or a hold is one compare-and-set
UPDATE of that callback (guarded by the worker's claim).

Rule 3 (no blind redial): a claim whose worker vanished lapses; a callback
that was `dialing` or `in_call` becomes `unknown` and is settled only from the
carrier's record of our attempt (`Dialer.lookup`): still ringing -> left
unknown; answered -> in call or completed; busy / no answer... -> the retry
rules; no such call at the carrier -> the dial never left, the callback is
scheduled again without counting the attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from crm.call_windows import is_callable, next_allowed_time
from crm.callbacks import CallbackAction, RetryPolicy, callback_transition, is_expired
from crm.enums import CallbackState, DialOutcome
from crm.phones import mask_phone
from crm.services.callback_ports import (
    AttemptRecord,
    CallbackRecord,
    Dialer,
    DialRejected,
    DialRequest,
    PlacedAttempt,
)
from crm.services.callback_trust import held_changes, numbers_to_dial
from crm.services.callbacks import record_call_ended, record_dial_result, window_of

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
S = CallbackState


@dataclass(frozen=True)
class DispatchConfig:
    worker: str
    batch: int = 50  # callbacks claimed per pass
    claim_ttl: timedelta = timedelta(seconds=60)  # claimed, not yet dialing
    dial_ttl: timedelta = timedelta(seconds=120)  # dialing without a carrier report -> unknown
    caller_id: str = ""
    ring_timeout_s: int = 30
    max_parallel_dials: int = 25
    policy: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass
class SweepReport:
    released: int = 0
    lost: int = 0
    retries_due: int = 0
    expired: int = 0
    reconciled: int = 0

    @property
    def total(self) -> int:
        return self.released + self.lost + self.retries_due + self.expired + self.reconciled


async def claim_and_prepare(
    uow: UnitOfWork, clock: Clock, config: DispatchConfig, carrier: str
) -> list[DialRequest]:
    """Rules 1 and 2: claim due callbacks, then commit each as dialing (or set it aside)."""
    now = clock()
    async with uow:
        claimed = await uow.callbacks.claim_due(config.worker, now, config.batch,
                                                now + config.claim_ttl)
        await uow.commit()
    if not claimed:
        return []
    callback_transition(S.CLAIMED, CallbackAction.DIAL)  # the move below, checked once
    async with uow:
        repo = uow.callbacks
        claimed = await _trustworthy(uow, claimed, now, config)
        blocked = await repo.blocked_by_dnc(claimed)
        ready: list[int] = []
        for cb in claimed:
            changes = _set_aside(cb, cb.id in blocked, now, config)
            if changes is None:
                ready.append(cb.id)
            else:
                await repo.change(cb.id, S.CLAIMED, changes, expect_worker=config.worker)
        dialing = await repo.start_dials(ready, config.worker, now, now + config.dial_ttl, carrier)
        await uow.commit()
    return [DialRequest(cb.current_attempt_id or "", cb.id, cb.phone, config.caller_id, cb.flow,
                        config.ring_timeout_s) for cb in dialing]


async def _trustworthy(uow: UnitOfWork, claimed: list[CallbackRecord], now: datetime,
                       config: DispatchConfig) -> list[CallbackRecord]:
    """Rule 2, the number: a supervision callback dials only a number that qualifies now
    (`crm.callback_numbers`): switched to it if the record changed since scheduling, held
    (never dialled) when none does. Returns the callbacks still to dial, with their numbers."""
    numbers = await numbers_to_dial(uow.callbacks, claimed)  # one read for the batch
    keep: list[CallbackRecord] = []
    for cb in claimed:
        phone, reason = numbers[cb.id]  # a callback that judges nobody: its own number
        if phone is None:
            await uow.callbacks.change(cb.id, S.CLAIMED, held_changes(cb, reason or "held"),
                                       expect_worker=config.worker)
            log.warning("callback %s not dialled, held: %s", cb.id, reason)
        elif phone != cb.phone:
            if await uow.callbacks.change(cb.id, S.CLAIMED, {"phone": phone},
                                          expect_worker=config.worker):
                keep.append(replace(cb, phone=phone))
        else:
            keep.append(cb)
    return keep


def _set_aside(cb: CallbackRecord, dnc: bool, now: datetime,
               config: DispatchConfig) -> dict[str, Any] | None:
    """The changes for a claimed callback that must not be dialled now; None to dial it."""
    done = {"claimed_by": None, "claim_expires_at": None}
    if dnc:
        log.info("callback %s not dialled: do-not-call (%s)", cb.id, mask_phone(cb.phone))
        return {"state": callback_transition(cb.state, CallbackAction.CANCEL),
                "disposition": "do_not_call", "completed_at": now, **done}
    expired = {"state": callback_transition(cb.state, CallbackAction.EXPIRE),
               "disposition": "expired", "completed_at": now, **done}
    if cb.deadline_at is not None and is_expired(cb.deadline_at, now, config.policy):
        return expired
    zone, window = ZoneInfo(cb.timezone), window_of(cb)
    if is_callable(now, zone, window):
        return None
    opens = next_allowed_time(now, zone, window)
    if cb.deadline_at is not None and is_expired(cb.deadline_at, opens, config.policy):
        return expired
    return {"state": callback_transition(cb.state, CallbackAction.RELEASE),
            "next_attempt_at": opens, **done}


async def dispatch_once(
    uow_factory: Callable[[], UnitOfWork], dialer: Dialer, clock: Clock, config: DispatchConfig
) -> int:
    """One pass: claim, commit dialing, dial. Returns how many dials were sent."""
    requests = await claim_and_prepare(uow_factory(), clock, config, dialer.carrier)
    if not requests:
        return 0
    gate = asyncio.Semaphore(config.max_parallel_dials)
    carrier_ids: list[tuple[str, str]] = []
    # Past this instant the claim may be about to lapse and be reconciled as "never placed":
    # a dial sent that late could meet a second one, so it is not sent at all.
    send_by = clock() + config.dial_ttl / 2

    async def dial(req: DialRequest) -> None:
        async with gate:
            if clock() > send_by:
                log.warning("attempt %s not sent: too late for its claim; it will be "
                            "reconciled and scheduled again", req.attempt_id)
                return
            try:
                started = await dialer.dial(req)
            except DialRejected as exc:
                log.warning("attempt %s refused by %s: %s", req.attempt_id, dialer.carrier, exc)
                await record_dial_result(req.attempt_id, DialOutcome.FAILED, None, uow_factory(),
                                         clock, config.policy)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                # May or may not have been placed: the claim lapses into unknown and the
                # carrier's record decides (Rule 3).
                log.exception("attempt %s: dial outcome unknown; will reconcile", req.attempt_id)
                return
            if started.carrier_call_id:
                carrier_ids.append((req.attempt_id, started.carrier_call_id))

    await asyncio.gather(*(dial(r) for r in requests))
    if carrier_ids:
        async with uow_factory() as uow:
            await uow.callbacks.set_carrier_ids(carrier_ids)
            await uow.commit()
    return len(requests)


async def sweep(
    uow_factory: Callable[[], UnitOfWork], dialers: Mapping[str, Dialer], clock: Clock,
    config: DispatchConfig, reconcile_limit: int = 100,
) -> SweepReport:
    """Lapsed claims, retries now due, expired callbacks, and unknown ones reconciled."""
    now = clock()
    report = SweepReport()
    async with uow_factory() as uow:
        repo = uow.callbacks
        report.released, report.lost = await repo.lapse_claims(now)
        report.retries_due = await repo.promote_retries(now)
        report.expired = await repo.expire_overdue(now - config.policy.expiry_grace, now)
        await uow.commit()
        unknown = await repo.unknown(reconcile_limit)
    for cb, attempt in unknown:
        dialer = dialers.get(attempt.carrier)
        if dialer is None:
            log.error("callback %s: no %s dialer here to reconcile attempt %s", cb.id,
                      attempt.carrier, attempt.id)
            continue
        if await reconcile(cb, attempt, dialer, uow_factory, clock, config.policy):
            report.reconciled += 1
    return report


async def reconcile(
    cb: CallbackRecord, attempt: AttemptRecord, dialer: Dialer,
    uow_factory: Callable[[], UnitOfWork], clock: Clock, policy: RetryPolicy,
) -> bool:
    """Settle an unknown callback from the carrier's record (Rule 3); True when it moved."""
    found = await dialer.lookup(PlacedAttempt(attempt.id, cb.id, cb.phone, attempt.started_at,
                                              attempt.carrier_call_id))
    if found is None:
        return await _never_placed(cb, attempt, uow_factory(), clock)
    if found.outcome is None:
        return False  # still ringing: ask again on the next sweep
    changed = await record_dial_result(attempt.id, found.outcome, found.carrier_call_id,
                                       uow_factory(), clock, policy)
    if found.outcome is DialOutcome.ANSWERED and found.ended:
        changed = await record_call_ended(attempt.id, uow_factory(), clock) or changed
    return changed is not None


async def _never_placed(cb: CallbackRecord, attempt: AttemptRecord, uow: UnitOfWork,
                        clock: Clock) -> bool:
    now = clock()
    async with uow:
        repo = uow.callbacks
        moved = await repo.change(cb.id, S.UNKNOWN, {
            "state": callback_transition(S.UNKNOWN, CallbackAction.NOT_CONNECTED),
            "next_attempt_at": now, "attempts": max(cb.attempts - 1, 0), "claimed_by": None,
        }, expect_attempt=attempt.id)
        if moved:
            await repo.settle_attempt(attempt.id, "not_placed", now,
                                      detail="the carrier has no call for this attempt")
            await uow.commit()
            log.warning("callback %s: attempt %s never reached %s; scheduled again", cb.id,
                        attempt.id, attempt.carrier)
        return moved
