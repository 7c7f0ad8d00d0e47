"""The complaint hotline, written once as data (see /shared/domain.md).

Main menu: 1 complaint, 2 rate the last service visit, 3 callback, 4 the
status of a complaint (002: tell the customer the state), 8 the other
language (zh-CN <-> en, remembered on the caller's record), 0 agent, 9 repeat,
``*`` back one level everywhere. A menu that gets nothing usable
re-prompts three times, then hands the caller to an agent; when agents are
closed the caller is offered a callback instead, and a caller who cannot use
that menu either is told to call again and the call ends. Nothing here is
code: change the tables, run the validator (tests do), and both carriers
follow.

Every caller is served: a caller whose number cannot be called back
(withheld, foreign, unparseable: ``caller_number_callable`` is false) keys
in a number for the callback, hears it read back and confirms it; a number
the centre cannot call is asked for once more, then the caller goes to an
agent. The status option reads a keyed ticket, or the open complaints on
the caller's own number: state, owner department, due date; a ticket that is
not the caller's is "not found", nothing more.

Guarantee: :data:`HOTLINE` passes :func:`ivr.flow.validate` at import time.
"""

from __future__ import annotations

from ivr.flow import (
    Announce,
    Branch,
    DigitEntry,
    EffectStep,
    EndCall,
    Flow,
    Menu,
    ReadDigits,
    ReadStatus,
    Recording,
    SwitchLanguage,
    ToAgents,
    assert_valid,
    keys,
)

#: 1..5 on the keypad -> grade A..E (1 = very satisfied).
GRADE_KEYS = {"1": "A", "2": "B", "3": "C", "4": "D", "5": "E"}

COMPLAINT_SLOTS = ("category", "recording_url", "ticket")
CALLBACK_NUMBER_SLOTS = ("callback_number", "callback_e164")
STATUS_SLOTS = ("status_ticket", "status_lines")
SURVEY_SLOTS = (
    "job_id",
    "job_reference",
    "grade_timeliness",
    "grade_repair_quality",
    "grade_attitude",
)


def _grade_menu(prompt: str, store: str, next_node: str, back: str) -> Menu:
    options = keys({key: (next_node, grade) for key, grade in GRADE_KEYS.items()})
    return Menu(prompts=(prompt,), options=options, back=back, on_fail="agent", store=store)


