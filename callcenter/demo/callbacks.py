"""The callbacks part of `callcenter demo`: post-repair calls placed by the real dispatcher.

1. Today's repairs: a few sample customers get a service job completed in the
   last three days (one per customer and demo day, by reference, so a second
   run adds nothing); then the periodic source itself,
   `crm.services.callbacks.schedule_completed_jobs`, schedules their
   post-repair callbacks (deadline = completion + 3 days, window in the
   customer's own zone, the do-not-call customer cancelled at once).
2. One pass of the real dispatcher (`callcenter.callbacks.loop.Dispatcher`,
   settings from `callcenter.callbacks.config`) dials the due ones through
   `SimulatedTwilioCarrier`: a `Dialer` whose callees answer with signed
   webhooks to the live app on a free local port and press the survey
   grades, or are busy / do not answer. Then a sweep, as the loop does.
3. Prints every callback's final state and the first-hand surveys produced.

The clock is the wall clock; when it is outside the callees' window in the
centre's zone (the demo says so) it is a clock running at wall speed from the
next window opening: calls at 23:00 would be unlawful, not a demo.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from callcenter.app import create_app
from callcenter.callbacks import config as callback_config
from callcenter.callbacks.loop import Dispatcher
from callcenter.clock import Clock, system_clock
from callcenter.demo.serving import app_on_port, free_port
from callcenter.demo.simulated_twilio import HOTLINE_NUMBER, Callee, SimulatedTwilioCarrier
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import (
    Call,
    Callback,
    Customer,
    Department,
    ServiceJob,
    Staff,
    Survey,
)
from callcenter.storage.uow import SqlUnitOfWork
from crm.call_windows import is_callable, next_allowed_time
from crm.enums import CallbackKind, Direction
from crm.phones import mask_phone
from crm.services.callbacks import schedule_completed_jobs
from crm.services.customers import DuplicateJob, JobRecord, add_job
from crm.services.unit_of_work import UnitOfWork

__all__ = ["callbacks_step"]


@dataclass(frozen=True)
class Repair:
    customer: str  # sample customer reference
    technician: str
    department: str
    description: str
    hours_ago: int
    callee: Callee
    expect: str  # what the callee does, in a word


REPAIRS: tuple[Repair, ...] = (
    Repair("C-1002", "tech-liu", "SVC-S", "热水器复检 water heater re-check", 26,
           Callee("answer", ("1", "2", "1", "1")), "grades A,B,A"),
    Repair("C-1008", "tech-zhang", "SVC-N", "机房空调完工 server room AC done", 5,
           Callee("answer", ("2", "2", "3", "1")), "grades B,B,C"),
    Repair("C-1007", "tech-li", "SVC-N", "洗衣机复修 washing machine re-repair", 3,
           Callee("busy"), "busy"),
    Repair("C-1004", "tech-zhang", "SVC-N", "中央空调滤网 HVAC filters", 50,
           Callee("no-answer"), "no answer"),
    Repair("C-1005", "tech-liu", "SVC-S", "Dental compressor follow-up", 2,
           Callee("answer", ("1", "1", "1", "1")), "grades A,A,A"),
    Repair("C-1006", "tech-liu", "SVC-S", "净水器安装 water filter installed", 4,
           Callee("answer"), "(on DNC)"),
)


class ShiftedClock:
    """Wall-clock time moved by a fixed offset: it ticks, but from another instant."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def demo_clock(settings: Settings, console: Console) -> Clock:
    """The wall clock when the centre's callees may be phoned now (for 10 more minutes)."""
    zone, window = settings.zone, callback_config.call_window(settings)
    now = system_clock()
    if is_callable(now, zone, window) and is_callable(now + timedelta(minutes=10), zone, window):
        return system_clock
    opens = next_allowed_time(now + timedelta(minutes=10), zone, window) + timedelta(hours=1)
    console.print(
        f"[yellow]It is {now.astimezone(zone):%H:%M} in {settings.timezone}: outside the "
        f"callees' window ({settings.callback_window}). This step runs on a clock set to "
        f"{opens.astimezone(zone):%Y-%m-%d %H:%M} local, ticking from there.[/]")
    return ShiftedClock(opens - now)


