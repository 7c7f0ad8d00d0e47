"""Every caller is served (withheld / foreign numbers key in a callback number) and
complaint status by phone (002: tell the customer the state), on the engine alone."""

from __future__ import annotations

import pytest
from hotline_calls import call, of_type
from outbound_calls import TICKET, callee

from ivr import actions as act
from ivr import events as ev
from ivr.flow import COMPLAINT_STATES
from ivr.outbound import COMPLAINT_FOLLOWUP
from ivr.simulate import cooperative_back_office, run

KEYED = "13912345678#"


def test_a_withheld_caller_keys_a_number_hears_it_read_back_and_gets_the_callback() -> None:
    t = call(["3", KEYED, "1", "2"], callback_number_known=False)
    assert "callback_enter_number" in t.prompts
    assert act.SayDigits("13912345678") in t.actions
    assert t.prompts.index("callback_number_readback") < t.prompts.index("callback_number_confirm")
    assert of_type(t.effects, act.CheckCallbackNumber) == [act.CheckCallbackNumber("13912345678")]
    assert of_type(t.effects, act.ScheduleCallback) == [
        act.ScheduleCallback("tomorrow_morning", "+8613912345678")]
    assert "callback_confirmed_tomorrow_morning" in t.prompts


def test_a_known_caller_is_called_back_on_the_number_they_call_from() -> None:
    t = call(["3", "2"])
    assert "callback_enter_number" not in t.prompts
    assert of_type(t.effects, act.ScheduleCallback) == [act.ScheduleCallback("tomorrow_morning")]


def test_an_invalid_keyed_number_is_asked_again_then_the_caller_goes_to_an_agent() -> None:
    t = call(["3", "12345#", "99#"], callback_number_known=False)
    assert t.prompts.count("callback_number_invalid") == 1
    assert t.prompts.count("callback_enter_number") == 2
    assert of_type(t.effects, act.ScheduleCallback) == []
    transfer = t.last_media
    assert isinstance(transfer, act.Transfer) and transfer.reason == "retries_exhausted"


def test_an_invalid_keyed_number_then_a_good_one_gets_the_callback() -> None:
    t = call(["3", "12345#", KEYED, "1", "1"], callback_number_known=False)
    assert of_type(t.effects, act.ScheduleCallback) == [
        act.ScheduleCallback("today", "+8613912345678")]


def test_after_hours_two_bad_numbers_end_the_call_politely() -> None:
    t = call(["3", "12345#", "99#"], callback_number_known=False, agents_open=False)
    assert of_type(t.actions, act.Transfer) == []
    assert "goodbye_unresolved" in t.prompts


def test_the_caller_may_key_the_number_again_after_hearing_it() -> None:
    t = call(["3", "13912345670#", "2", KEYED, "1", "3"], callback_number_known=False)
    assert [e.digits for e in of_type(t.effects, act.CheckCallbackNumber)] == [
        "13912345670", "13912345678"]
    assert of_type(t.effects, act.ScheduleCallback)[0].phone == "+8613912345678"


def test_a_withheld_caller_after_hours_keys_a_number_instead_of_reaching_an_agent() -> None:
    t = call(["0", KEYED, "1", "2"], callback_number_known=False, agents_open=False)
    assert "agents_closed" in t.prompts
    assert of_type(t.effects, act.ScheduleCallback)[0].phone == "+8613912345678"


def test_the_keyed_number_survives_a_round_trip_through_json() -> None:
    t = run_json(["3", KEYED, "1", "2"])
    assert of_type(t.effects, act.ScheduleCallback)[0].phone == "+8613912345678"


def run_json(keys: list[str]):  # type: ignore[no-untyped-def]
    from hotline_calls import caller

    from ivr.hotline import HOTLINE

    return run(HOTLINE, caller(callback_number_known=False), keys, cooperative_back_office,
               through_json=True)


# --- complaint status by phone -------------------------------------------------------------


def test_a_keyed_ticket_is_read_with_state_department_and_due_date() -> None:
    t = call(["4", "1", "20240001#"])
    assert of_type(t.effects, act.LookupComplaintStatus) == [act.LookupComplaintStatus("20240001")]
    said = [a for a in t.actions if isinstance(a, act.Say | act.SayDigits | act.SayName)]
    start = said.index(act.Say("status_ticket"))
    assert said[start:start + 8] == [
        act.Say("status_ticket"), act.SayDigits("20240001"), act.Say("state_in_progress"),
        act.Say("status_department"), act.SayName("售后服务部", "SVC"),
        act.Say("status_due"), act.Say("month_5"), act.Say("day_8"),
    ]


def test_an_unknown_ticket_is_only_said_not_found_then_agent_after_three_tries() -> None:
    t = call(["4", "1", "999#", "998#", "997#"])
    assert t.prompts.count("status_not_found") == 2
    assert not [a for a in t.actions if isinstance(a, act.SayDigits | act.SayName)]
    assert not [p for p in t.prompts if p.startswith("state_")]
    assert isinstance(t.last_media, act.Transfer)


def test_the_open_complaints_on_the_callers_number_are_read() -> None:
    t = call(["4", "2"])
    assert of_type(t.effects, act.LookupComplaintStatus) == [act.LookupComplaintStatus(None)]
    assert "state_in_progress" in t.prompts


def test_no_open_complaint_on_the_number_says_so_and_offers_the_after_menu() -> None:
    def none_found(effect: act.Effect) -> ev.Event | None:
        if isinstance(effect, act.LookupComplaintStatus):
            return ev.ComplaintStatus(())
        return cooperative_back_office(effect)

    t = call(["4", "2", "2"], back_office=none_found)
    assert "status_none_open" in t.prompts and "after_menu" in t.prompts
    assert t.prompts[-1] == "goodbye"


def test_a_resolved_complaint_has_no_due_date_read() -> None:
    def resolved(effect: act.Effect) -> ev.Event | None:
        if isinstance(effect, act.LookupComplaintStatus):
            return ev.ComplaintStatus((ev.StatusLine("20240001", "resolved", "", "", None, None),))
        return cooperative_back_office(effect)

    t = call(["4", "1", "20240001#"], back_office=resolved)
    assert "state_resolved" in t.prompts
    assert "status_due" not in t.prompts and "status_department" not in t.prompts


def test_a_state_the_catalogue_does_not_know_is_not_spoken() -> None:
    def odd(effect: act.Effect) -> ev.Event | None:
        if isinstance(effect, act.LookupComplaintStatus):
            return ev.ComplaintStatus((ev.StatusLine("20240001", "archived", "X", "X", 13, 40),))
        return cooperative_back_office(effect)

    t = call(["4", "1", "20240001#"], back_office=odd)
    assert not [p for p in t.prompts if p.startswith(("state_", "month_", "day_"))]


def test_status_prompts_exist_in_both_languages_for_every_complaint_state() -> None:
    from crm.enums import ComplaintState
    from ivr.prompts import has_prompt

    assert set(COMPLAINT_STATES) == {s.value for s in ComplaintState}
    for state in COMPLAINT_STATES:
        for language in ("zh-CN", "en"):
            assert has_prompt(f"state_{state}", language)
            assert has_prompt(f"followup_state_{state}", language)


@pytest.mark.parametrize("state", ["resolved", "in_progress"])
def test_the_followup_call_speaks_the_complaints_state(state: str) -> None:
    context = callee({**TICKET, "complaint_state": state})
    t = run(COMPLAINT_FOLLOWUP, context, [], cooperative_back_office)
    said = [a for a in t.turns[0].actions if isinstance(a, act.Say | act.SayDigits)]
    assert said[-1] == act.Say(f"followup_state_{state}")
