"""Helpers for the outbound flow tests: the callee's context and whole calls."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ivr import actions as act
from ivr import events as ev
from ivr.flow import Flow
from ivr.outbound import COMPLAINT_FOLLOWUP, POST_REPAIR_SURVEY, SURVEY_VERIFICATION
from ivr.simulate import CallerInput, Transcript, cooperative_back_office, run

JOB = {"callback_id": 5, "job_id": 42, "job_reference": "880042"}
TICKET = {"callback_id": 6, "complaint_id": 3, "ticket": "2605180003"}
FORM = {
    "callback_id": 7,
    "survey_id": 9,
    "job_reference": "880042",
    "recorded_timeliness": "A",
    "recorded_repair_quality": "B",
    "recorded_attitude": "E",
}
CONTEXTS: dict[str, dict[str, str | int | None]] = {
    POST_REPAIR_SURVEY.name: JOB,
    COMPLAINT_FOLLOWUP.name: TICKET,
    SURVEY_VERIFICATION.name: FORM,
}


def callee(
    outbound: dict[str, str | int | None], *, language: str = "zh-CN", agents_open: bool = True
) -> ev.CallerContext:
    return ev.CallerContext(
        caller_known=True,
        customer_tz="Asia/Shanghai",
        language=language,
        agents_open=agents_open,
        local_now_iso="2026-05-18T10:00:00+08:00",
        outbound=dict(outbound),
    )


def outbound_call(
    flow: Flow,
    keys: Iterable[CallerInput],
    *,
    language: str = "zh-CN",
    agents_open: bool = True,
    through_json: bool = False,
    back_office: Callable[[act.Effect], ev.Event | None] = cooperative_back_office,
) -> Transcript:
    context = callee(CONTEXTS[flow.name], language=language, agents_open=agents_open)
    return run(flow, context, keys, back_office, through_json=through_json)


def completions(t: Transcript) -> list[act.CompleteCallback]:
    return [e for e in t.effects if isinstance(e, act.CompleteCallback)]


def gather_nodes(t: Transcript) -> list[str]:
    return [a.node for a in t.actions if isinstance(a, act.Gather)]