async def _todays_repairs(db: Database, settings: Settings, now: datetime) -> dict[str, Repair]:
    """One completed job per demo repair and demo day; job reference -> repair."""
    day = f"{now.astimezone(settings.zone):%Y%m%d}"
    made: dict[str, Repair] = {}
    async with db.sessions() as session:
        ids: dict[str, dict[str | None, int]] = {
            "customer": {r: i for r, i in (await session.execute(
                select(Customer.reference, Customer.id))).tuples()},
            "staff": {u: i for u, i in (await session.execute(
                select(Staff.username, Staff.id))).tuples()},
            "department": {c: i for c, i in (await session.execute(
                select(Department.code, Department.id))).tuples()},
        }
    for index, repair in enumerate(REPAIRS, 1):
        customer_id = ids["customer"].get(repair.customer)
        if customer_id is None:
            continue  # sample data without this customer
        reference = f"J-{day}-D{index}"
        made[reference] = repair
        try:
            await add_job(JobRecord(
                None, reference, customer_id, ids["staff"].get(repair.technician),
                ids["department"].get(repair.department), repair.description,
                now - timedelta(hours=repair.hours_ago)), SqlUnitOfWork(db))
        except DuplicateJob:
            pass  # an earlier run today made it: its callback exists too
    return made


async def callbacks_step(settings: Settings, db: Database, console: Console) -> None:
    clock = demo_clock(settings, console)

    def uow() -> UnitOfWork:
        return SqlUnitOfWork(db)

    repairs = await _todays_repairs(db, settings, clock())
    made = await schedule_completed_jobs(uow, clock,
                                         defaults=callback_config.callback_defaults(settings))
    console.print(f"[green]✓[/] post-repair callbacks scheduled by the periodic source: {made}"
                  + ("" if made else " (an earlier run today scheduled them: one per job)"))
    rows = await _callbacks(db, list(repairs))
    _print_scheduled(rows, repairs, console)

    port = free_port()
    token = settings.twilio_auth_token.get_secret_value() or secrets.token_hex(16)
    live = settings.model_copy(update={
        "public_base_url": f"http://127.0.0.1:{port}", "http_port": port,
        "twilio_auth_token": type(settings.twilio_auth_token)(token),
        "twilio_caller_id": settings.twilio_caller_id or HOTLINE_NUMBER,
        "job_loop_enabled": False, "fastagi_enabled": False, "ami_enabled": False,
    })
    callees = {cb.phone: repairs[job.reference].callee for cb, job, _ in rows}
    async with app_on_port(create_app(live, db=db, clock=clock), port):
        async with aiohttp.ClientSession() as http:
            # other callbacks due now (a caller asked for one on the IVR) are answered too
            carrier = SimulatedTwilioCarrier(http, live, callees, unknown=Callee("answer"))
            dispatcher = Dispatcher(db, carrier, callback_config.dispatch_config(
                live, "demo-dialer"), clock=clock)
            try:
                sent = await dispatcher.dispatch()
                await carrier.settle()
                swept = await dispatcher.sweep()
            finally:
                await carrier.close()
        console.print(f"[green]✓[/] one dispatcher pass: {sent} dialled through the simulated "
                      f"Twilio carrier; sweep: {swept.lost} lost, {swept.expired} expired, "
                      f"{swept.reconciled} reconciled")
        await _print_placed(db, carrier, console)
    await _print_outcomes(db, list(repairs), console)


