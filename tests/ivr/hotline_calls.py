"""Helpers for the IVR tests: callers, back offices, and reading actions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from ivr import actions as act
from ivr import events as ev
from ivr.hotline import HOTLINE
from ivr.session import Session
from ivr.simulate import CallerInput, Transcript, cooperative_back_office, run

T = TypeVar("T")

MORNING = "2024-05-06T10:00:00+08:00"
LATE_EVENING = "2024-05-06T20:30:00+08:00"
RECORDED_URL = "https://rec.example/RE1"


def caller(
    *, agents_open: bool = True, local_now_iso: str = MORNING, language: str = "zh-CN",
    callback_number_known: bool = True,
) -> ev.CallerContext:
    return ev.CallerContext(
        caller_known=True,
        customer_tz="Asia/Shanghai",
        language=language,
        last_job_reference="880042",
        last_job_id=42,
        agents_open=agents_open,
        local_now_iso=local_now_iso,
        callback_number_known=callback_number_known,
    )


def call(
    keys: Iterable[CallerInput],
    *,
    back_office: Callable[[act.Effect], ev.Event | None] = cooperative_back_office,
    through_json: bool = False,
    agents_open: bool = True,
    local_now_iso: str = MORNING,
    language: str = "zh-CN",
    callback_number_known: bool = True,
) -> Transcript:
    context = caller(agents_open=agents_open, local_now_iso=local_now_iso, language=language,
                     callback_number_known=callback_number_known)
    return run(HOTLINE, context, keys, back_office, through_json=through_json)


def no_recent_job(effect: act.Effect) -> ev.Event | None:
    """A back office where the caller has no recent job; reference 12345 exists."""
    if isinstance(effect, act.LookupJob):
        if effect.reference == "12345":
            return ev.JobLookup(found=True, job_id=77, reference="12345")
        return ev.JobLookup(found=False)
    return cooperative_back_office(effect)


def started(
    *, agents_open: bool = True, local_now_iso: str = MORNING, callback_number_known: bool = True,
) -> tuple[Session, list[act.Action]]:
    session = Session(HOTLINE)
    context = caller(agents_open=agents_open, local_now_iso=local_now_iso,
                     callback_number_known=callback_number_known)
    return session, session.handle(ev.Start(context))


def gathers(actions: Iterable[act.Action]) -> list[act.Gather]:
    return [a for a in actions if isinstance(a, act.Gather)]


def waiting_node(actions: list[act.Action]) -> str:
    """The node of the last Gather/Record: where the caller is now."""
    for action in reversed(actions):
        if isinstance(action, act.Gather | act.Record):
            return action.node
    raise AssertionError(f"no Gather/Record in {actions}")


def of_type(actions: Iterable[act.Action], kind: type[T]) -> list[T]:
    return [a for a in actions if isinstance(a, kind)]
