"""`callcenter demo`: a working hotline on this machine in one command.

Migrates the database, loads the sample data, then runs every demo step
(simulated callers on both carriers, callbacks, complaints, a supervision
report) and prints what was stored. The walkthrough is `callcenter.demo`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from callcenter.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from callcenter.demo.run import SAMPLE

    parser = sub.add_parser("demo", help="migrate, load sample data, run simulated calls, report")
    parser.add_argument("--data", type=Path, default=SAMPLE, help="folder with the sample CSVs")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.demo.run import main

    return main(args.data, settings)
