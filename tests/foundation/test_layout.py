"""Where things go in the service shell, kept true: one way to add a periodic job, one
module naming every key on the app."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from callcenter.features import FEATURES

SHELL = Path(__file__).resolve().parents[2] / "callcenter"


def _modules_with_a_line(pattern: str) -> dict[str, Path]:
    """The modules of the shell with a line of code matching `pattern` (at its start)."""
    line = re.compile(rf"^\s*{pattern}", re.MULTILINE)
    found = {}
    for path in sorted(SHELL.rglob("*.py")):
        if line.search(path.read_text(encoding="utf-8")):
            module = ".".join(path.relative_to(SHELL.parent).with_suffix("").parts)
            found[module] = path
    return found


def test_every_periodic_job_is_added_by_a_jobs_module_listed_in_the_features() -> None:
    adders = _modules_with_a_line(r"app\[JOB_LOOP\]\.add\(")
    assert adders, "no module adds a periodic job"
    elsewhere = sorted(module for module, path in adders.items() if path.name != "jobs.py")
    assert not elsewhere, f"add periodic jobs in the package's jobs.py, not in {elsewhere}"
    unlisted = sorted(module for module in adders
                      if importlib.import_module(module).setup not in FEATURES)
    assert not unlisted, f"list these jobs modules' setup in callcenter.features: {unlisted}"


def test_every_key_on_the_app_is_named_in_appkeys() -> None:
    makers = _modules_with_a_line(r"\w+(: [^=]+)? = web\.AppKey\(")
    assert "callcenter.appkeys" in makers
    elsewhere = sorted(set(makers) - {"callcenter.appkeys"})
    assert not elsewhere, f"name these app keys in callcenter/appkeys.py: {elsewhere}"
