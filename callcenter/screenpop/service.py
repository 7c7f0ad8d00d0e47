"""Screen-pop: from "the carrier rings agent X" to the caller's card on X's screen.

Guarantees:
- `offer` resolves the agent (extension, interface or username; cached), and
  looks the caller up with a deadline (`deadline_s`, 1 s): if the database
  answers in time the pop carries the card; otherwise the pop goes out at
  once with the number and `loading: true`, and a `card` message follows
  when the lookup finishes. The lookup task is kept and cancelled on shutdown.
- An unknown number gets a new unverified customer (`identify_caller`), so the
  agent can name it or link it; a withheld number pops with no card.
- Every state change is written to `agent_states` (status, current offer) in
  order per agent, after the pop is sent, so a browser that reconnects (to any
  process) gets the current offer again.
- An offer to a name that is no staff member (a Twilio group identity like
  "client:agents") pops on every ready agent; with nobody ready it is
  logged and dropped (the carrier still rings the phone).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import configure_mappers

from callcenter.appkeys import SCREENPOP, SERVICES
from callcenter.cards import card_out
from callcenter.clock import Clock
from callcenter.identities import identity_of, org_chart
from callcenter.screenpop.hub import NOTIFY_LIMIT, Bus, Hub, dumps
from callcenter.screenpop.offers import AgentStatus, CallOffer, agent_keys, message
from callcenter.screenpop.spans import record_span
from callcenter.storage.engine import Database
from callcenter.storage.tables import AgentState, Staff
from callcenter.storage.uow import SqlUnitOfWork
from crm.agent_states import InvalidAgentState
from crm.customers import Customer, CustomerCard, ivr_path_label
from crm.errors import InvalidPhoneNumber
from crm.identity import Identity
from crm.phones import mask_phone, normalize_phone
from crm.services.customers import customer_card, identify_caller

log = logging.getLogger(__name__)
STAFF_CACHE_S = 60.0
READ_ONLY = {"isolation_level": "AUTOCOMMIT"}  # the lookup only reads: each statement alone
POP_HISTORY = 10  # entries per list in the popped card; the page loads more from the API


class CarrierControl(Protocol):
    """What a carrier does for the agent page's buttons (Twilio: `TwilioCallControl`)."""

    async def hold(self, carrier_call_id: str, on_hold: bool) -> None: ...

    async def transfer(self, carrier_call_id: str, queue: str) -> None: ...


def card_json(card: CustomerCard) -> dict[str, Any]:
    return card_out(card).model_dump(mode="json")


