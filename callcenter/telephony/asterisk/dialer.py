"""The Asterisk `Dialer` for callbacks: AMI Originate, OriginateResponse -> dial outcome.

Guarantees (the `crm.services.callback_ports.Dialer` contract):
- Our attempt id is the Originate's ActionID *and* ChannelId, so the call's
  Uniqueid and Linkedid are the attempt id: the call log, the `/callback`
  FastAGI flow and `lookup` all find the call by it.
- `dial` raises `DialRejected` only when Asterisk certainly placed nothing
  (not connected: nothing was sent; `Response: Error`). A timeout or a
  dropped connection propagates as "may have been placed" and the Originate
  is never sent again by us (the AMI client never replays actions).
- OriginateResponse reasons map to outcomes: 4 answered, 5 busy, 8
  congestion, 3 (rang out) and 1 (hung up before answer) no answer,
  anything else failed; the outcome is recorded once through
  `crm.services.callbacks.record_dial_result`. When an answered call's
  Linkedid ends, `record_call_ended` completes the callback.
- `lookup` asks Asterisk (CoreShowChannels) whether the attempt's channel
  is live; otherwise answers from the outcomes this process saw; `None`
  means Asterisk has no trace of it.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import datetime

from callcenter.clock import Clock
from callcenter.logs import bind_call_id
from callcenter.storage.engine import Database
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.telephony.asterisk import ami_actions
from callcenter.telephony.asterisk.ami_client import AmiClient, AmiNotConnected
from callcenter.telephony.asterisk.ami_protocol import AmiEvent, AmiResponse, EventListResult
from callcenter.telephony.asterisk.call_log import AmiCallLog, OutboundCall
from crm.callbacks import RetryPolicy
from crm.enums import Carrier, DialOutcome
from crm.services.callback_ports import (
    DialLookup,
    DialRejected,
    DialRequest,
    DialStarted,
    PlacedAttempt,
)

log = logging.getLogger(__name__)

ORIGINATE_REASONS: dict[int, DialOutcome] = {
    4: DialOutcome.ANSWERED,
    5: DialOutcome.BUSY,
    8: DialOutcome.CONGESTION,
    3: DialOutcome.NO_ANSWER,
    1: DialOutcome.NO_ANSWER,
}
CALLBACK_CONTEXT = "callback-outbound"


def outcome_of(event: AmiEvent) -> DialOutcome:
    """OriginateResponse -> outcome; an unknown or missing reason is a failure."""
    try:
        reason = int(event.fields.get("Reason") or "0")
    except ValueError:
        return DialOutcome.FAILED
    outcome = ORIGINATE_REASONS.get(reason, DialOutcome.FAILED)
    if outcome is DialOutcome.ANSWERED and (event.fields.get("Response") or "").lower() != "success":
        return DialOutcome.FAILED
    return outcome


class AsteriskDialer:
    carrier = str(Carrier.ASTERISK)

    def __init__(
        self, ami: AmiClient, db: Database, clock: Clock, *, trunk: str = "PJSIP/{number}@trunk",
        context: str = CALLBACK_CONTEXT, memory: int = 10_000,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.ami, self.db, self.clock = ami, db, clock
        self.policy = policy  # retries after busy / no answer (None: the built-in defaults)
        self.trunk, self.context = trunk, context
        self._placed: OrderedDict[str, OutboundCall] = OrderedDict()
        self._outcomes: OrderedDict[str, DialOutcome] = OrderedDict()
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._memory = memory

    def attach(self, call_log: AmiCallLog | None = None) -> None:
        self.ami.on_event("OriginateResponse", self.on_originate_response)
        if call_log is not None:
            call_log.outbound = self.placed
            call_log.ended_hooks.append(self.on_call_ended)

    def placed(self, attempt_id: str) -> OutboundCall | None:
        return self._placed.get(attempt_id)

    def _remember(self, store: OrderedDict, key: str, value: object) -> None:  # type: ignore[type-arg]
        store[key] = value
        while len(store) > self._memory:
            store.popitem(last=False)

    async def dial(self, req: DialRequest) -> DialStarted:
        action = ami_actions.originate(
            req.attempt_id, self.trunk.format(number=req.number),
            context=self.context, exten="s", priority=1,
            caller_id=req.caller_id or None, timeout_ms=req.timeout_s * 1000,
            channel_id=req.attempt_id,
            variables={"CALLBACK_ATTEMPT": req.attempt_id, "CALLBACK_FLOW": req.flow,
                       "CALLBACK_ID": str(req.callback_id), "CALLBACK_NUMBER": req.number},
        )
        self._remember(self._placed, req.attempt_id,
                       OutboundCall(req.attempt_id, req.number, req.caller_id or None))
        try:
            answer = await self.ami.action(action)
        except AmiNotConnected as exc:
            self._placed.pop(req.attempt_id, None)
            raise DialRejected(f"Asterisk AMI not connected; no call placed ({exc})") from exc
        if isinstance(answer, AmiResponse) and not answer.ok:
            self._placed.pop(req.attempt_id, None)
            raise DialRejected(f"Asterisk refused the Originate: {answer.message}")
        return DialStarted(self.carrier, req.attempt_id)

    async def on_originate_response(self, event: AmiEvent) -> None:
        attempt_id = event.action_id
        if attempt_id is None or attempt_id not in self._placed:
            return  # not one of ours (or from before a restart: reconcile settles it)
        outcome = outcome_of(event)
        self._remember(self._outcomes, attempt_id, outcome)
        uniqueid = event.fields.get("Uniqueid")
        carrier_call_id = uniqueid if uniqueid and uniqueid != "<null>" else attempt_id
        from crm.services.callbacks import UnknownCallback, record_dial_result

        with bind_call_id(attempt_id):
            log.info("callback dial %s", outcome)
            try:
                await record_dial_result(attempt_id, outcome, carrier_call_id,
                                         SqlUnitOfWork(self.db), self.clock, self.policy)
            except UnknownCallback:
                log.warning("OriginateResponse for an attempt the callbacks do not know")

    async def on_call_ended(self, linkedid: str, at: datetime) -> None:
        if linkedid not in self._placed:
            return
        self._remember(self._ended, linkedid, None)
        if self._outcomes.get(linkedid) is not DialOutcome.ANSWERED:
            return
        from crm.services.callbacks import UnknownCallback, record_call_ended

        try:
            await record_call_ended(linkedid, SqlUnitOfWork(self.db), self.clock)
        except UnknownCallback:
            log.warning("answered callback %s ended but its attempt is unknown", linkedid)

    async def lookup(self, attempt: PlacedAttempt) -> DialLookup | None:
        answer = await self.ami.action(ami_actions.core_show_channels)
        attempt_id = attempt.attempt_id
        if isinstance(answer, EventListResult):
            for channel in answer.events:
                f = channel.fields
                if attempt_id in (f.get("Uniqueid"), f.get("Linkedid")):
                    up = f.get("ChannelState") == "6" or (f.get("ChannelStateDesc") or "") == "Up"
                    return DialLookup(attempt_id, DialOutcome.ANSWERED if up else None, ended=False)
        outcome = self._outcomes.get(attempt_id)
        if outcome is not None:
            return DialLookup(attempt_id, outcome, ended=True)
        return None
