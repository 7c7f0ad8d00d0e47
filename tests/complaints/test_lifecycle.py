"""The complaint loop closes (002): every step time-stamped and attributed in the history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from callcenter.clock import FixedClock
from callcenter.storage.engine import Database
from callcenter.storage.tables import Callback, ComplaintHistory
from crm.enums import CallbackKind, ComplaintState, MajorReason, Severity, Verdict
from crm.errors import ConcurrentChange, InvalidTransition
from crm.services.complaints import (
    Actor,
    ComplaintStep,
    FlagComplaint,
    assign_complaint,
    close_complaint,
    complaint_history,
    flag_complaint,
    get_complaint,
    open_complaint,
    record_followup_verdict,
    resolve_complaint,
    start_complaint,
)
from tests import factories
from tests.complaints.helpers import complaint, followup_callback, org, uow


async def test_the_whole_loop_is_recorded_with_who_when_from_and_to(db: Database, clock: FixedClock) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    manager = Actor(f"staff:{people.service_manager.id}", people.service_manager.id)
    agent = Actor(f"staff:{people.agent.id}", people.agent.id)
    callback = Actor.system("callback")
    opened = await open_complaint(complaint(customer.id, actor=Actor.system("ivr")), uow(db), clock=clock)
    cid = opened.complaint_id
    clock.advance(minutes=10)
    await assign_complaint(cid, people.agent.id, manager, uow(db), clock=clock)
    clock.advance(minutes=20)
    await start_complaint(ComplaintStep(cid, agent, "called the customer"), uow(db), clock=clock)
    clock.advance(hours=3)
    await resolve_complaint(ComplaintStep(cid, agent, "replaced the compressor"), uow(db), clock=clock)
    clock.advance(days=1)
    await record_followup_verdict(cid, Verdict.DISSATISFIED, uow(db), clock=clock, actor=callback,
                                  callback_id=await followup_callback(db, cid))
    clock.advance(minutes=5)
    await start_complaint(ComplaintStep(cid, agent), uow(db), clock=clock)
    await resolve_complaint(ComplaintStep(cid, agent, "replaced the whole unit"), uow(db), clock=clock)
    clock.advance(days=1)
    final = await record_followup_verdict(cid, Verdict.SATISFIED, uow(db), clock=clock, actor=callback,
                                          callback_id=await followup_callback(db, cid))

    assert final.state == ComplaintState.CLOSED and final.verdict == Verdict.SATISFIED
    history = await complaint_history(cid, uow(db), identity=None)
    moves = [(h.actor_label, h.action, h.from_state, h.to_state) for h in history if h.action != "followup_pending"]
    S = ComplaintState
    assert moves == [
        ("ivr", "open", None, S.NEW),
        ("ivr", "assign", S.NEW, S.ASSIGNED),
        (manager.label, "assign", S.ASSIGNED, S.ASSIGNED),
        (agent.label, "start", S.ASSIGNED, S.IN_PROGRESS),
        (agent.label, "resolve", S.IN_PROGRESS, S.RESOLVED),
        ("callback", "reopen", S.RESOLVED, S.REOPENED),
        (agent.label, "start", S.REOPENED, S.IN_PROGRESS),
        (agent.label, "resolve", S.IN_PROGRESS, S.RESOLVED),
        ("callback", "close", S.RESOLVED, S.CLOSED),
    ]
    times = [h.at for h in history]
    assert times == sorted(times) and times[-1] == clock()
    assert history[3].at == history[0].at + timedelta(minutes=30)


async def test_resolving_schedules_the_follow_up_call(db: Database, clock: FixedClock) -> None:
    people = await org(db)
    customer = await factories.customer(db, department_id=people.service.id)
    opened = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    system = Actor.system("test")
    await start_complaint(ComplaintStep(opened.complaint_id, system), uow(db), clock=clock)
    await resolve_complaint(ComplaintStep(opened.complaint_id, system, "fixed"), uow(db), clock=clock)
    async with db.sessions() as session:
        calls = (await session.scalars(select(Callback))).all()
    assert [(c.kind, c.complaint_id) for c in calls] == [(CallbackKind.COMPLAINT_FOLLOWUP, opened.complaint_id)]


async def test_a_dissatisfied_customer_reopens_it_as_major_with_major_time_limits(
    db: Database, clock: FixedClock
) -> None:
    customer = await factories.customer(db)
    opened = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    system = Actor.system("test")
    await assign_complaint(opened.complaint_id, (await factories.staff(db, "tech", ["technician"])).id,
                           system, uow(db), clock=clock)
    await start_complaint(ComplaintStep(opened.complaint_id, system), uow(db), clock=clock)
    await resolve_complaint(ComplaintStep(opened.complaint_id, system, "fixed"), uow(db), clock=clock)
    clock.advance(days=2)
    reopened = await record_followup_verdict(
        opened.complaint_id, Verdict.DISSATISFIED, uow(db), clock=clock,
        callback_id=await followup_callback(db, opened.complaint_id))
    assert reopened.state == ComplaintState.REOPENED
    assert reopened.major_reasons == (MajorReason.REOPENED,) and reopened.severity == Severity.MAJOR
    assert reopened.resolve_due_at == clock() + timedelta(hours=24)


async def test_closing_a_complaint_nobody_resolved_is_refused(db: Database, clock: FixedClock) -> None:
    customer = await factories.customer(db)
    opened = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    with pytest.raises(InvalidTransition, match="allowed now: assign"):
        await close_complaint(ComplaintStep(opened.complaint_id, Actor.system("test")), uow(db), clock=clock)


async def test_an_agent_flag_makes_an_open_complaint_major_and_tightens_its_deadline(
    db: Database, clock: FixedClock
) -> None:
    customer = await factories.customer(db)
    opened = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    assert opened.severity == Severity.ORDINARY
    flagged = await flag_complaint(
        FlagComplaint(opened.complaint_id, Actor.system("agent"), emotional=True), uow(db), clock=clock
    )
    assert flagged.major_reasons == (MajorReason.EMOTIONAL,)
    assert flagged.resolve_due_at == opened.resolve_due_at - timedelta(hours=48)
    history = await complaint_history(opened.complaint_id, uow(db), identity=None)
    assert history[-1].action == "flag" and "emotional" in history[-1].note


async def test_a_stale_write_is_refused(db: Database, clock: FixedClock) -> None:
    customer = await factories.customer(db)
    opened = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    stale = await get_complaint(opened.complaint_id, uow(db), identity=None)
    await flag_complaint(FlagComplaint(opened.complaint_id, Actor.system("a"), emotional=True), uow(db), clock=clock)
    work = uow(db)
    async with work:
        with pytest.raises(ConcurrentChange):
            await work.complaints.save(stale)


async def test_nobody_can_edit_the_history(db: Database, clock: FixedClock) -> None:
    customer = await factories.customer(db)
    await open_complaint(complaint(customer.id), uow(db), clock=clock)
    async with db.sessions() as session:
        with pytest.raises(DBAPIError):
            await session.execute(update(ComplaintHistory).values(note="rewritten"))
        await session.rollback()
        with pytest.raises(DBAPIError):
            await session.execute(text("DELETE FROM complaint_history"))


async def test_a_follow_up_that_cannot_be_scheduled_leaves_the_resolution_and_a_pending_note(
    db: Database, clock: FixedClock
) -> None:
    customer = await factories.customer(db, phones=())  # nobody to call back
    opened = await open_complaint(complaint(customer.id), uow(db), clock=clock)
    system = Actor.system("test")
    await assign_complaint(opened.complaint_id, (await factories.staff(db, "tech", ["technician"])).id,
                           system, uow(db), clock=clock)
    await start_complaint(ComplaintStep(opened.complaint_id, system), uow(db), clock=clock)
    resolved = await resolve_complaint(ComplaintStep(opened.complaint_id, system, "fixed"), uow(db), clock=clock)
    assert resolved.state == ComplaintState.RESOLVED
    history = await complaint_history(opened.complaint_id, uow(db), identity=None)
    assert history[-1].action == "followup_pending"