async def _callbacks(db: Database, references: list[str]) -> list[tuple[Callback, ServiceJob, Customer]]:
    async with db.sessions() as session:
        result = await session.execute(
            select(Callback, ServiceJob, Customer)
            .join(ServiceJob, Callback.job_id == ServiceJob.id)
            .join(Customer, ServiceJob.customer_id == Customer.id)
            .where(ServiceJob.reference.in_(references),
                   Callback.kind == CallbackKind.POST_REPAIR)
            .order_by(ServiceJob.reference))
        return [(cb, job, customer) for cb, job, customer in result.tuples()]


async def _print_placed(db: Database, carrier: SimulatedTwilioCarrier, console: Console) -> None:
    """Every call the pass placed, whatever the callback's source."""
    if not carrier.calls:
        console.print("nothing was due in the callees' window: no call placed")
        return
    table = Table(title="Calls placed by the simulated carrier")
    for column in ("callback", "to", "flow", "Twilio status", "webhooks"):
        table.add_column(column)
    async with db.sessions() as session:
        for placed in carrier.calls.values():
            cb = await session.get(Callback, placed.request.callback_id)
            table.add_row(f"#{placed.request.callback_id} {cb.kind if cb else ''}",
                          mask_phone(placed.request.number), placed.request.flow, placed.status,
                          str(placed.result.steps) if placed.result else "1")
    console.print(table)


def _local(at: datetime | None, zone: str) -> str:
    from zoneinfo import ZoneInfo

    if at is None:
        return "-"
    return f"{at.replace(tzinfo=at.tzinfo or UTC).astimezone(ZoneInfo(zone)):%m-%d %H:%M}"


def _print_scheduled(rows: list[tuple[Callback, ServiceJob, Customer]],
                     repairs: dict[str, Repair], console: Console) -> None:
    table = Table(title="Post-repair callbacks (times in the customer's own zone)")
    for column in ("customer", "repaired", "deadline", "window", "first try", "state",
                   "callee"):
        table.add_column(column)
    for cb, job, customer in rows:
        table.add_row(
            customer.name, _local(job.completed_at, cb.timezone),
            _local(cb.deadline_at, cb.timezone),
            f"{cb.window_start}-{cb.window_end} {cb.timezone.rsplit('/', 1)[-1]}",
            _local(cb.next_attempt_at, cb.timezone),
            cb.state + (f" ({cb.disposition})" if cb.disposition else ""),
            repairs[job.reference].expect)
    console.print(table)


async def _print_outcomes(db: Database, references: list[str], console: Console) -> None:
    table = Table(title="Callbacks after the dispatcher pass")
    for column in ("customer", "state", "attempts", "disposition", "next try (local)"):
        table.add_column(column)
    surveys = Table(title="First-hand surveys the callbacks produced")
    for column in ("customer", "job", "timeliness / quality / attitude", "verification",
                   "call log"):
        surveys.add_column(column)
    for cb, _job, customer in await _callbacks(db, references):
        waiting = cb.state in ("scheduled", "retry_wait")
        table.add_row(f"{customer.name} ({customer.reference})", cb.state, str(cb.attempts),
                      cb.disposition or "-",
                      _local(cb.next_attempt_at, cb.timezone) if waiting else "-")
    async with db.sessions() as session:
        found = await session.execute(
            select(Survey, ServiceJob, Customer, Call)
            .join(ServiceJob, Survey.job_id == ServiceJob.id)
            .join(Customer, ServiceJob.customer_id == Customer.id)
            .join(Call, Survey.call_id == Call.id)
            .where(ServiceJob.reference.in_(references), Call.direction == Direction.OUTBOUND)
            .order_by(ServiceJob.reference))
        for survey, job, customer, call in found.tuples():
            surveys.add_row(f"{customer.name} ({customer.reference})", job.reference,
                            f"{survey.timeliness} / {survey.quality} / {survey.attitude}",
                            survey.verification, f"{call.carrier} {call.disposition}")
    console.print(table)
    console.print(surveys)
