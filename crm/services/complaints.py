"""Complaint use cases (002, 000): open, assign, start, resolve, close, reopen, flag, verdict.

Guarantees:
- `open_complaint` is the one way a complaint is born, whatever the channel
  (IVR, agent wrap-up, web form, callback, AGI spool import): it decides the
  major reasons and severity, the due times, a digits-only ticket number
  (`ticket_number`: centre-local date YYMMDD + the id, at least 4 digits, so
  unique by construction), and one owner by rule (`route`), and writes the
  opening history row(s) and the owner's notification in one transaction.
- A complaint is charged (department, technician) through a service job: the one it
  names, else the customer's job completed last within `ComplaintPolicy.job_window`
  (`crm.complaint_rules` Rule 5), before the customer's department; the job is stored
  (`charged_job_id`) and named in the opening history row, both fixed at filing.
- Every change of state goes through `crm.complaints.record_action`, so an
  invalid move raises `InvalidTransition` (409) naming the allowed actions;
  each writes one append-only history row (who, when, from, to, note).
- Writes are optimistic: the repository saves a complaint only if nobody
  changed it since it was read (`ConcurrentChange`, 409, otherwise).
- Major reasons only accumulate: a reason once found is kept (the report
  says why), and when a complaint becomes major its due times tighten to the
  major limits, never loosen.
- A resolved complaint is closed only by its follow-up verdict
  (`record_followup_verdict`; `close_complaint` is the verdict "satisfied"),
  recorded by the customer on the follow-up call or by staff outside the
  complaint's department (`crm.services.supervision.check_verdict_recorder`);
  a refusal is stored in `access_refusals` and changes nothing.
- Reads take the caller's `Identity` (the department rule of `crm.identity`):
  staff see their department's complaints and those below it, owners their
  own, supervisors, callback staff and the hotline all (`PermissionDenied`, 403).

The records, the repository port, the policy and the access rules live in
`crm.services.complaint_ports` (re-exported here); escalation and the list
views in `crm.services.complaint_escalation`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from crm.access import COMPLAINT_OPENERS, VERDICT_ROLES, parse_verdict
from crm.callbacks import FINAL_STATES
from crm.complaint_rules import STAFF_CHANNELS, charges_through, due_times
from crm.complaints import ComplaintAction, record_action
from crm.enums import (
    CallbackKind,
    CallbackState,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintState,
    MajorReason,
    Role,
    Severity,
    Verdict,
)
from crm.errors import InvalidComplaint, UnknownCustomer, aware_utc
from crm.identity import Identity, PermissionDenied
from crm.major import ComplaintFacts, major_reasons, severity_for
from crm.services.callback_trust import dialled_refusal, hold

# The ports are re-exported: callers import everything complaint-related from here.
from crm.services.complaint_ports import (
    Actor,
    Clock,
    ComplaintCustomer,
    ComplaintPolicy,
    ComplaintRecord,
    ComplaintRepository,
    HistoryRow,
    OpenComplaint,
    OpenedComplaint,
    StaffRef,
    added_reasons,
    check_may,
    check_visible,
    load,
    summary,
    tighten,
    visible_departments,
)
from crm.services.refusals import Refusal, check_role, refuse
from crm.services.supervision import check_verdict_recorder

if TYPE_CHECKING:
    from crm.services.unit_of_work import UnitOfWork

__all__ = [
    "Actor", "ComplaintCustomer", "ComplaintPolicy", "ComplaintRecord", "ComplaintRepository",
    "ComplaintStep", "FlagComplaint", "HistoryRow", "OpenComplaint", "OpenedComplaint", "StaffRef",
    "assign_complaint", "check_visible", "close_complaint", "complaint_history", "flag_complaint",
    "get_complaint", "open_complaint", "record_followup_verdict", "reopen_complaint",
    "resolve_complaint", "route", "start_complaint", "summary", "ticket_number", "tighten",
    "visible_departments",
]
log = logging.getLogger(__name__)
MAX_TEXT = 10_000


# -- opening: routing and the ticket ----------------------------------------------------


def ticket_number(opened_at: datetime, complaint_id: int, zone: str = "Asia/Shanghai") -> str:
    """Digits only, read back digit by digit: centre-local YYMMDD + id (at least 4 digits)."""
    if complaint_id <= 0:
        raise ValueError("a ticket number needs the stored complaint id")
    local = aware_utc(opened_at, "opened_at").astimezone(ZoneInfo(zone))
    return f"{local:%y%m%d}{complaint_id:04d}"


async def owner_for(uow: UnitOfWork, department_id: int) -> int | None:
    """The nearest manager up the department chain."""
    for link in await uow.complaints.department_chain(department_id):
        if link.manager_id is not None:
            return link.manager_id
    return None


async def route(
    uow: UnitOfWork,
    category: ComplaintCategory,
    *,
    job_department: int | None,
    customer_department: int | None,
    policy: ComplaintPolicy,
    department_code: str | None = None,
) -> tuple[int | None, int | None]:
    """(department, owner) by rule: the department the caller named (after-sales for a
    callback's complaint), else the category's configured department, else the job's (the
    one it names, or the customer's recent job: `_charged_job`), else the customer's, else
    the default department; the owner is that department's
    manager (or the nearest one above). (None, None) leaves it for a manager to assign."""
    candidates: list[int | None] = []
    if department_code:
        candidates.append(await uow.complaints.department_id(department_code))
    mapped = policy.category_departments.get(category)
    if mapped:
        candidates.append(await uow.complaints.department_id(mapped))
    candidates += [job_department, customer_department]
    if policy.default_department:
        candidates.append(await uow.complaints.department_id(policy.default_department))
    departments = [d for d in candidates if d is not None]
    for department in departments:
        owner = await owner_for(uow, department)
        if owner is not None:
            return department, owner
    return (departments[0] if departments else None), None


# -- open ---------------------------------------------------------------------------------


def _validate(cmd: OpenComplaint) -> None:
    problems: list[str] = []
    description = cmd.description.strip()
    if not description and not cmd.recording_url:
        problems.append("description: say what went wrong (or attach the recording)")
    if len(cmd.description) > MAX_TEXT:
        problems.append(f"description: at most {MAX_TEXT} characters")
    if cmd.compensation_claimed is not None and Decimal(cmd.compensation_claimed) < 0:
        problems.append("compensation_claimed: cannot be negative")
    if problems:
        raise InvalidComplaint("; ".join(problems))


async def _charged_job(
    uow: UnitOfWork, cmd: OpenComplaint, now: datetime, policy: ComplaintPolicy,
) -> tuple[int | None, int | None, str]:
    """(the job's department, the job the complaint is charged through, why) by Rule 5 of
    `crm.complaint_rules`: the job the complaint names, else the customer's job completed
    last if within `policy.job_window`; (None, None, "") without either."""
    repo = uow.complaints
    if cmd.job_id is not None:
        exists, department = await repo.job_department(cmd.job_id)
        if not exists:
            raise InvalidComplaint(f"job_id: no service job {cmd.job_id}")
        return department, cmd.job_id, ""
    last = await repo.last_completed_job(cmd.customer_id, until=now)
    if last is None or not charges_through(last.completed_at, now, policy.job_window):
        return None, None, ""
    done = last.completed_at.astimezone(ZoneInfo(policy.zone))
    return last.department_id, last.job_id, (
        f"charged through job {last.reference}, the customer's last job (completed {done:%Y-%m-%d})")


async def open_complaint(
    cmd: OpenComplaint,
    uow: UnitOfWork,
    *,
    clock: Clock,
    policy: ComplaintPolicy | None = None,
) -> OpenedComplaint:
    """Open a complaint from any channel; see the module guarantees."""
    policy = policy or ComplaintPolicy()
    _validate(cmd)
    now = aware_utc(clock(), "clock()")
    channel, category = ComplaintChannel(cmd.channel), ComplaintCategory(cmd.category)
    if cmd.actor.identity is not None and channel not in STAFF_CHANNELS:
        raise InvalidComplaint(
            f"channel: staff open complaints as {' or '.join(sorted(STAFF_CHANNELS))}; "
            f"{channel} complaints come only from the public form and the hotline's IVR")
    async with uow:
        await check_role(uow, cmd.actor.identity, COMPLAINT_OPENERS, "complaint.open",
                         f"customer:{cmd.customer_id}", now)
        repo = uow.complaints
        customer = await repo.customer(cmd.customer_id)
        if customer is None:
            raise UnknownCustomer(f"no customer {cmd.customer_id}; find the caller by phone or create one")
        job_department, charged_job, charged_note = await _charged_job(uow, cmd, now, policy)
        if cmd.call_id is not None and not await repo.call_exists(cmd.call_id):
            raise InvalidComplaint(f"call_id: no call {cmd.call_id}")
        priors = await repo.prior_complaints(cmd.customer_id, since=now - policy.major.repeat_window)
        facts = ComplaintFacts(
            opened_at=now, category=category, customer=customer.flags,
            description=cmd.description, notes=tuple(cmd.notes), emotional=cmd.emotional,
            contradictory_answers=cmd.contradictory_answers,
            compensation_claimed=cmd.compensation_claimed, previous_complaints=priors,
            disrespected=cmd.disrespected,
        )
        reasons = tuple(major_reasons(facts, policy.major))
        severity = severity_for(reasons)
        due = due_times(now, severity, policy.time)
        department, owner = await route(
            uow, category, job_department=job_department,
            customer_department=customer.department_id, policy=policy,
            department_code=cmd.department_code,
        )
        draft = ComplaintRecord(
            complaint_id=0, ticket="", customer_id=cmd.customer_id, channel=channel,
            category=category, description=cmd.description.strip(), opened_at=now,
            recording_url=cmd.recording_url, compensation_claimed=cmd.compensation_claimed,
            severity=severity, major_reasons=reasons, emotional=cmd.emotional,
            contradictory_answers=cmd.contradictory_answers, department_id=department,
            job_id=cmd.job_id, charged_job_id=charged_job, call_id=cmd.call_id,
            respond_due_at=due.respond_by,
            resolve_due_at=due.resolve_by, disrespected=cmd.disrespected,
            product=(cmd.product or "").strip() or None, site=(cmd.site or "").strip() or None,
        )
        complaint_id = await repo.add(draft)
        ticket = ticket_number(now, complaint_id, policy.zone)
        await repo.set_ticket(complaint_id, ticket)
        record = replace(draft, complaint_id=complaint_id, ticket=ticket)
        note = "; ".join(filter(None, [f"via {channel}", charged_note,
                                       f"major: {', '.join(reasons)}" if reasons else ""]))
        await repo.add_history(
            HistoryRow(complaint_id, now, cmd.actor.label, "open", None, ComplaintState.NEW,
                       note, cmd.actor.staff_id)
        )
        if owner is not None:
            record = await _assign(uow, record, owner, cmd.actor, now, "assigned by rule")
        await uow.commit()
    log.info("complaint %s opened via %s, severity %s", ticket, channel, severity)
    if record.job_id is not None or record.product or record.site:
        from crm.services.complaint_groups import link_group

        group = await link_group(uow, complaint_id, now=now, policy=policy)
        if group is not None:
            severity, reasons = Severity.MAJOR, (*reasons, *([] if MajorReason.GROUP in reasons
                                                              else [MajorReason.GROUP]))
    return OpenedComplaint(
        complaint_id, ticket, severity, reasons, record.owner_id, department, record.state,
        due.resolve_by, charged_job,
    )


# -- lifecycle ----------------------------------------------------------------------------


async def _may(uow: UnitOfWork, record: ComplaintRecord, actor: Actor, action: str,
               now: datetime, *roles: Role, owner: bool = True) -> None:
    """The actor sees the complaint's department and holds one of `roles` (or owns it);
    otherwise the refusal is stored and `PermissionDenied` raised: nothing else changes."""
    try:
        await check_visible(record, actor.identity, uow)
        check_may(record, actor, *roles, owner=owner)
    except PermissionDenied as exc:
        await refuse(uow, actor.identity, action, f"complaint:{record.complaint_id}", str(exc), now)


async def _move(
    uow: UnitOfWork, record: ComplaintRecord, action: ComplaintAction, actor: Actor,
    now: datetime, note: str = "", **changes: object,
) -> ComplaintRecord:
    entry = record_action(record.state, action, actor.label, now, note)
    updated = await uow.complaints.save(replace(record, state=entry.to_state, **changes))  # type: ignore[arg-type]
    await uow.complaints.add_history(
        HistoryRow(record.complaint_id, now, actor.label, str(action), entry.from_state,
                   entry.to_state, note, actor.staff_id)
    )
    return updated


async def _assign(
    uow: UnitOfWork, record: ComplaintRecord, owner_id: int, actor: Actor, now: datetime, note: str,
    **changes: object,
) -> ComplaintRecord:
    updated = await _move(uow, record, ComplaintAction.ASSIGN, actor, now,
                          note or f"owner staff:{owner_id}", owner_id=owner_id, **changes)
    await uow.complaints.notify(owner_id, "complaint_assigned", summary(updated), now)
    return updated


async def _passed_around(
    uow: UnitOfWork, record: ComplaintRecord, new_owner: StaffRef, policy: ComplaintPolicy
) -> list[MajorReason]:
    """002 被踢皮球: this handover makes one too many, or crosses departments."""
    if record.owner_id is None or record.owner_id == new_owner.staff_id:
        return []
    history = await uow.complaints.history(record.complaint_id)
    handovers = sum(1 for row in history if row.action == ComplaintAction.ASSIGN)  # +1 new, -1 first
    old = await uow.complaints.staff(record.owner_id)
    crossed = (
        old is not None and old.department_id is not None and new_owner.department_id is not None
        and old.department_id != new_owner.department_id
    )
    facts = ComplaintFacts(opened_at=record.opened_at, category=record.category,
                           handovers=handovers, crossed_departments=crossed)
    return [r for r in major_reasons(facts, policy.major) if r == MajorReason.PASSED_AROUND]


@dataclass(frozen=True, slots=True)
class ComplaintStep:
    """A lifecycle step by someone: start, close, reopen; `text` is the note."""

    complaint_id: int
    actor: Actor
    text: str = ""


async def assign_complaint(
    complaint_id: int, owner_id: int, actor: Actor, uow: UnitOfWork, *, clock: Clock, note: str = "",
    policy: ComplaintPolicy | None = None,
) -> ComplaintRecord:
    """A manager gives the complaint to a named owner (or hands it over); that person's
    assignment acknowledges the complaint (the respond-by escalation no longer applies).
    A handover too many, or across departments, makes the complaint major (passed_around)."""
    now = aware_utc(clock(), "clock()")
    policy = policy or ComplaintPolicy()
    async with uow:
        record = await load(uow, complaint_id)
        await _may(uow, record, actor, "complaint.assign", now, Role.MANAGER, owner=False)
        owner = await uow.complaints.staff(owner_id)
        if owner is None or not owner.active:
            raise InvalidComplaint(f"owner_id: no active staff member {owner_id}")
        passed = await _passed_around(uow, record, owner, policy)
        tightened = tighten(record, passed, policy)
        added = added_reasons(record, tightened)
        text = "; ".join(filter(None, [note, "major: " + ", ".join(added) if added else ""]))
        updated = await _assign(
            uow, tightened, owner_id, actor, now, text,
            acknowledged_at=record.acknowledged_at or now,
        )
        await uow.commit()
    return updated


async def start_complaint(step: ComplaintStep, uow: UnitOfWork, *, clock: Clock) -> ComplaintRecord:
    """The owner starts work: the first response."""
    now = aware_utc(clock(), "clock()")
    async with uow:
        record = await load(uow, step.complaint_id)
        await _may(uow, record, step.actor, "complaint.start", now, Role.MANAGER)
        updated = await _move(uow, record, ComplaintAction.START, step.actor, now, step.text,
                              first_response_at=record.first_response_at or now,
                              acknowledged_at=record.acknowledged_at or now)
        await uow.commit()
    return updated


FollowupScheduler = Callable[[int], Awaitable[object]]


async def resolve_complaint(
    step: ComplaintStep, uow: UnitOfWork, *, clock: Clock,
    schedule_followup: FollowupScheduler | None = None,
) -> ComplaintRecord:
    """Record the resolution; then (committed) ask for the follow-up call (回访).

    `schedule_followup(complaint_id)` is called after the commit (default: the
    callbacks use case `schedule_complaint_followup` on the same unit of work);
    a failure there is logged and leaves a `followup_pending` history row,
    never undoes the resolution.
    """
    now = aware_utc(clock(), "clock()")
    resolution = step.text.strip()
    if not resolution:
        raise InvalidComplaint("resolution: say how the complaint was resolved")
    if len(resolution) > MAX_TEXT:
        raise InvalidComplaint(f"resolution: at most {MAX_TEXT} characters")
    async with uow:
        record = await load(uow, step.complaint_id)
        await _may(uow, record, step.actor, "complaint.resolve", now, Role.MANAGER)
        updated = await _move(uow, record, ComplaintAction.RESOLVE, step.actor, now, resolution,
                              resolution=resolution, resolved_at=now, verdict=None)
        await uow.commit()
    if schedule_followup is None:
        from crm.services.callbacks import schedule_complaint_followup

        async def schedule_followup(complaint_id: int) -> object:
            return await schedule_complaint_followup(complaint_id, uow, clock)

    try:
        await schedule_followup(updated.complaint_id)
    except Exception as exc:  # the resolution stands; the follow-up is owed
        log.exception("follow-up for complaint %s not scheduled", updated.ticket)
        await _note(uow, updated, "followup_pending", f"scheduling failed: {exc}", now)
    return updated


async def _note(uow: UnitOfWork, record: ComplaintRecord, action: str, note: str, now: datetime) -> None:
    async with uow:
        await uow.complaints.add_history(
            HistoryRow(record.complaint_id, now, "system", action, record.state, record.state, note)
        )
        await uow.commit()


async def close_complaint(step: ComplaintStep, uow: UnitOfWork, *, clock: Clock) -> ComplaintRecord:
    """Close a resolved complaint by hand: that is the follow-up verdict `satisfied` (the
    customer confirmed the outcome), with the same check (`record_followup_verdict`)."""
    return await record_followup_verdict(
        step.complaint_id, Verdict.SATISFIED, uow, clock=clock, actor=step.actor, note=step.text,
        action="complaint.close",
    )


async def _reopen(
    uow: UnitOfWork, record: ComplaintRecord, actor: Actor, now: datetime, note: str,
    policy: ComplaintPolicy,
) -> ComplaintRecord:
    """Reopen (002 rule 4: a reopened complaint is major) with fresh major due times."""
    due = due_times(now, Severity.MAJOR, policy.time)
    reasons = tuple(r for r in MajorReason if r in {*record.major_reasons, MajorReason.REOPENED})
    updated = await _move(
        uow, record, ComplaintAction.REOPEN, actor, now, note or "reopened",
        major_reasons=reasons, severity=Severity.MAJOR, respond_due_at=due.respond_by,
        resolve_due_at=due.resolve_by, resolved_at=None, closed_at=None,
    )
    if updated.owner_id is not None:
        await uow.complaints.notify(updated.owner_id, "complaint_reopened", summary(updated), now)
    return updated


async def reopen_complaint(
    step: ComplaintStep, uow: UnitOfWork, *, clock: Clock, policy: ComplaintPolicy | None = None
) -> ComplaintRecord:
    now = aware_utc(clock(), "clock()")
    async with uow:
        record = await load(uow, step.complaint_id)
        await _may(uow, record, step.actor, "complaint.reopen", now, Role.MANAGER,
                   Role.CALLBACK_STAFF)
        updated = await _reopen(uow, record, step.actor, now, step.text, policy or ComplaintPolicy())
        await uow.commit()
    return updated


async def record_followup_verdict(
    complaint_id: int, verdict: Verdict | str, uow: UnitOfWork, *, clock: Clock,
    actor: Actor | None = None, note: str = "", policy: ComplaintPolicy | None = None,
    callback_id: int | None = None, action: str = "complaint.verdict",
) -> ComplaintRecord:
    """Store the follow-up call's outcome: satisfied closes, dissatisfied reopens,
    unreached is only recorded (the complaint stays resolved).

    Supervision apart from execution (`crm.access.verdict_refusal`): a staff
    member records it only from outside the complaint's department (callback
    staff, a supervisor); without a staff member it is the customer's answer on
    the complaint's own follow-up call `callback_id`. A refusal is audited and
    changes nothing."""
    now = aware_utc(clock(), "clock()")
    actor = actor or Actor.system("followup")
    verdict = parse_verdict(verdict)
    async with uow:
        record = await load(uow, complaint_id)
        if action == "complaint.close":
            record_action(record.state, ComplaintAction.CLOSE, actor.label, now)  # 409 unless resolved
        if actor.identity is not None:
            await _may(uow, record, actor, action, now, *VERDICT_ROLES, owner=False)
            await check_verdict_recorder(uow, actor.identity, record, action, now)
        else:
            cb = await uow.callbacks.get(callback_id) if callback_id is not None else None
            if cb is None or cb.kind is not CallbackKind.COMPLAINT_FOLLOWUP or (
                    cb.complaint_id != complaint_id):
                await refuse(uow, None, action, f"complaint:{complaint_id}",
                             "without a staff member, a follow-up verdict comes only from the "
                             "customer on the complaint's own follow-up call", now,
                             actor_label=actor.label)
            # the customer's answer counts only from a number that still qualifies
            refused = (await dialled_refusal(uow.callbacks, cb)
                       if cb.state is not CallbackState.HELD else "the follow-up call is held")
            if refused is not None:
                if cb.state in FINAL_STATES or cb.state is CallbackState.HELD:
                    await uow.refusals.add(Refusal(
                        at=now, staff_id=None, actor=actor.label, action=action,
                        subject=f"complaint:{complaint_id}", reason=refused))
                else:
                    await hold(uow, cb, refused, now, refused=action)
                await uow.commit()
                return record
        if record.state != ComplaintState.RESOLVED:
            raise InvalidComplaint(
                f"complaint {record.ticket} is {record.state}: a follow-up verdict is for a "
                "resolved complaint"
            )
        text = f"follow-up verdict: {verdict}" + (f"; {note}" if note else "")
        record = await uow.complaints.save(replace(record, verdict=verdict))
        if verdict == Verdict.SATISFIED:
            record = await _move(uow, record, ComplaintAction.CLOSE, actor, now, text, closed_at=now)
        elif verdict == Verdict.DISSATISFIED:
            record = await _reopen(uow, record, actor, now, text, policy or ComplaintPolicy())
        else:
            await uow.complaints.add_history(
                HistoryRow(complaint_id, now, actor.label, "verdict", record.state, record.state,
                           text, actor.staff_id)
            )
        await uow.commit()
    return record


@dataclass(frozen=True, slots=True)
class FlagComplaint:
    """An agent marks the caller (002 rules 2 and 4); flags are only ever set, never cleared."""

    complaint_id: int
    actor: Actor
    emotional: bool = False
    contradictory_answers: bool = False
    note: str = ""
    disrespected: bool = False


async def flag_complaint(
    cmd: FlagComplaint, uow: UnitOfWork, *, clock: Clock, policy: ComplaintPolicy | None = None
) -> ComplaintRecord:
    """Set agent flags and re-evaluate the major reasons (they only accumulate)."""
    now = aware_utc(clock(), "clock()")
    policy = policy or ComplaintPolicy()
    async with uow:
        record = await load(uow, cmd.complaint_id)
        await _may(uow, record, cmd.actor, "complaint.flag", now, Role.AGENT, Role.MANAGER)
        flagged = replace(
            record, emotional=record.emotional or cmd.emotional,
            contradictory_answers=record.contradictory_answers or cmd.contradictory_answers,
            disrespected=record.disrespected or cmd.disrespected,
        )
        reasons = [MajorReason.EMOTIONAL] if flagged.emotional else []
        reasons += [MajorReason.CONTRADICTORY_ANSWERS] if flagged.contradictory_answers else []
        reasons += [MajorReason.DISRESPECT] if flagged.disrespected else []
        updated = tighten(flagged, reasons, policy)
        if updated == record:
            return record
        saved = await uow.complaints.save(updated)
        added = added_reasons(record, saved)
        text = "; ".join(filter(None, [cmd.note, "major: " + ", ".join(added) if added else ""]))
        await uow.complaints.add_history(
            HistoryRow(record.complaint_id, now, cmd.actor.label, "flag", record.state, record.state,
                       text or "flags set", cmd.actor.staff_id)
        )
        await uow.commit()
    return saved


async def get_complaint(complaint_id: int, uow: UnitOfWork, *, identity: Identity | None) -> ComplaintRecord:
    async with uow:
        record = await load(uow, complaint_id)
        await check_visible(record, identity, uow)
    return record


async def complaint_history(
    complaint_id: int, uow: UnitOfWork, *, identity: Identity | None
) -> list[HistoryRow]:
    async with uow:
        record = await load(uow, complaint_id)
        await check_visible(record, identity, uow)
        return await uow.complaints.history(complaint_id)
