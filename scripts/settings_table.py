"""Print the settings table for README.md from `callcenter.settings.Settings`.

    python scripts/settings_table.py            # print it
    python scripts/settings_table.py --update   # rewrite it in README.md

tests/foundation/test_readme.py checks that README.md lists every setting.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import SecretStr

from callcenter.settings import Settings


def rows() -> list[tuple[str, str, str]]:
    out = []
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, SecretStr):
            default = "(secret)" if default.get_secret_value() else "(empty)"
        out.append((name.upper(), f"`{default}`", field.description or ""))
    return out


def table() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [f"| `{name}` | {default} | {meaning} |" for name, default, meaning in rows()]
    return "\n".join(lines)


def main() -> None:
    if "--update" not in sys.argv:
        print(table())
        return
    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- settings:start -->\n", "\n<!-- settings:end -->"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(head + start + table() + end + tail, encoding="utf-8")


if __name__ == "__main__":
    main()
