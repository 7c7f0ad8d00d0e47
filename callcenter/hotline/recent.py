"""The calls this process stored last, so that a call's next webhook need not read it.

`RecentCalls` keeps, per carrier call id, the call as this process last
stored it (its open, a turn's save, a settling), bounded: the least recently
used goes first, and a call that ended or that this process changed another
way (a queue hand-off, a hang-up) is dropped. A turn may use the call kept
here instead of reading it (`callcenter.hotline.turns`) because every batched
write is guarded by the whole record it was given (`ports.GUARDED_FIELDS`):
if another process moved the call on, or wrote anything to it, the write
stores nothing, the turn forgets the call and runs again on a fresh read. So
a call kept here is never more than a guess that the write checks: no lock
and no transaction is held open between webhooks, and any process can still
serve any webhook of any call (one that does not have the call reads it).
"""

from __future__ import annotations

from collections import OrderedDict

from crm.calls import CallRecord

#: calls kept per process: live calls only (an ended call is dropped), about 2 KB each
CALLS_KEPT = 2048


class RecentCalls:
    """The calls this process stored last, by (carrier, carrier call id); see the module doc."""

    def __init__(self, limit: int = CALLS_KEPT) -> None:
        self.limit = limit
        self._calls: OrderedDict[tuple[str, str], CallRecord] = OrderedDict()

    def __len__(self) -> int:
        return len(self._calls)

    def get(self, carrier: str, carrier_call_id: str) -> CallRecord | None:
        """The call as this process last stored it (None: not kept)."""
        return self._calls.get((carrier, carrier_call_id))

    def remember(self, call: CallRecord) -> None:
        """Keep `call`, as stored just now; an ended call is dropped instead."""
        key = (call.carrier, call.carrier_call_id)
        if call.ended_at is not None or not call.ivr_state:
            self._calls.pop(key, None)
            return
        self._calls[key] = call
        self._calls.move_to_end(key)
        while len(self._calls) > self.limit:
            self._calls.popitem(last=False)

    def forget(self, carrier: str, carrier_call_id: str) -> None:
        self._calls.pop((carrier, carrier_call_id), None)
