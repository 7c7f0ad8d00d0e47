"""An IVR effect is named once (`ivr.flow.EFFECTS`) and handled once (`callcenter.hotline.effects`)."""

from __future__ import annotations

from callcenter.hotline.effects import HANDLERS
from ivr import actions as act
from ivr import events as ev
from ivr.flow import EFFECTS


def test_every_effect_a_flow_may_ask_for_names_its_action_and_result_and_has_a_handler() -> None:
    for name, kind in EFFECTS.items():
        action, result = getattr(act, kind.action, None), getattr(ev, kind.result, None)
        assert isinstance(action, type) and issubclass(action, act.Effect), f"{name}: {kind.action}"
        assert isinstance(result, type) and issubclass(result, ev.Event), f"{name}: {kind.result}"
        assert action in HANDLERS, f"{name}: add a handler of {kind.action} to callcenter/hotline/effects.py"