HOTLINE = assert_valid(
    Flow(
        name="hotline",
        start="greeting",
        last_callback_hour=20,
        nodes={
            "greeting": Announce(items=("greeting",), next="main_menu"),
            # 8: the other language (zh-CN <-> en), kept on the caller's record for next time
            "switch_language": SwitchLanguage(next="main_menu"),
            "main_menu": Menu(
                prompts=("main_menu",),
                options=keys(
                    {
                        "1": "complaint_category",
                        "2": "survey_lookup",
                        "3": "callback",
                        "4": "status_menu",
                        "8": "switch_language",
                        "0": "agent",
                    }
                ),
                back="main_menu",
                on_fail="agent",
            ),
            # --- complaint status (002: tell the customer the state) ----------
            "status_menu": Menu(
                prompts=("status_menu",),
                options=keys({"1": "status_ticket_entry", "2": "status_own"}),
                back="main_menu",
                on_fail="agent",
                clear_on_enter=STATUS_SLOTS,
            ),
            "status_ticket_entry": DigitEntry(
                prompts=("status_enter_ticket",),
                store="status_ticket",
                next="status_lookup_ticket",
                back="status_menu",
                on_fail="agent",
                max_digits=20,
                finish_on_key="#",
                retries=2,
            ),
            "status_lookup_ticket": EffectStep(
                effect="lookup_complaint_status",
                ok="status_read",
                not_found="status_ticket_entry",
                not_found_prompt="status_not_found",
                not_found_is_retry=True,
                failed="system_error",
            ),
            "status_own": EffectStep(
                effect="lookup_complaint_status",
                ok="status_read",
                not_found="after_menu",
                not_found_prompt="status_none_open",
                failed="system_error",
            ),
            "status_read": Announce(
                items=("status_intro", ReadStatus("status_lines")), next="after_menu"
            ),
            # --- complaint ----------------------------------------------------
            "complaint_category": Menu(
                prompts=("complaint_category",),
                options=keys(
                    {
                        "1": ("complaint_record", "repair_quality"),
                        "2": ("complaint_record", "attitude"),
                        "3": ("complaint_record", "timeliness"),
                        "4": ("complaint_record", "billing"),
                        "5": ("complaint_record", "other"),
                    }
                ),
                store="category",
                back="main_menu",
                on_fail="agent",
                clear_on_enter=COMPLAINT_SLOTS,
            ),
            "complaint_record": Recording(
                prompt="complaint_record",
                store="recording_url",
                next="complaint_create",
                back="complaint_category",
                on_fail="agent",
                max_length_s=120,
                finish_on_key="#",
            ),
            "complaint_create": EffectStep(
                effect="create_complaint", ok="complaint_ticket", failed="system_error"
            ),
            "complaint_ticket": Announce(
                items=("complaint_ticket_intro", ReadDigits("ticket"), "complaint_thanks"),
                next="after_menu",
            ),
            # --- survey -------------------------------------------------------
            "survey_lookup": EffectStep(
                effect="lookup_job",
                ok="survey_intro",
                not_found="survey_reference",
                not_found_prompt="survey_no_recent_job",
                failed="system_error",
                clear_on_enter=SURVEY_SLOTS,
            ),
            "survey_reference": DigitEntry(
                prompts=("survey_enter_reference",),
                store="job_reference",
                next="survey_lookup_reference",
                back="main_menu",
                on_fail="agent",
                max_digits=12,
                finish_on_key="#",
            ),
            "survey_lookup_reference": EffectStep(
                effect="lookup_job",
                ok="survey_intro",
                not_found="survey_reference",
                not_found_prompt="survey_job_not_found",
                not_found_is_retry=True,
                failed="system_error",
            ),
            "survey_intro": Announce(items=("survey_intro",), next="survey_timeliness"),
            "survey_timeliness": _grade_menu(
                "survey_timeliness", "grade_timeliness", "survey_repair_quality", "main_menu"
            ),
            "survey_repair_quality": _grade_menu(
                "survey_repair_quality",
                "grade_repair_quality",
                "survey_attitude",
                "survey_timeliness",
            ),
            "survey_attitude": _grade_menu(
                "survey_attitude", "grade_attitude", "survey_confirm", "survey_repair_quality"
            ),
            "survey_confirm": Menu(
                prompts=(
                    "survey_readback_intro",
                    "item_timeliness",
                    "grade_{grade_timeliness}",
                    "item_repair_quality",
                    "grade_{grade_repair_quality}",
                    "item_attitude",
                    "grade_{grade_attitude}",
                    "survey_confirm",
                ),
                options=keys({"1": "survey_save", "2": "survey_timeliness"}),
                back="survey_attitude",
                on_fail="agent",
            ),
            "survey_save": EffectStep(
                effect="save_survey", ok="survey_thanks", failed="system_error"
            ),
            "survey_thanks": Announce(items=("survey_thanks",), next="after_menu"),
            # --- callback -----------------------------------------------------
            "callback": Branch(
                condition="caller_number_callable",
                if_true="callback_when",
                if_false="callback_number_entry",
            ),
            # A caller whose number we cannot call keys one in, hears it, confirms.
            "callback_number_entry": DigitEntry(
                prompts=("callback_enter_number",),
                store="callback_number",
                next="callback_number_check",
                back="main_menu",
                on_fail="callback_unusable",
                min_digits=3,
                max_digits=20,
                finish_on_key="#",
                retries=1,
                clear_on_enter=CALLBACK_NUMBER_SLOTS,
            ),
            "callback_number_check": EffectStep(
                effect="check_callback_number",
                ok="callback_number_readback",
                not_found="callback_number_entry",
                not_found_prompt="callback_number_invalid",
                not_found_is_retry=True,
                failed="system_error",
            ),
            "callback_number_readback": Announce(
                items=("callback_number_readback", ReadDigits("callback_number")),
                next="callback_number_confirm",
            ),
            "callback_number_confirm": Menu(
                prompts=("callback_number_confirm",),
                options=keys(
                    {"1": "callback_when", "2": "callback_number_entry",
                     "9": "callback_number_readback"}
                ),
                back="callback_number_entry",
                on_fail="callback_unusable",
            ),
            "callback_when": Branch(
                condition="callback_today_possible",
                if_true="callback_menu",
                if_false="callback_too_late",
            ),
            "callback_menu": Menu(
                prompts=("callback_menu",),
                options=keys(
                    {
                        "1": ("callback_schedule", "today"),
                        "2": ("callback_schedule", "tomorrow_morning"),
                        "3": ("callback_schedule", "tomorrow_afternoon"),
                    }
                ),
                store="window",
                back="main_menu",
                on_fail="callback_unusable",
            ),
            "callback_too_late": Announce(
                items=("callback_today_unavailable",), next="callback_menu_late"
            ),
            "callback_menu_late": Menu(
                prompts=("callback_menu_late",),
                options=keys(
                    {
                        "2": ("callback_schedule", "tomorrow_morning"),
                        "3": ("callback_schedule", "tomorrow_afternoon"),
                    }
                ),
                store="window",
                back="main_menu",
                on_fail="callback_unusable",
            ),
            "callback_schedule": EffectStep(
                effect="schedule_callback", ok="callback_confirmed", failed="callback_failed"
            ),
            "callback_confirmed": Announce(
                items=("callback_confirmed_{window}",), next="after_menu"
            ),
            "callback_failed": Announce(items=("system_error",), next="callback_unusable"),
            # A caller who cannot use the callback menu: an agent if there is one.
            "callback_unusable": Branch(
                condition="agents_open", if_true="agent_transfer", if_false="goodbye_unresolved"
            ),
            # --- agent --------------------------------------------------------
            "agent": Branch(
                condition="agents_open", if_true="agent_transfer", if_false="agents_closed"
            ),
            "agents_closed": Announce(items=("agents_closed",), next="callback"),
            "agent_transfer": ToAgents(prompts=("agent_transfer",), queue="hotline-agents"),
            # --- endings ------------------------------------------------------
            "system_error": Announce(items=("system_error",), next="agent"),
            "after_menu": Menu(
                prompts=("after_menu",),
                options=keys({"1": "main_menu", "2": "goodbye", "0": "agent"}),
                back="main_menu",
                on_fail="agent",
            ),
            "goodbye": EndCall(prompts=("goodbye",)),
            "goodbye_unresolved": EndCall(prompts=("goodbye_unresolved",)),
        },
    )
)
