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
