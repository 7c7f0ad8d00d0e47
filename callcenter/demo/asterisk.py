"""The Asterisk part of `callcenter demo`: simulated Asterisk channels on our FastAGI server.

Builds the real app with only its FastAGI side switched on (the very
`fastagi_ctx` that `make serve` runs: same routes, same hotline driver), on a
free local port in this process, then rings it with a handful of simulated
Asterisk 22 channels (`callcenter.demo.simulated_asterisk`) calling from
the sample customers' numbers: a survey, a complaint with a recording, a
callback request and a caller who hangs up in the middle of a complaint.
Each one connects over real TCP, sends the `agi_*` block and answers our
AGI commands as Asterisk does. Then it prints what each call stored.

Guarantees: no real Asterisk is needed (a bundle named by ASTERISK_BUNDLE is
only mentioned); the server is stopped whatever happens; the app runs without
HTTP listener, job loop or AMI, so it cannot collide with a running service;
call ids are new on every run, so the demo can run any number of times.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.app import create_app
from callcenter.appkeys import FASTAGI, SERVICES
from callcenter.demo.serving import app_on_port, free_port
from callcenter.demo.simulated_asterisk import CallerStep, Hangup, SimulatedAgiCall, Speak
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, Callback, Complaint, Survey
from callcenter.telephony.asterisk.fastagi import FastAgiServer
from crm.enums import Carrier


@dataclass(frozen=True)
class DemoChannel:
    label: str
    callerid: str  # as a Chinese trunk presents it: national digits
    name: str
    steps: tuple[CallerStep, ...]


CHANNELS: tuple[DemoChannel, ...] = (
    DemoChannel("survey of the last visit: A, B, A, confirmed", "13800138000", "张三",
                ("2", "1", "2", "1", "1", "2")),
    DemoChannel("complaint (service attitude, recorded 20 s)", "13912345678", "李四",
                ("1", "2", Speak(20), "2")),
    DemoChannel("callback, tomorrow morning", "13700001111", "王芳", ("3", "2", "2")),
    DemoChannel("hangs up while recording a repair complaint", "13600002222", "赵局长",
                ("1", "1", Hangup())),
)


_EVERY_CALL = frozenset({"", "greeting", "main_menu", "after_menu"})


def _real_asterisk_bundle() -> bool:
    bundle = os.environ.get("ASTERISK_BUNDLE")
    return bool(bundle) and Path(bundle or ".").is_dir()


def _linkedid(index: int) -> str:
    """An Asterisk-shaped call id (epoch.sequence), new on every run."""
    return f"{int(time.time())}.{secrets.randbelow(900_000) + 100_000}{index}"


async def run_demo(settings: Settings, db: Database, console: Console) -> None:
    port = free_port()
    live = settings.model_copy(update={
        "fastagi_enabled": True, "fastagi_host": "127.0.0.1", "fastagi_port": port,
        "job_loop_enabled": False, "ami_enabled": False,
    })
    # no HTTP: the cleanup contexts run, so the FastAGI server is listening
    async with app_on_port(create_app(live, db=db), None) as runner:
        server = runner.app[SERVICES].get(FASTAGI)
        if server is None:  # another process on this database holds the telephony side
            raise SystemExit(
                "the Asterisk part of the demo needs the telephony side (FastAGI), which another "
                "service process on this database holds: stop `make serve` and run `make demo` again")
        assert isinstance(server, FastAgiServer)
        console.print(f"FastAGI live on agi://127.0.0.1:{server.port}/hotline "
                      "(simulated Asterisk 22 channels over TCP)")
        if _real_asterisk_bundle():
            console.print("[dim]A real Asterisk bundle is available (ASTERISK_BUNDLE); "
                          "`make test` dials through it. This demo does not need it.[/]")
        calls: list[tuple[DemoChannel, SimulatedAgiCall]] = []
        for index, who in enumerate(CHANNELS):
            linkedid = _linkedid(index)
            sim = SimulatedAgiCall(server.port, list(who.steps), args=(linkedid,),
                                   uniqueid=linkedid, linkedid=linkedid, callerid=who.callerid,
                                   callerid_name=who.name)
            calls.append((who, await sim.run()))
            await server.wait_idle()  # the session's last writes are done
        await _print_stored(db, calls, console)


def _path(ivr_path: str | None) -> str:
    """The IVR path without the nodes every call passes (greeting, main menu, goodbye)."""
    nodes = [n for n in (ivr_path or "").split(">") if n not in _EVERY_CALL]
    return " > ".join(nodes) or "-"


async def _stored(session: AsyncSession, call: Call) -> list[str]:
    """What one call left: complaint ticket, survey grades, callback."""
    stored: list[str] = []
    for complaint in await session.scalars(select(Complaint).where(Complaint.call_id == call.id)):
        recorded = "recorded" if complaint.recording_url else "no recording"
        stored.append(f"complaint {complaint.ticket} {complaint.category} "
                      f"{complaint.state} ({recorded})")
    for survey in await session.scalars(select(Survey).where(Survey.call_id == call.id)):
        grades = f"{survey.timeliness}/{survey.quality}/{survey.attitude}"
        stored.append(f"survey {grades} {'complete' if survey.complete else 'incomplete'}, "
                      f"{survey.verification}")
    for callback in await session.scalars(
            select(Callback).where(Callback.requested_call_id == call.id)):
        window = (callback.data or {}).get("window", "")
        stored.append(f"callback {window} {callback.state}, first try "
                      f"{callback.next_attempt_at:%Y-%m-%d %H:%M} UTC")
    return stored


async def _print_stored(db: Database, calls: list[tuple[DemoChannel, SimulatedAgiCall]],
                        console: Console) -> None:
    table = Table(title="Simulated Asterisk calls (FastAGI) and what they stored")
    for column in ("caller", "AGI cmds", "outcome", "IVR path", "stored"):
        table.add_column(column)
    async with db.sessions() as session:
        for who, sim in calls:
            call = await session.scalar(select(Call).where(
                Call.carrier == Carrier.ASTERISK, Call.carrier_call_id == sim.linkedid))
            if call is None:
                table.add_row(who.label, str(len(sim.commands)), "not logged", "", "")
                continue
            table.add_row(who.label, str(len(sim.commands)), call.disposition,
                          _path(call.ivr_path), "; ".join(await _stored(session, call)) or "-")
    console.print(table)