class ScreenPop:
    def __init__(
        self, db: Database, hub: Hub, bus: Bus, clock: Clock, *, default_region: str,
        default_tz: str, deadline_s: float = 1.0, wrap_up_s: float = 30.0,
        hotline_codes: frozenset[str] = frozenset({"cc"}),
    ) -> None:
        self.db, self.hub, self.bus, self.clock = db, hub, bus, clock
        self.hotline_codes = hotline_codes  # normalised codes of the departments on the hotline
        self.wrap_up_s = wrap_up_s
        #: called with (staff_id, status, reason) after a status is committed, in order per agent
        #: (the Asterisk queue follows the states through one of these)
        self.state_listeners: list[Callable[[int, str, str | None], Awaitable[None]]] = []
        #: carriers whose calls the page holds / transfers by asking the carrier (by carrier name)
        self.carrier_controls: dict[str, CarrierControl] = {}
        self.default_region, self.default_tz, self.deadline_s = default_region, default_tz, deadline_s
        self._staff: dict[str, tuple[float, Identity | None]] = {}
        self._locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: set[asyncio.Task[Any]] = set()
        self._ids = itertools.count(1)

    # -- agents --------------------------------------------------------------------------

    async def resolve_agent(self, agent: str) -> Identity | None:
        keys = agent_keys(agent)
        if not keys:
            return None
        cached = self._staff.get(keys[0])
        if cached is not None and time.monotonic() - cached[0] < STAFF_CACHE_S:
            return cached[1]
        async with self.db.sessions() as session:
            rows = list(await session.scalars(
                select(Staff).where(
                    Staff.active.is_(True),
                    or_(Staff.extension.in_(keys), Staff.username.in_(keys)),
                )
            ))
            org = await org_chart(session, self.hotline_codes) if rows else None
        found: Identity | None = None
        for key in keys:  # most specific name first; extension before username
            for row in rows:
                if row.extension == key or (found is None and row.username == key):
                    found = identity_of(row, org)
                    break
            if found is not None:
                break
        self._staff[keys[0]] = (time.monotonic(), found)
        return found

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        tasks = list(self._tasks | self._timers)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def settle(self) -> None:
        """Wait for pending lookups and state writes (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- state in the database -------------------------------------------------------------

    async def _write_state(
        self, staff_id: int, *, status: str | None = None, offer: Any = ...,
        at: datetime | None = None, reason: str | None = None,
    ) -> None:
        """Store the agent's status / offer; a status is also a span of the state-time log."""
        when = at or self.clock()
        values: dict[str, Any] = {"updated_at": when}
        if status is not None:
            values["status"] = status
            values["reason"] = reason
        if offer is not ...:
            values["current_offer"] = offer
        insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        stmt = insert(AgentState).values(
            staff_id=staff_id, status=values.get("status", AgentStatus.NOT_READY.value),
            reason=values.get("reason"), current_offer=values.get("current_offer"),
            updated_at=when,
        ).on_conflict_do_update(index_elements=[AgentState.staff_id], set_=values)
        async with self._locks[staff_id]:
            if status is None:
                async with self.db.engine.connect() as conn:  # one statement: no BEGIN / COMMIT
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    await conn.execute(stmt)
                return
            call_id = (offer or {}).get("carrier_call_id") if isinstance(offer, dict) else None
            async with self.db.engine.begin() as conn:
                await conn.execute(stmt)
                await record_span(conn, staff_id, status, reason, call_id, when)
            for listener in self.state_listeners:  # committed first, then the carrier follows
                try:
                    await listener(staff_id, status, reason)
                except Exception:
                    log.exception("agent state listener failed for staff %s (%s)", staff_id, status)

    async def state_of(self, staff_id: int) -> tuple[str, dict[str, Any] | None]:
        async with self.db.sessions() as session:
            row = await session.get(AgentState, staff_id)
        status = row.status if row else AgentStatus.NOT_READY.value
        offer = self.hub.current.get(staff_id, row.current_offer if row else None)
        return status, offer

    async def reason_of(self, staff_id: int) -> str | None:
        async with self.db.sessions() as session:
            row = await session.get(AgentState, staff_id)
        return None if row is None else row.reason

    async def load_offer(self, staff_id: int) -> dict[str, Any] | None:
        async with self.db.sessions() as session:
            row = await session.get(AgentState, staff_id)
        return None if row is None else row.current_offer

    async def set_status(self, staff_id: int, status: AgentStatus, reason: str | None = None) -> None:
        await self._write_state(staff_id, status=status.value, reason=reason)
        await self.bus.publish(staff_id, message("status", status=status.value, reason=reason))

    async def clear_offer(self, staff_id: int, *, status: AgentStatus = AgentStatus.READY) -> None:
        await self._write_state(staff_id, status=status.value, offer=None)
        await self.bus.publish(staff_id, message("cleared", status=status.value))

    # -- the pop ---------------------------------------------------------------------------

    async def warm_up(self) -> None:
        """Run the lookup's statements once, for nobody, before the first ring.

        The first use of each statement configures the mappers and compiles the SQL
        (the card's UNION alone takes tens of milliseconds): a cost for startup, not
        for the first caller. Reads only; a failure is logged and the service starts.
        """
        try:
            configure_mappers()
            uow = SqlUnitOfWork(self.db)
            async with uow:
                await uow.session.connection(execution_options=READ_ONLY)
                await uow.calls.by_carrier_id("warm-up", "")
                await uow.customers.get(0)
                await uow.customers.by_phone("+0")
                card_json(await uow.customers.card(Customer(0, ""), history_limit=POP_HISTORY))
        except (SQLAlchemyError, OSError) as exc:
            log.warning("screen-pop warm-up failed (the first pop will be slower): %s", exc)

    async def _lookup(self, offer: CallOffer) -> dict[str, Any]:
        """Customer card + the call row's id and IVR path, as JSON fields of the pop.

        A known caller costs three statements (the call row, the customer, the
        card in one UNION), read in autocommit: no BEGIN / ROLLBACK round trips.
        Only an unknown number takes a transaction (`identify_caller` creates
        the unverified customer).
        """
        fields: dict[str, Any] = {"card": None}
        uow = SqlUnitOfWork(self.db)
        card: CustomerCard | None = None
        async with uow:
            await uow.session.connection(execution_options=READ_ONLY)
            call = await uow.calls.by_carrier_id(offer.carrier, offer.carrier_call_id)
            if call is not None:
                fields["call_id"] = call.id
                if not offer.ivr_path and call.ivr_path:
                    fields["ivr_path"] = call.ivr_path
                    fields["ivr_label"] = ivr_path_label(call.ivr_path)
            customer = None
            if call is not None and call.customer_id is not None:
                customer = await uow.customers.get(call.customer_id)
            if customer is None:
                try:
                    e164 = normalize_phone(offer.caller_number, self.default_region)
                except InvalidPhoneNumber:
                    fields["withheld"] = True
                    return fields
                customer = await uow.customers.by_phone(e164)
            if customer is not None:
                card = await uow.customers.card(customer, history_limit=POP_HISTORY)
        if card is None:  # a number nobody has: an unverified customer for the agent to name
            created = await identify_caller(
                offer.caller_number, uow, default_region=self.default_region,
                default_tz=self.default_tz,
            )
            card = await customer_card(created.customer_id, uow, history_limit=POP_HISTORY)
        fields.update(customer_id=card.customer.customer_id, card=card_json(card),
                      department_id=card.customer.department_id)
        return fields

    @staticmethod
    def _for(agent: Identity, fields: dict[str, Any]) -> dict[str, Any]:
        """What `agent` may see of the lookup: the card, or the name only (other department)."""
        out = {k: v for k, v in fields.items() if k != "department_id"}
        out["restricted"] = False
        if out.get("card") and not agent.may_see_department(fields.get("department_id")):
            out.update(card=None, restricted=True,
                       customer_name=fields["card"]["customer"]["name"])
        return out

    async def ready_agents(self) -> list[Identity]:
        async with self.db.sessions() as session:
            rows = (await session.execute(
                select(Staff).join(AgentState, AgentState.staff_id == Staff.id)
                .where(AgentState.status == AgentStatus.READY.value, Staff.active.is_(True))
            )).scalars().all()
            org = await org_chart(session, self.hotline_codes) if rows else None
        return [identity_of(r, org) for r in rows]

    async def offer(self, offer: CallOffer) -> list[int]:
        """Pop `offer` on the agent's screen; returns the staff ids it went to.

        A name that is no staff member (a Twilio group identity such as
        "client:agents", a queue) rings every agent who is ready.
        """
        reached = time.time()  # wall clock: lets a bench measure ring-to-pop across processes
        agent = await self.resolve_agent(offer.agent)
        targets = [agent] if agent is not None else await self.ready_agents()
        if not targets:
            log.warning("screen-pop for %r reaches nobody (unknown agent, none ready); call %s",
                        offer.agent, offer.carrier_call_id)
            return []
        base = message(
            "offer", offer_id=f"{offer.carrier}:{offer.carrier_call_id}:{next(self._ids)}",
            carrier=offer.carrier, carrier_call_id=offer.carrier_call_id,
            caller_number=offer.caller_number, queue=offer.queue, ivr_path=offer.ivr_path,
            ivr_label=ivr_path_label(offer.ivr_path), at=offer.at.isoformat(), phase="ringing",
            call_id=None, customer_id=None, offered_unix=reached,
        )
        lookup = self._spawn(self._lookup(offer))
        try:
            fields = await asyncio.wait_for(asyncio.shield(lookup), self.deadline_s)
        except TimeoutError:
            log.info("screen-pop lookup for %s slower than %.1fs; popping 'loading'",
                     mask_phone(offer.caller_number), self.deadline_s)
            for who in targets:
                await self._send_offer(who.staff_id, {**base, "loading": True}, offer.at)
            self._spawn(self._finish_late(targets, base, lookup, offer.at))
            return [who.staff_id for who in targets]
        except Exception:
            log.exception("screen-pop lookup failed for call %s", offer.carrier_call_id)
            fields = {"card": None, "error": "lookup failed; search the customer by hand"}
        for who in targets:
            await self._send_offer(who.staff_id, {**base, **self._for(who, fields), "loading": False},
                                   offer.at)
        return [who.staff_id for who in targets]

    async def _send_offer(self, staff_id: int, msg: dict[str, Any], at: datetime) -> None:
        text = dumps(msg)  # encoded once for the NOTIFY, the size check and every socket
        if len(text.encode()) > NOTIFY_LIMIT:  # receivers read it from agent_states
            await self._write_state(staff_id, status=AgentStatus.RINGING.value, offer=msg, at=at)
            await self.bus.publish(staff_id, msg, text)
            return
        await self.bus.publish(staff_id, msg, text)
        self._spawn(self._write_state(staff_id, status=AgentStatus.RINGING.value, offer=msg, at=at))

    async def _finish_late(
        self, targets: list[Identity], base: dict[str, Any], lookup: asyncio.Task[dict[str, Any]],
        at: datetime,
    ) -> None:
        try:
            fields = await lookup
        except Exception:
            log.exception("late screen-pop lookup failed for %s", base["carrier_call_id"])
            fields = {"card": None, "error": "lookup failed; search the customer by hand"}
        for who in targets:
            full = {**base, **self._for(who, fields), "loading": False}
            await self.bus.publish(who.staff_id, message("card", offer_id=base["offer_id"], **{
                k: v for k, v in full.items() if k not in ("type", "offer_id")
            }))
            await self._write_state(who.staff_id, offer=full, at=at)

    async def _staff_with_call(self, carrier: str, carrier_call_id: str) -> list[int]:
        def matches(offer: dict[str, Any] | None) -> bool:
            return bool(offer) and offer.get("carrier") == carrier and \
                offer.get("carrier_call_id") == carrier_call_id  # type: ignore[union-attr]

        found = [sid for sid, offer in self.hub.current.items() if matches(offer)]
        if found:
            return found
        async with self.db.sessions() as session:
            rows = await session.scalars(select(AgentState).where(AgentState.current_offer.is_not(None)))
            return [r.staff_id for r in rows if matches(r.current_offer)]

    async def answered(self, carrier: str, carrier_call_id: str, agent: str) -> None:
        who = await self.resolve_agent(agent)
        if who is None:
            log.warning("answer by unknown agent %r ignored (call %s)", agent, carrier_call_id)
            return
        _, offer = await self.state_of(who.staff_id)
        if offer and offer.get("carrier_call_id") == carrier_call_id:
            offer = {**offer, "phase": "answered"}
            await self._write_state(who.staff_id, status=AgentStatus.ON_CALL.value, offer=offer)
            offer_id = offer.get("offer_id")
        else:
            await self._write_state(who.staff_id, status=AgentStatus.ON_CALL.value)
            offer_id = None
        await self.bus.publish(who.staff_id, message(
            "answered", offer_id=offer_id, carrier=carrier, carrier_call_id=carrier_call_id,
            status=AgentStatus.ON_CALL.value))

    async def ended(self, carrier: str, carrier_call_id: str, agent: str | None = None) -> None:
        if agent is not None:
            who = await self.resolve_agent(agent)
            staff_ids = [who.staff_id] if who is not None else []
        else:
            staff_ids = await self._staff_with_call(carrier, carrier_call_id)
        for staff_id in staff_ids:
            await self._end_for(staff_id, carrier_call_id)

    async def _end_for(self, staff_id: int, carrier_call_id: str) -> None:
        """The call is over for this agent: wrap-up after a talk, else ready again."""
        _, offer = await self.state_of(staff_id)
        if not offer or offer.get("carrier_call_id") != carrier_call_id:
            return
        if offer.get("phase") == "answered":  # talked: now the wrap-up
            offer = {**offer, "phase": "ended"}
            await self._write_state(staff_id, status=AgentStatus.WRAP_UP.value, offer=offer)
            await self.bus.publish(staff_id, message(
                "ended", offer_id=offer.get("offer_id"), carrier_call_id=carrier_call_id,
                status=AgentStatus.WRAP_UP.value, wrap_up_s=self.wrap_up_s))
            timer = asyncio.create_task(self._end_wrap_up(staff_id, carrier_call_id))
            self._timers.add(timer)  # not awaited by `settle`: a wrap-up lasts its time
            timer.add_done_callback(self._timers.discard)
        else:  # rang but was never answered here: back to ready
            await self.clear_offer(staff_id, status=AgentStatus.READY)

    async def _end_wrap_up(self, staff_id: int, carrier_call_id: str) -> None:
        """Wrap-up lasts `wrap_up_s`; then the agent is ready, unless they moved on already."""
        await asyncio.sleep(self.wrap_up_s)
        status, offer = await self.state_of(staff_id)
        if status == AgentStatus.WRAP_UP and (offer or {}).get("carrier_call_id") == carrier_call_id:
            await self.clear_offer(staff_id, status=AgentStatus.READY)

    async def held(self, carrier: str, carrier_call_id: str, on_hold: bool,
                   agent: str | None = None, *, at: datetime | None = None) -> list[int]:
        """The caller was put on hold (or taken off it) by the agent talking to them.

        The agent's state goes hold / on_call; the hold span's length is added to
        the call's hold time when it closes. Returns the staff ids changed.
        """
        if agent is not None:
            who = await self.resolve_agent(agent)
            staff_ids = [who.staff_id] if who is not None else []
        else:
            staff_ids = await self._staff_with_call(carrier, carrier_call_id)
        wanted = AgentStatus.HOLD if on_hold else AgentStatus.ON_CALL
        changed = []
        for staff_id in staff_ids:
            status, offer = await self.state_of(staff_id)
            if status not in (AgentStatus.ON_CALL, AgentStatus.HOLD) or status == wanted or \
                    not offer or offer.get("carrier_call_id") != carrier_call_id:
                continue
            await self._write_state(staff_id, status=wanted.value, offer=offer, at=at)
            await self.bus.publish(staff_id, message("status", status=wanted.value))
            changed.append(staff_id)
        return changed

    async def hold_own_call(self, staff_id: int, on_hold: bool) -> None:
        """The agent's own Hold / Resume button on their current call.

        A carrier with a control (Twilio) is asked to hold the caller; the agent's
        state and the hold time follow the carrier's own hold event, not the press.
        Elsewhere (Asterisk: the phone holds, AMI reports it) the press is the record."""
        status, offer = await self.state_of(staff_id)
        if status not in (AgentStatus.ON_CALL, AgentStatus.HOLD) or not offer:
            raise InvalidAgentState("hold needs a call you are talking on")
        carrier, call_id = str(offer.get("carrier") or ""), str(offer.get("carrier_call_id") or "")
        wanted = AgentStatus.HOLD if on_hold else AgentStatus.ON_CALL
        if status == wanted:
            return
        control = self.carrier_controls.get(carrier)
        if control is not None:
            await control.hold(call_id, on_hold)
            log.info("agent %s asked %s to put call %s %s", staff_id, carrier, call_id,
                     "on hold" if on_hold else "back from hold")
            return
        await self._write_state(staff_id, status=wanted.value, offer=offer)
        await self.bus.publish(staff_id, message("status", status=wanted.value))
        log.info("agent %s put call %s:%s %s", staff_id, carrier, call_id,
                 "on hold" if on_hold else "back from hold")

    async def transfer_own_call(self, staff_id: int, queue: str) -> None:
        """The agent hands their caller on to `queue`; the agent goes to wrap-up."""
        status, offer = await self.state_of(staff_id)
        if status not in (AgentStatus.ON_CALL, AgentStatus.HOLD) or not offer:
            raise InvalidAgentState("transfer needs a call you are talking on")
        carrier, call_id = str(offer.get("carrier") or ""), str(offer.get("carrier_call_id") or "")
        control = self.carrier_controls.get(carrier)
        if control is None:
            raise InvalidAgentState(f"calls on {carrier or 'this carrier'} are transferred on the phone")
        await control.transfer(call_id, queue)
        log.info("agent %s transferred call %s:%s to queue %s", staff_id, carrier, call_id, queue)
        await self._end_for(staff_id, call_id)




def service(app: web.Application) -> ScreenPop:
    """The app's running screen-pop; 503 while it is still starting."""
    found = app[SERVICES].get(SCREENPOP)
    if found is None:
        raise web.HTTPServiceUnavailable(reason="screen-pop is starting; retry in a moment")
    return found  # type: ignore[no-any-return]
