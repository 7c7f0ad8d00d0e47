"""`GET /agent/ws`: the agent page's WebSocket onto the screen-pop (`callcenter.screenpop`).

Guarantees: only a logged-in agent (or manager / admin) connects, and only
from our own origin (no cross-site WebSocket hijacking with the session
cookie). On connect the socket gets `{"type": "state"}` with the agent's
status and current offer, so a reconnecting browser shows the ringing or
answered call again. The page may send `{"type": "status", "status":
"ready" | "not_ready"}` and `{"type": "ping"}`; anything else is answered with
an `error` message, never by closing the socket.
"""

from __future__ import annotations

import json
import logging

from aiohttp import WSMsgType, web

from callcenter.appkeys import SETTINGS
from callcenter.screenpop import service
from callcenter.screenpop.offers import message
from callcenter.web.auth import current, requires
from callcenter.web.edge import same_origin
from crm.agent_states import InvalidAgentState, normalise_reasons, requested_state
from crm.enums import Role

log = logging.getLogger(__name__)


@requires(Role.AGENT, Role.MANAGER)
async def agent_socket(request: web.Request) -> web.StreamResponse:
    if not same_origin(request):
        raise web.HTTPForbidden(reason="WebSocket from another site refused")
    identity = current(request)
    pop = service(request.app)
    reasons = normalise_reasons(request.app[SETTINGS].agent_not_ready_reasons.split(","))
    ws = web.WebSocketResponse(heartbeat=25.0)
    await ws.prepare(request)
    pop.hub.add(identity.staff_id, ws)
    try:
        status, offer = await pop.state_of(identity.staff_id)
        await ws.send_json(message("state", status=status, offer=offer, staff_id=identity.staff_id,
                                   name=identity.name))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
                kind = data.get("type")
            except (ValueError, AttributeError, RecursionError):
                await ws.send_json(message("error", error="send JSON objects"))
                continue
            if kind == "ping":
                await ws.send_json(message("pong"))
            elif kind == "status":
                try:  # the same rule as POST /api/agent/status
                    wanted = requested_state(data.get("status"), data.get("reason"), reasons)
                except InvalidAgentState as exc:
                    await ws.send_json(message("error", error=str(exc)))
                    continue
                await pop.set_status(identity.staff_id, wanted.state, wanted.reason)
            else:
                await ws.send_json(message("error", error=f"unknown message {kind!r}"))
    finally:
        pop.hub.remove(identity.staff_id, ws)
    return ws
