"""The simulated call driver, the flow drawing, and ivr's sans-I/O promise."""

from __future__ import annotations

import ast
import runpy
from pathlib import Path

import pytest
from hotline_calls import call, caller

from ivr import actions as act
from ivr import events as ev
from ivr.hotline import HOTLINE
from ivr.simulate import run

IVR_DIR = Path(__file__).resolve().parents[2] / "ivr"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "draw_ivr.py"


def test_same_keys_give_the_same_transcript() -> None:
    assert call(["1", "2", "7", "*", "3", "2"]).turns == call(["1", "2", "7", "*", "3", "2"]).turns


def test_back_office_sees_every_effect_once_including_partial_ones() -> None:
    seen: list[act.Effect] = []

    def back_office(effect: act.Effect) -> ev.Event | None:
        seen.append(effect)
        return ev.JobLookup(True, 3, "1") if isinstance(effect, act.LookupJob) else None

    run(HOTLINE, caller(), ["2", "4", ev.Hangup()], back_office)
    assert seen == [act.LookupJob(None), act.SaveSurvey(3, {"timeliness": "D"}, False)]


def test_back_office_without_an_answer_counts_as_a_failed_effect() -> None:
    t = call(["3", "2"], back_office=lambda effect: None)
    assert ev.EffectFailed("ScheduleCallback", "no result") in [turn.event for turn in t.turns]


def test_caller_hangs_up_when_the_keys_run_out() -> None:
    t = call(["1"])
    assert t.turns[-1].event == ev.Hangup()
    assert t.turns[-1].actions == (act.Step("complaint_category", "", "hangup"),)


def test_keys_after_the_call_ended_are_left_unused() -> None:
    t = call(["0", "1", "2"])
    assert isinstance(t.last_media, act.Transfer)
    assert t.unused_inputs == ("1", "2")


def test_transcript_reads_in_both_languages() -> None:
    t = call(["3", "2", "2"])
    assert any("明天上午" in line for line in t.lines("zh-CN"))
    assert any("tomorrow morning" in line for line in t.lines("en"))


FORBIDDEN_ROOTS = {
    "callcenter",
    "crm",
    "reports",
    "aiohttp",
    "sqlalchemy",
    "asyncio",
    "socket",
    "time",
    "threading",
    "subprocess",
    "requests",
    "httpx",
}


@pytest.mark.parametrize("module", sorted(p.name for p in IVR_DIR.glob("*.py")))
def test_ivr_imports_nothing_of_ours_and_no_io(module: str) -> None:
    tree = ast.parse((IVR_DIR / module).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN_ROOTS
    source = (IVR_DIR / module).read_text(encoding="utf-8")
    for clock in ("datetime.now", ".now(", "utcnow", "today(", "sleep(", "open("):
        assert clock not in source, f"{module} uses {clock}"


@pytest.mark.parametrize("fmt", ["dot", "mermaid"])
def test_flow_drawing_shows_every_node(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    namespace = runpy.run_path(str(SCRIPT))
    assert namespace["main"](["--format", fmt]) == 0
    drawing = capsys.readouterr().out
    for node_id in HOTLINE.nodes:
        assert node_id in drawing
    assert ("->" if fmt == "dot" else "-->") in drawing
