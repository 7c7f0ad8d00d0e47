"""The prompt catalogue and the flow validator."""

from __future__ import annotations

import dataclasses
import re

import pytest

from ivr.flow import (
    Announce,
    Branch,
    EndCall,
    Flow,
    FlowError,
    Menu,
    assert_valid,
    expand_template,
    keys,
    prompt_templates,
    slot_values,
    validate,
)
from ivr.hotline import HOTLINE
from ivr.prompts import LANGUAGES, PROMPT_IDS, UnknownPrompt, normalize_language, prompt_text

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("prompt_id", PROMPT_IDS)
def test_every_prompt_has_chinese_and_english_text(prompt_id: str) -> None:
    chinese = prompt_text(prompt_id, "zh-CN")
    english = prompt_text(prompt_id, "en")
    assert CJK.search(chinese), chinese
    assert english and not CJK.search(english)
    assert english.isascii()


def test_chinese_is_the_default_language() -> None:
    assert LANGUAGES[0] == "zh-CN"
    assert prompt_text("greeting") == "您好，欢迎致电客户服务热线。"
    assert normalize_language("fr-FR") == "zh-CN"
    assert normalize_language("en-US") == "en"


def test_main_menu_says_the_keys_in_chinese() -> None:
    text = prompt_text("main_menu", "zh-CN")
    for fragment in ("投诉请按1", "请按2", "请按3", "请按0", "重听请按9"):
        assert fragment in text


def test_unknown_prompt_says_where_to_add_it() -> None:
    with pytest.raises(UnknownPrompt, match="ivr/prompts.py"):
        prompt_text("no_such_prompt", "en")


def test_every_prompt_the_hotline_can_play_is_in_the_catalogue() -> None:
    slots = slot_values(HOTLINE)
    played = {
        prompt_id
        for node in HOTLINE.nodes.values()
        for template in prompt_templates(node)
        for prompt_id in expand_template(template, slots) or [template]
    }
    assert played <= set(PROMPT_IDS)
    assert {"grade_A", "grade_E", "callback_confirmed_tomorrow_afternoon"} <= played


def test_the_hotline_is_a_valid_flow() -> None:
    assert validate(HOTLINE) == []


def _flow(**nodes: object) -> Flow:
    return Flow(name="t", start="menu", nodes=nodes)  # type: ignore[arg-type]


GOOD_MENU = Menu(prompts=("main_menu",), options=keys({"1": "bye"}), back="menu", on_fail="bye")
BYE = EndCall(prompts=("goodbye",))


def test_a_small_sound_flow_passes() -> None:
    assert validate(_flow(menu=GOOD_MENU, bye=BYE)) == []


def test_a_missing_target_is_reported() -> None:
    menu = dataclasses.replace(GOOD_MENU, options=keys({"1": "nowhere"}))
    assert any("nowhere" in p for p in validate(_flow(menu=menu, bye=BYE)))


def test_an_unreachable_node_is_reported() -> None:
    problems = validate(_flow(menu=GOOD_MENU, bye=BYE, orphan=BYE))
    assert problems == ["orphan: unreachable from 'menu'"]


def test_a_node_with_no_way_out_is_reported() -> None:
    trap = Menu(prompts=("main_menu",), options=keys({"1": "trap"}), back="trap", on_fail="trap")
    menu = dataclasses.replace(GOOD_MENU, options=keys({"1": "bye", "2": "trap"}))
    problems = validate(_flow(menu=menu, bye=BYE, trap=trap))
    assert problems == ["trap: no way out to an agent or a goodbye"]


def test_announcements_that_loop_without_waiting_are_reported() -> None:
    menu = dataclasses.replace(GOOD_MENU, options=keys({"1": "a", "2": "bye"}))
    a = Announce(items=("greeting",), next="b")
    b = Branch(condition="agents_open", if_true="a", if_false="bye")
    assert any("without waiting" in p for p in validate(_flow(menu=menu, a=a, b=b, bye=BYE)))


def test_unknown_condition_effect_and_prompt_are_reported() -> None:
    menu = dataclasses.replace(GOOD_MENU, options=keys({"1": "b", "2": "bye"}))
    b = Branch(condition="moon_is_full", if_true="bye", if_false="bye")
    bye = EndCall(prompts=("no_such_prompt",))
    problems = validate(_flow(menu=menu, b=b, bye=bye))
    assert any("moon_is_full" in p for p in problems)
    assert any("'no_such_prompt' has no zh-CN text" in p for p in problems)


def test_a_prompt_naming_a_slot_no_menu_fills_is_reported() -> None:
    bye = EndCall(prompts=("grade_{mood}",))
    assert any("mood" in p for p in validate(_flow(menu=GOOD_MENU, bye=bye)))


def test_star_cannot_be_a_menu_option_because_it_means_back() -> None:
    menu = dataclasses.replace(GOOD_MENU, options=keys({"*": "bye"}))
    assert any("'*'" in p for p in validate(_flow(menu=menu, bye=BYE)))


def test_a_menu_storing_values_needs_a_slot() -> None:
    menu = dataclasses.replace(GOOD_MENU, options=keys({"1": ("bye", "x")}))
    assert any("no slot" in p for p in validate(_flow(menu=menu, bye=BYE)))


def test_assert_valid_lists_every_problem() -> None:
    with pytest.raises(FlowError, match="unknown node 'x'.*unknown node 'y'"):
        assert_valid(
            _flow(
                menu=Menu(
                    prompts=("main_menu",), options=keys({"1": "x"}), back="y", on_fail="menu"
                )
            )
        )
