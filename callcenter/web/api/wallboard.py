"""`GET /api/wallboard`: the wallboard's figures as JSON (the page's socket sends the same)."""

from __future__ import annotations

from typing import Any

from callcenter.appkeys import DB
from callcenter.wallboard import VIEWERS, board, today_off_loop
from callcenter.web.api.routing import ApiCall, api


@api("GET", "/api/wallboard", summary="Callers waiting, agents by state and today's call KPIs "
     "(the daily report's figures)", roles=VIEWERS, tag="wallboard", response=dict[str, Any])
async def wallboard(call: ApiCall) -> dict[str, Any]:
    now = call.now()
    kpis = await today_off_loop(call.request.app)(now)  # a day of calls through pandas: off the loop
    return await board.snapshot(call.request.app[DB], call.settings, now, kpis)
