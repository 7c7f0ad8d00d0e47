"""README.md stays true: the two commands, and every setting documented."""

from __future__ import annotations

from pathlib import Path

from callcenter.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_readme_shows_the_two_setup_commands() -> None:
    assert "make demo" in README and "make test" in README


def test_readme_documents_every_setting() -> None:
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in README]
    assert not missing, f"add these settings to README.md (scripts/settings_table.py): {missing}"


def _architecture() -> str:
    start = README.index("## Architecture")
    return README[start:README.index("\n## ", start + 1)]


def test_the_readme_package_tree_names_every_package_of_the_shell() -> None:
    shell = Path(__file__).resolve().parents[2] / "callcenter"
    packages = sorted(p.parent.name for p in shell.glob("*/__init__.py"))
    missing = [name for name in packages if f"{name}/" not in _architecture()]
    assert not missing, f"add these packages to README.md's architecture tree: {missing}"


def test_every_file_the_architecture_section_names_exists() -> None:
    import re

    root = Path(__file__).resolve().parents[2]
    named = set(re.findall(r"`((?:ivr|crm|reports|callcenter)/[\w/]+\.py)`", _architecture()))
    assert named, "the architecture section names no file"
    gone = sorted(path for path in named if not (root / path).is_file())
    assert not gone, f"README.md's architecture section names files that do not exist: {gone}"


def test_the_readme_package_tree_names_every_module_at_the_top_of_the_shell() -> None:
    shell = Path(__file__).resolve().parents[2] / "callcenter"
    modules = sorted(p.name for p in shell.glob("*.py") if p.name != "__init__.py")
    missing = [name for name in modules if name not in _architecture()]
    assert not missing, f"add these modules to README.md's architecture tree: {missing}"
