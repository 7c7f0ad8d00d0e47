"""The outbound IVR flows (000, 001), written once as data like the hotline.

What the callee hears when a callback is answered:

* ``post_repair_survey``: after a repair (三天内回访): the greeting names
  the service job, then the three survey items (timeliness, repair quality,
  attitude; 1..5 -> A..E), read back, confirmed (1) or answered again (2),
  saved, thanks.
* ``complaint_followup``: the second follow-up call (二次回访): names the
  ticket digit by digit, says its state (002: the customer is told the
  complaint is resolved), "resolved to your satisfaction? 1 yes, 2 no", "how
  do you rate our service? 1..5", thanks; "no" is told the complaint will be
  reopened.
* ``survey_verification``: reads the grades recorded on the form for the job;
  1 = correct, 2 = not correct, then optionally the three grades the
  customer says they gave; thanks.
* ``requested_callback``: the callback the customer asked for: a greeting,
  then a callback agent.

In every menu ``0`` asks for a member of staff and ``*`` goes back; silence
or wrong keys three times end the call politely (``no_response``), because
on an outbound call nobody may be listening. What the call is about (job,
ticket, grades on the form) comes from ``CallerContext.outbound`` through
each flow's ``context_slots``.

Guarantees: every flow passes :func:`ivr.flow.validate` at import time and
has ``completes_callback``, so the session closes the callback once when
the call ends (except on a transfer, where the agent does); flow names are
those of ``crm.services.callback_ports.DEFAULT_FLOWS``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ivr.effect_payloads import CORRECT_SLOT, RESOLVED_SLOT, SERVICE_SLOT
from ivr.flow import (
    COMPLAINT_STATES,
    SURVEY_ITEMS,
    Announce,
    Branch,
    EffectStep,
    EndCall,
    Flow,
    Menu,
    Node,
    ReadDigits,
    ToAgents,
    assert_valid,
    keys,
)
from ivr.hotline import GRADE_KEYS

#: Where "0" and failed effects send the callee (the callback agents answer it).
OUTBOUND_QUEUE = "hotline-agents"
GRADES = tuple(GRADE_KEYS.values())
AGENT_KEY = "0"
ITEMS = SURVEY_ITEMS
GRADE_SLOTS = tuple(f"grade_{item}" for item in ITEMS)


def _endings() -> dict[str, Node]:
    """The ways out every outbound flow shares."""
    return {
        "system_error": Announce(items=("system_error",), next="agent"),
        "agent": Branch(condition="agents_open", if_true="agent_transfer", if_false="agents_closed"),
        "agent_transfer": ToAgents(prompts=("agent_transfer",), queue=OUTBOUND_QUEUE),
        "agents_closed": EndCall(prompts=("outbound_agents_closed",), disposition="no_agent"),
        "no_response": EndCall(prompts=("outbound_no_response",), disposition="no_response"),
    }


def _grade_menu(item: str, next_node: str, back: str, on_fail: str) -> Menu:
    """One survey item, 1..5 -> A..E, 0 for a member of staff."""
    table: dict[str, str | tuple[str, str]] = {k: (next_node, g) for k, g in GRADE_KEYS.items()}
    table[AGENT_KEY] = "agent"
    return Menu(prompts=(f"survey_{item}",), options=keys(table), back=back, on_fail=on_fail,
                store=f"grade_{item}")


def _survey_items(first_back: str, after: str, on_fail: str) -> dict[str, Node]:
    """The three items in order, then the read-back to confirm (1) or answer again (2)."""
    return {
        "survey_timeliness": _grade_menu("timeliness", "survey_repair_quality", first_back,
                                         on_fail),
        "survey_repair_quality": _grade_menu("repair_quality", "survey_attitude",
                                             "survey_timeliness", on_fail),
        "survey_attitude": _grade_menu("attitude", "survey_confirm", "survey_repair_quality",
                                       on_fail),
        "survey_confirm": Menu(
            prompts=(
                "survey_readback_intro",
                *(p for item in ITEMS for p in (f"item_{item}", f"grade_{{grade_{item}}}")),
                "survey_confirm",
            ),
            options=keys({"1": after, "2": "survey_timeliness", AGENT_KEY: "agent"}),
            back="survey_attitude",
            on_fail=on_fail,
        ),
    }


POST_REPAIR_SURVEY = assert_valid(
    Flow(
        name="post_repair_survey",
        start="greeting",
        completes_callback=True,
        context_slots={"job_id": (), "job_reference": ()},
        nodes={
            "greeting": Announce(
                items=("post_repair_greeting", ReadDigits("job_reference"), "post_repair_intro"),
                next="survey_timeliness",
            ),
            **_survey_items("survey_timeliness", "survey_save", "no_response"),
            "survey_save": EffectStep(effect="save_survey", ok="thanks", failed="system_error"),
            "thanks": EndCall(prompts=("survey_thanks", "outbound_goodbye")),
            **_endings(),
        },
    )
)

COMPLAINT_FOLLOWUP = assert_valid(
    Flow(
        name="complaint_followup",
        start="greeting",
        completes_callback=True,
        context_slots={"complaint_id": (), "ticket": (), "complaint_state": COMPLAINT_STATES},
        nodes={
            "greeting": Announce(
                items=("followup_greeting", ReadDigits("ticket"), "followup_intro",
                       "followup_state_{complaint_state}"),
                next="followup_resolved",
            ),
            "followup_resolved": Menu(
                prompts=("followup_resolved",),
                options=keys({
                    "1": ("followup_service", "yes"),
                    "2": ("followup_service", "no"),
                    AGENT_KEY: "agent",
                }),
                store=RESOLVED_SLOT,
                back="followup_resolved",
                on_fail="no_response",
            ),
            "followup_service": Menu(
                prompts=("followup_service",),
                options=keys({
                    **{k: ("followup_save", g) for k, g in GRADE_KEYS.items()},
                    AGENT_KEY: "agent",
                }),
                store=SERVICE_SLOT,
                back="followup_resolved",
                on_fail="followup_save",  # the verdict counts without the grade
            ),
            "followup_save": EffectStep(
                effect="record_followup_verdict", ok="followup_thanks", failed="system_error"
            ),
            "followup_thanks": EndCall(
                prompts=("followup_thanks_{" + RESOLVED_SLOT + "}", "outbound_goodbye")
            ),
            **_endings(),
        },
    )
)

SURVEY_VERIFICATION = assert_valid(
    Flow(
        name="survey_verification",
        start="greeting",
        completes_callback=True,
        context_slots={
            "survey_id": (),
            "job_reference": (),
            **{f"recorded_{item}": GRADES for item in ITEMS},
        },
        nodes={
            "greeting": Announce(
                items=("verify_greeting", ReadDigits("job_reference"), "verify_intro"),
                next="verify_correct",
            ),
            "verify_correct": Menu(
                prompts=(
                    "verify_readback_intro",
                    *(p for item in ITEMS for p in (f"item_{item}", f"grade_{{recorded_{item}}}")),
                    "verify_correct",
                ),
                options=keys({
                    "1": ("verify_save", "yes"),
                    "2": ("verify_reenter", "no"),
                    AGENT_KEY: "agent",
                }),
                store=CORRECT_SLOT,
                back="verify_correct",
                on_fail="no_response",
                clear_on_enter=GRADE_SLOTS,
            ),
            "verify_reenter": Menu(
                prompts=("verify_reenter_offer",),
                options=keys({"1": "survey_timeliness", "2": "verify_save", AGENT_KEY: "agent"}),
                back="verify_correct",
                on_fail="verify_save",
            ),
            # A re-entry given up half-way still records the dispute.
            **_survey_items("verify_reenter", "verify_save", "verify_save"),
            "verify_save": EffectStep(
                effect="confirm_survey", ok="verify_thanks", failed="system_error"
            ),
            "verify_thanks": EndCall(prompts=("verify_thanks", "outbound_goodbye")),
            **_endings(),
        },
    )
)

REQUESTED_CALLBACK = assert_valid(
    Flow(
        name="requested_callback",
        start="greeting",
        completes_callback=True,
        nodes={
            "greeting": Announce(items=("requested_callback_greeting",), next="agent"),
            **{k: v for k, v in _endings().items() if k.startswith("agent")},
        },
    )
)

#: Flow name (as in ``DEFAULT_FLOWS`` and ``DialRequest.flow``) -> flow.
OUTBOUND_FLOWS: Mapping[str, Flow] = {
    flow.name: flow
    for flow in (POST_REPAIR_SURVEY, COMPLAINT_FOLLOWUP, SURVEY_VERIFICATION, REQUESTED_CALLBACK)
}
