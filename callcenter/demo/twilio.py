"""The Twilio part of `callcenter demo`: simulated callers on the live server.

Starts the real app on a free local port in this process, rings it with a
handful of simulated Twilio callers (complaint, survey, callback request,
agent, an unknown caller) whose requests are signed exactly as Twilio signs
them, then prints what each call left in the database.

Guarantee: the demo server is stopped whatever happens; it runs without the
job loop, FastAGI or AMI so it cannot collide with a running service.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from callcenter.app import create_app
from callcenter.demo.serving import app_on_port, free_port
from callcenter.demo.simulated_twilio import (
    HANGUP,
    CallResult,
    ScriptItem,
    SimulatedCaller,
    Speak,
)
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Call, Callback, Complaint, Staff, Survey


@dataclass(frozen=True)
class DemoCaller:
    label: str
    number: str
    script: tuple[ScriptItem, ...]


DEMO_AGENT = "agent-wu"  # the demo data's agent (callcenter demo)
CALLERS: tuple[DemoCaller, ...] = (
    DemoCaller("complaint (service attitude, recorded)", "+8613912345678", ("1", "2", Speak(25), "2")),
    DemoCaller("survey of the last visit: A, B, A, confirmed", "+8613800138000",
               ("2", "1", "2", "1", "1", "2")),
    DemoCaller("callback, tomorrow afternoon", "+8613700001111", ("3", "3", "2")),
    DemoCaller("unknown caller complains about billing", "+8613199990000", ("1", "4", Speak(10), "2")),
    DemoCaller("hangs up after choosing a category", "+8613600002222", ("1", "1", HANGUP)),
    DemoCaller("asks for an agent", "+8613600002222", ("0",)),
)


async def run_demo(settings: Settings, db: Database, console: Console) -> None:
    port = free_port()
    token = settings.twilio_auth_token.get_secret_value() or secrets.token_hex(16)
    live = settings.model_copy(update={
        "public_base_url": f"http://127.0.0.1:{port}", "http_port": port,
        "twilio_auth_token": type(settings.twilio_auth_token)(token),
        "job_loop_enabled": False, "fastagi_enabled": False, "ami_enabled": False,
        "twilio_conference": False,  # no Twilio REST API in the demo: agents by a plain dial
    })
    app = create_app(live, db=db)
    async with app_on_port(app, port):
        await _agent_ready(app, db, console)
        console.print(f"Twilio webhooks live on {live.public_base_url}/twilio/voice "
                      "(requests signed with the auth token)")
        results: list[tuple[DemoCaller, CallResult]] = []
        async with aiohttp.ClientSession() as http:
            for who in CALLERS:
                sim = SimulatedCaller(http, live.public_base_url, token, from_number=who.number)
                results.append((who, await sim.call(who.script)))
        await _print_stored(db, results, console)


async def _agent_ready(app: web.Application, db: Database, console: Console) -> None:
    """The demo agent goes ready, so the caller who asks for an agent is put through."""
    from callcenter import screenpop
    from crm.agent_states import AgentState

    async with db.sessions() as session:
        agent = await session.scalar(select(Staff).where(Staff.username == DEMO_AGENT))
    if agent is not None:
        await screenpop.service(app).set_status(agent.id, AgentState.READY)
        console.print(f"agent {DEMO_AGENT} is ready: the agent dial rings client:{DEMO_AGENT}")


async def _print_stored(db: Database, results: list[tuple[DemoCaller, CallResult]],
                        console: Console) -> None:
    table = Table(title="Simulated Twilio calls and what they stored")
    for column in ("caller", "webhooks", "outcome", "left at", "stored"):
        table.add_column(column)
    async with db.sessions() as session:
        for who, result in results:
            call = await session.scalar(select(Call).where(Call.carrier_call_id == result.call_sid))
            if call is None:
                table.add_row(who.label, str(result.steps), "not logged", "", "")
                continue
            stored: list[str] = []
            for complaint in await session.scalars(select(Complaint).where(Complaint.call_id == call.id)):
                recorded = "recorded" if complaint.recording_url else "no recording"
                stored.append(f"complaint {complaint.ticket} {complaint.category} ({recorded})")
            for survey in await session.scalars(select(Survey).where(Survey.call_id == call.id)):
                grades = f"{survey.timeliness}/{survey.quality}/{survey.attitude}"
                stored.append(f"survey {grades} {'complete' if survey.complete else 'incomplete'}")
            for callback in await session.scalars(
                    select(Callback).where(Callback.requested_call_id == call.id)):
                stored.append(f"callback {callback.state} due {callback.due_at:%Y-%m-%d %H:%M} UTC")
            if result.transfer:
                stored.append(f"sent to agents ({result.transfer})")
            left_at = (call.ivr_path or "").rsplit(">", 1)[-1]
            table.add_row(who.label, str(result.steps), call.disposition, left_at,
                          "; ".join(stored) or "-")
    console.print(table)
