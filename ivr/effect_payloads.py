"""Effects built from what the caller gave: the one place that decides what
``CreateComplaint``, ``LookupJob``, ``SaveSurvey``, ``ScheduleCallback``,
``RecordFollowupVerdict``, ``ConfirmSurvey`` and ``CompleteCallback`` carry.

Guarantees: a complaint or a survey is built at most once per complaint /
survey, a follow-up verdict, a verification answer and a callback completion
at most once per call (the state remembers it was sent); :func:`unsent`
returns what must still be stored when a call ends early (``partial=True``
complaint, ``complete=False`` survey / verdict / verification answer), only
for effects the flow uses, and nothing when everything was already sent. On
an outbound flow it ends with the one ``CompleteCallback`` (not on a
transfer), whose disposition says what the callee answered.
"""

from __future__ import annotations

from ivr import actions as act
from ivr.flow import EffectStep, EndCall, Flow
from ivr.state import CallState

#: Slots of the outbound flows (ivr.outbound) read here.
RESOLVED_SLOT = "followup_resolved"  # 'yes' | 'no'
SERVICE_SLOT = "followup_service"  # 'A'..'E'
CORRECT_SLOT = "verification_correct"  # 'yes' | 'no'
#: Slots of the hotline (ivr.hotline) read here.
KEYED_NUMBER_SLOT = "callback_number"  # digits the caller keyed to be called back on
CALLBACK_E164_SLOT = "callback_e164"  # that number once checked (E.164)
STATUS_TICKET_SLOT = "status_ticket"  # a ticket number keyed to hear its state



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
        phone = slots.get(CALLBACK_E164_SLOT)
        return None if window is None else act.ScheduleCallback(
            str(window), None if phone is None else str(phone))
    if effect == "check_callback_number":
        digits = slots.get(KEYED_NUMBER_SLOT)
        return None if digits is None else act.CheckCallbackNumber(str(digits))
    if effect == "lookup_complaint_status":
        ticket = slots.get(STATUS_TICKET_SLOT)
        return act.LookupComplaintStatus(None if ticket is None else str(ticket))
    if effect == "record_followup_verdict":
        resolved, complaint = slots.get(RESOLVED_SLOT), slots.get("complaint_id")
        if resolved is None or complaint is None or "followup" in state.sent:
            return None
        state.sent.append("followup")
        grade = slots.get(SERVICE_SLOT)
        return act.RecordFollowupVerdict(
            int(complaint), resolved == "yes", None if grade is None else str(grade),
            not partial and grade is not None,
        )
    if effect == "confirm_survey":
        correct, survey = slots.get(CORRECT_SLOT), slots.get("survey_id")
        if correct is None or survey is None or "verification" in state.sent:
            return None
        state.sent.append("verification")
        grades = {} if correct == "yes" else state.grades(flow)
        return act.ConfirmSurvey(int(survey), correct == "yes", grades, not partial)
    raise ValueError(f"unknown effect {effect!r}; see ivr.flow.EFFECTS")


def unsent(flow: Flow, state: CallState, how: str = "hangup") -> list[act.Effect]:
    """What the caller gave that must be stored now that the call ends.

    ``how`` is ``hangup``, ``transfer`` or ``goodbye``."""
    used = {node.effect for node in flow.nodes.values() if isinstance(node, EffectStep)}
    pending = [
        build(flow, state, effect, partial=True)
        for effect in ("create_complaint", "save_survey", "record_followup_verdict",
                       "confirm_survey")
        if effect in used
    ]
    if flow.completes_callback and how != "transfer" and "callback" not in state.sent:
        state.sent.append("callback")
        pending.append(callback_outcome(flow, state, how))
    return [effect for effect in pending if effect is not None]


def callback_outcome(flow: Flow, state: CallState, how: str) -> act.CompleteCallback:
    """The disposition and feedback text of an outbound call that ends ``how``."""
    slots = state.slots
    notes: list[str] = []
    disposition = ""
    if slots.get(RESOLVED_SLOT) is not None:
        disposition = "satisfied" if slots[RESOLVED_SLOT] == "yes" else "dissatisfied"
        notes.append(f"resolved to satisfaction: {slots[RESOLVED_SLOT]}")
        if slots.get(SERVICE_SLOT) is not None:
            notes.append(f"service grade: {slots[SERVICE_SLOT]}")
    elif slots.get(CORRECT_SLOT) is not None:
        disposition = "confirmed" if slots[CORRECT_SLOT] == "yes" else "disputed"
        notes.append(f"recorded grades correct: {slots[CORRECT_SLOT]}")
    grades = state.grades(flow)
    if grades:
        said = ", ".join(f"{item} {grade}" for item, grade in grades.items())
        if disposition:
            notes.append(f"customer's grades: {said}")
        else:
            complete = slots.get("survey_id") is not None
            disposition = "surveyed" if complete else "partial_survey"
            notes.append(f"survey {'saved' if complete else 'not finished'}: {said}")
    if not disposition:
        node = flow.nodes.get(state.node)
        if how == "hangup":
            disposition = "hung_up"
        elif state.reason == "effect_failed":
            disposition = "system_error"
        elif isinstance(node, EndCall) and node.disposition:
            disposition = node.disposition
        else:
            disposition = "ended"
    if how == "hangup":
        notes.append(f"hung up at {state.node}")
    return act.CompleteCallback(disposition, "; ".join(notes) or disposition)
