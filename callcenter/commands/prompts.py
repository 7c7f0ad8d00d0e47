"""`callcenter prompts generate`: the hotline's sound files for Asterisk, made with espeak-ng."""

from __future__ import annotations

import argparse
import sys

from callcenter.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("prompts", help="IVR sound files for Asterisk")
    actions = parser.add_subparsers(dest="prompts_command", required=True)
    gen = actions.add_parser("generate", help="write <PROMPTS_DIR>/<lang>/<prompt_id>.wav")
    gen.add_argument("--force", action="store_true", help="regenerate files that exist")
    gen.add_argument("--language", action="append", help="only this language (repeatable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from callcenter.telephony.asterisk.prompts import LANGUAGES, EspeakMissing, generate

    try:
        report = generate(settings.prompts_dir, args.language or LANGUAGES, force=args.force)
    except EspeakMissing as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 0
    print(f"prompts in {settings.prompts_dir}: {len(report.written)} written, "
          f"{len(report.kept)} unchanged")
    return 0
