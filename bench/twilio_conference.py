"""Ringing the agents into a Twilio caller's conference: how long until the last agent rings.

    python bench/twilio_conference.py                        # 1, 5, 10 ready agents, 150 ms REST
    python bench/twilio_conference.py --rest-ms 300 --calls 20

What it does, honestly:
- migrates a throwaway SQLite database (in a temporary folder), seeds the ready
  agents, and serves the real app (``create_app``) on a local port, Twilio in
  conference mode, ``ROUTE_TO_READY_AGENTS`` on;
- Twilio's REST API is a local fake that answers every request like Twilio
  (201 and a Participant with a CallSid) after ``--rest-ms`` (Twilio's round
  trip from a server far from its region is 100-300 ms);
- for each agent count, ``--calls`` callers in turn: the IVR hands the caller
  over (signed webhooks, as Twilio sends them), then the caller's conference
  ``participant-join`` is posted and timed: the app answers it once it has
  rung every ready agent (one Participants create each, side by side) and
  recorded the legs. That time is how late the last agent's phone starts to
  ring after the caller got into the conference;
- prints p50 / max per agent count, and the same with the REST requests made
  one after the other (the peer, in the same run: ``--rest-ms`` x agents).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import free_port  # noqa: E402

TOKEN = "bench-auth-token-0123456789abcdef"


async def fake_twilio(rest_ms: float) -> tuple[web.AppRunner, str]:
    async def participants(request: web.Request) -> web.Response:
        await asyncio.sleep(rest_ms / 1000)
        await request.post()
        sid = "CA" + f"{time.perf_counter_ns():032x}"[-32:]
        return web.json_response({"call_sid": sid, "conference_sid": request.match_info["conf"],
                                  "account_sid": request.match_info["acct"], "label": None,
                                  "status": "queued"}, status=201)

    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{acct}/Conferences/{conf}/Participants.json",
                        participants)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def one_run(agents: int, calls: int, rest_ms: float, sequential: bool) -> list[float]:
    from callcenter.app import create_app
    from callcenter.demo.simulated_twilio import SimulatedCaller, conference_sid_of
    from callcenter.screenpop import AgentStatus, service
    from callcenter.settings import Settings
    from callcenter.storage import migrate
    from callcenter.storage.engine import Database
    from callcenter.storage.tables import Staff
    from callcenter.telephony.twilio import conference

    folder = Path(tempfile.mkdtemp(prefix="cc-bench-conf-"))
    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    rest_runner, rest_url = await fake_twilio(rest_ms)
    port = free_port()
    settings = Settings(
        database_url=url, twilio_auth_token=TOKEN, public_base_url=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
        http_port=port, job_loop_enabled=False, fastagi_enabled=False, ami_enabled=False,
        log_json=False, log_level="WARNING", opening_hours="00:00-23:59",
        route_to_ready_agents=True, twilio_api_base_url=rest_url,
        prompts_dir=folder / "prompts", spool_dir=folder / "spool",
        recordings_dir=folder / "recordings", reports_dir=folder / "reports",
    )  # type: ignore[call-arg]
    db = Database.open(url)
    app = create_app(settings, db=db)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    original = conference.ConferenceRest.ring
    if sequential:  # the peer: one REST request after the other
        lock = asyncio.Lock()

        async def one_at_a_time(self: Any, *args: Any) -> str:
            async with lock:
                return await original(self, *args)

        conference.ConferenceRest.ring = one_at_a_time  # type: ignore[method-assign]
    timings: list[float] = []
    try:
        async with db.sessions() as session:
            rows = [Staff(username=f"agent-{i}", name=f"agent {i}", roles=["agent"], active=True)
                    for i in range(agents)]
            session.add_all(rows)
            await session.commit()
            ids = [r.id for r in rows]
        async with aiohttp.ClientSession() as http:
            for _ in range(calls):
                pop = service(app)
                for staff_id in ids:
                    await pop.set_status(staff_id, AgentStatus.READY)
                sim = SimulatedCaller(http, settings.public_base_url, TOKEN)
                first = await sim.post("/twilio/voice", sim.params(CallStatus="ringing"))
                gather = ET.fromstring(first.body).find("Gather")
                assert gather is not None, first.body
                asked = await sim.post(gather.attrib["action"], sim.params(Digits="0"))
                room = ET.fromstring(asked.body).find("Dial/Conference")
                assert room is not None, asked.body
                name = (room.text or "").strip()
                started = time.perf_counter()
                joined = await sim.post(room.attrib["statusCallback"], sim.conference_event(
                    "participant-join", name, conference_sid=conference_sid_of(name)))
                timings.append((time.perf_counter() - started) * 1000)
                assert joined.status == 200, joined.body
                await sim.status("completed", duration_s=30)
                await pop.settle()
    finally:
        conference.ConferenceRest.ring = original  # type: ignore[method-assign]
        await runner.cleanup()
        await rest_runner.cleanup()
        await db.close()
    return timings


async def main(args: argparse.Namespace) -> int:
    print(f"twilio_conference: caller joins the conference -> every ready agent rung "
          f"(REST {args.rest_ms:g} ms per request, {args.calls} calls each, SQLite)")
    for agents in args.agents:
        side = sorted(await one_run(agents, args.calls, args.rest_ms, sequential=False))
        line = sorted(await one_run(agents, args.calls, args.rest_ms, sequential=True))
        print(f"  {agents:>2} ready agents: side by side p50 {statistics.median(side):7.1f} ms, "
              f"max {side[-1]:7.1f} ms | one after the other p50 {statistics.median(line):7.1f} ms,"
              f" max {line[-1]:7.1f} ms | ratio {statistics.median(line) / statistics.median(side):.1f}x")
    return 0


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--rest-ms", type=float, default=150.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(_args(sys.argv[1:]))))
