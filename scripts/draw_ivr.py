#!/usr/bin/env python3
"""Draw the hotline flow from its data, as Graphviz dot or a Mermaid chart.

Like h11's ``docs/source/make-state-diagrams.py``: the picture is made from
the same table the engine runs, so it cannot drift from the code.

    python scripts/draw_ivr.py --format dot > hotline.dot
    python scripts/draw_ivr.py --format mermaid
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr.flow import (  # noqa: E402
    Announce,
    Branch,
    DigitEntry,
    EffectStep,
    EndCall,
    Flow,
    Menu,
    Node,
    Recording,
    SwitchLanguage,
    ToAgents,
    targets,
)
from ivr.hotline import HOTLINE  # noqa: E402

SHAPES = {
    Menu: ("box", "[{}]"),
    DigitEntry: ("box", "[/{}/]"),
    Recording: ("box", "([{}])"),
    Announce: ("note", ">{}]"),
    Branch: ("diamond", "{{{}}}"),
    EffectStep: ("cylinder", "[({})]"),
    ToAgents: ("doubleoctagon", "(({}))"),
    EndCall: ("doubleoctagon", "(({}))"),
    SwitchLanguage: ("note", ">{}]"),
}


def _label(node_id: str, node: Node) -> str:
    if isinstance(node, EffectStep):
        return f"{node_id}\\n{node.effect}"
    if isinstance(node, Branch):
        return f"{node_id}\\n{node.condition}?"
    return node_id


def to_dot(flow: Flow) -> str:
    lines = [f'digraph "{flow.name}" {{', "  rankdir=LR;", '  node [fontname="sans"];']
    for node_id, node in flow.nodes.items():
        shape = SHAPES[type(node)][0]
        lines.append(f'  "{node_id}" [shape={shape}, label="{_label(node_id, node)}"];')
    for node_id, node in flow.nodes.items():
        for label, target in targets(node):
            style = ", style=dashed" if label in ("fail", "failed", "*") else ""
            lines.append(f'  "{node_id}" -> "{target}" [label="{label}"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(flow: Flow) -> str:
    lines = ["flowchart LR"]
    for node_id, node in flow.nodes.items():
        text = _label(node_id, node).replace("\\n", "<br/>")
        lines.append(f"  {node_id}" + SHAPES[type(node)][1].format(f'"{text}"'))
    for node_id, node in flow.nodes.items():
        for label, target in targets(node):
            arrow = "-.->" if label in ("fail", "failed", "*") else "-->"
            shown = label.replace("*", "star").replace("#", "hash") or " "
            lines.append(f"  {node_id} {arrow}|{shown}| {target}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=["dot", "mermaid"], default="dot")
    args = parser.parse_args(argv)
    sys.stdout.write(to_dot(HOTLINE) if args.format == "dot" else to_mermaid(HOTLINE))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
