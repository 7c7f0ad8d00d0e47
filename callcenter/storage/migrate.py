"""Run Alembic migrations from code (the CLI, `make demo`, tests), no alembic.ini needed.

`upgrade` goes to every head, so independent migration branches apply together.
Alembic's env runs its own event loop, so these are plain (blocking) functions;
async callers run them in a worker thread (`await asyncio.to_thread(upgrade, url)`).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> None:
    command.current(alembic_config(url), verbose=False)


def history(url: str) -> None:
    command.history(alembic_config(url))
