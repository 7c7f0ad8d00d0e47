"""Effects built from what the caller gave: the one place that decides what
``CreateComplaint``, ``LookupJob``, ``SaveSurvey`` and ``ScheduleCallback``
carry.

Guarantees: a complaint or a survey is built at most once per complaint /
survey (the state remembers it was sent); :func:`unsent` returns what must
still be stored when a call ends early (``partial=True`` complaint,
``complete=False`` survey), and nothing when everything was already sent.
"""

from __future__ import annotations

from ivr import actions as act
from ivr.flow import Flow
from ivr.state import CallState

#: Effect kind (flow data) -> action class name (what ``EffectFailed`` names).
EFFECT_ACTIONS = {
    "create_complaint": "CreateComplaint",
    "lookup_job": "LookupJob",
    "save_survey": "SaveSurvey",
    "schedule_callback": "ScheduleCallback",
}


def build(flow: Flow, state: CallState, effect: str, *, partial: bool) -> act.Effect | None:
    """The effect for ``effect`` from the slots, or None when the slots do not
    hold what it needs (e.g. a survey with no job)."""
    slots = state.slots
    if effect == "create_complaint":
        if slots.get("category") is None or state.complaint_sent:
            return None
        state.complaint_sent = True
        recording = slots.get("recording_url")
        return act.CreateComplaint(
            str(slots["category"]),
            None if recording is None else str(recording),
            partial or recording is None,
        )
    if effect == "lookup_job":
        reference = slots.get("job_reference")
        return act.LookupJob(None if reference is None else str(reference))
    if effect == "save_survey":
        grades = state.grades(flow)
        if slots.get("job_id") is None or not grades or state.survey_sent:
            return None
        state.survey_sent = True
        complete = not partial and len(grades) == len(flow.survey_items)
        return act.SaveSurvey(int(slots["job_id"]), grades, complete)
    if effect == "schedule_callback":
        window = slots.get("window")
        return None if window is None else act.ScheduleCallback(str(window))
    raise ValueError(f"unknown effect {effect!r}; see ivr.flow.EFFECTS")


def unsent(flow: Flow, state: CallState) -> list[act.Effect]:
    """What the caller gave that must be stored now that the call ends."""
    pending = [
        build(flow, state, "create_complaint", partial=True),
        build(flow, state, "save_survey", partial=True),
    ]
    return [effect for effect in pending if effect is not None]
