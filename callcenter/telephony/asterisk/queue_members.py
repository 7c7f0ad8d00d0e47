"""Agent states drive the Asterisk queue: QueueAdd / QueueRemove / QueuePause over AMI.

Guarantees:
- The stored agent state is the truth; the queue follows it. A state change
  is committed first (the screen-pop's `_write_state`), then applied here:
  logged out = not a member; not ready / wrap-up = paused with the reason;
  ready, ringing, on a call, on hold = an unpaused member.
- Only changes of membership cost AMI round trips (ringing -> on call does not).
- An AMI failure while applying (not connected, timeout, an error answer) is
  logged and changes nothing stored; `resync` (after every AMI login and
  periodically) reads the queue back with QueueStatus, fixes each difference
  and logs it, so the stored state and the queue end consistent.
- Members we do not manage (static members, other interfaces) are left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from callcenter.storage.engine import Database
from callcenter.storage.tables import AgentState, Staff
from callcenter.telephony.asterisk import ami_actions
from callcenter.telephony.asterisk.ami_client import AmiClient, AmiError
from callcenter.telephony.asterisk.ami_protocol import AmiResponse, EventListResult
from callcenter.telephony.asterisk.errors import LocalProtocolError
from crm.agent_states import AgentState as State
from crm.agent_states import QueueMembership, queue_membership

__all__ = ["QueueMembers", "QueueSyncReport"]

log = logging.getLogger(__name__)
ANSWER_WITHIN_S = 3.0
_OUT = QueueMembership(member=False, paused=False)


@dataclass
class QueueSyncReport:
    checked: int = 0
    fixed: int = 0
    failed: int = 0


class QueueMembers:
    def __init__(self, client: AmiClient, db: Database, queue: str, interface_template: str) -> None:
        self.client, self.db, self.queue = client, db, queue
        self.interface_template = interface_template
        self._applied: dict[str, QueueMembership] = {}  # interface -> what the queue has

    def interface(self, extension: str) -> str:
        return self.interface_template.format(extension=extension)

    async def _extension_of(self, staff_id: int) -> str | None:
        async with self.db.sessions() as session:
            staff = await session.get(Staff, staff_id)
        return staff.extension if staff is not None and staff.extension else None

    async def on_state(self, staff_id: int, status: str, reason: str | None) -> None:
        """Listener for the screen-pop's committed state changes."""
        extension = await self._extension_of(staff_id)
        if extension is None:
            return  # no phone in the queue (a web-only agent)
        wanted = queue_membership(status, reason)
        interface = self.interface(extension)
        if self._applied.get(interface) == wanted:
            return
        await self._apply(interface, self._applied.get(interface), wanted)

    async def _send(self, action: Callable[[str], ami_actions.Action],
                    tolerated: tuple[str, ...] = ()) -> bool:
        try:
            answer = await self.client.action(action, answer_within_s=ANSWER_WITHIN_S)
        except (AmiError, LocalProtocolError, OSError) as exc:  # not connected, closing, timeout
            log.warning("queue %s: AMI failed (%s); the next resync fixes it", self.queue, exc)
            return False
        if isinstance(answer, AmiResponse) and not answer.ok:
            text = (answer.message or "").lower()
            if any(t in text for t in tolerated):
                return True
            log.warning("queue %s: AMI refused: %s", self.queue, answer.message)
            return False
        return True

    async def _apply(self, interface: str, have: QueueMembership | None,
                     wanted: QueueMembership) -> bool:
        q = self.queue
        if not wanted.member:
            ok = await self._send(lambda aid: ami_actions.queue_remove(aid, q, interface),
                                  tolerated=("not there", "unable to remove"))
        else:
            ok = True
            if have is None or not have.member:
                ok = await self._send(
                    lambda aid: ami_actions.queue_add(aid, q, interface, paused=wanted.paused),
                    tolerated=("already there",))
            if ok:
                ok = await self._send(lambda aid: ami_actions.queue_pause(
                    aid, q, interface, wanted.paused, wanted.reason))
        if ok:
            self._applied[interface] = wanted
        else:
            self._applied.pop(interface, None)  # unknown now: the resync reads it back
        return ok

    async def _stored(self) -> dict[str, QueueMembership]:
        """What the stored agent states want of the queue, per interface."""
        async with self.db.sessions() as session:
            rows = (await session.execute(
                select(Staff.extension, AgentState.status, AgentState.reason)
                .join(AgentState, AgentState.staff_id == Staff.id, isouter=True)
                .where(Staff.active.is_(True), Staff.extension.is_not(None), Staff.extension != "")
            )).all()
        return {self.interface(ext): queue_membership(status or State.LOGGED_OUT, reason)
                for ext, status, reason in rows}

    async def read_queue(self) -> dict[str, tuple[QueueMembership, bool]] | None:
        """interface -> (membership, is dynamic) as Asterisk has it; None when AMI fails."""
        try:
            answer = await self.client.action(
                lambda aid: ami_actions.queue_status(aid, self.queue), answer_within_s=ANSWER_WITHIN_S)
        except (AmiError, LocalProtocolError, OSError) as exc:
            log.warning("queue %s: QueueStatus failed (%s)", self.queue, exc)
            return None
        if not isinstance(answer, EventListResult):
            log.warning("queue %s: QueueStatus gave no member list", self.queue)
            return None
        members: dict[str, tuple[QueueMembership, bool]] = {}
        for event in answer.events:
            if event.name != "QueueMember" or (event.fields.get("Queue") or self.queue) != self.queue:
                continue
            where = event.fields.get("Location") or event.fields.get("Interface") or ""
            paused = (event.fields.get("Paused") or "0").strip() in ("1", "true", "yes")
            dynamic = (event.fields.get("Membership") or "dynamic").lower() != "static"
            members[where] = (QueueMembership(True, paused, event.fields.get("PausedReason") or ""),
                              dynamic)
        return members

    async def resync(self) -> QueueSyncReport:
        """Make the queue match the stored states; log and fix every difference."""
        report = QueueSyncReport()
        have = await self.read_queue()
        if have is None:
            report.failed = 1
            return report
        stored = await self._stored()
        for interface, wanted in stored.items():
            report.checked += 1
            current, dynamic = have.get(interface, (_OUT, True))
            same = current.member == wanted.member and (
                not wanted.member or (current.paused == wanted.paused and
                                      (not wanted.paused or current.reason == wanted.reason)))
            if same:
                self._applied[interface] = wanted
                continue
            if not dynamic:
                log.info("queue %s: %s is a static member; left as configured", self.queue, interface)
                continue
            log.warning("queue %s: %s was %s in Asterisk, stored state wants %s; fixing",
                        self.queue, interface, current, wanted)
            if await self._apply(interface, current, wanted):
                report.fixed += 1
            else:
                report.failed += 1
        return report
