"""Subcommands of `callcenter`, in the order `--help` shows them."""

from __future__ import annotations

from types import ModuleType

from callcenter.commands import db, demo, imports, prompts, report, serve, spool, staff

COMMANDS: list[ModuleType] = [serve, db, imports, staff, demo, prompts, spool, report]
