"""Run every benchmark in bench/ and write their output to bench/RESULTS.md.

    make bench                      # all of them
    python bench/run_all.py twilio_ivr reports   # some of them

Each benchmark is a script that prints its own numbers and targets; this
runner records what they printed, with the machine and the date, so the
results file always says where its numbers came from.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["twilio_ivr", "twilio_conference", "asterisk", "ami_call_log", "screenpop", "wallboard", "callbacks", "reports"]


def machine() -> str:
    cpus = os.cpu_count()
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = 0.0
    return f"{platform.machine()}, {cpus} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def main(argv: list[str]) -> int:
    names = argv or [n for n in ORDER if (HERE / f"{n}.py").exists()]
    sections: list[str] = []
    failed = 0
    for name in names:
        script = HERE / f"{name}.py"
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, cwd=HERE.parent,
            timeout=3600,
        )
        took = time.perf_counter() - started
        print(result.stdout)
        if result.returncode != 0:
            failed += 1
            print(result.stderr[-4000:], file=sys.stderr)
        status = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
        sections.append(
            f"## {name}\n\n`python bench/{name}.py` — {status}, {took:.0f} s wall\n\n"
            f"```\n{result.stdout.strip()}\n```\n"
        )
    out = HERE / "RESULTS.md"
    header = (
        "# Benchmark results\n\n"
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {machine()}.\n"
        "Each section is the benchmark's own output (targets are printed beside the numbers).\n\n"
    )
    if argv and out.exists():  # partial run: replace only those sections
        existing = out.read_text(encoding="utf-8")
        for name, section in zip(names, sections, strict=True):
            marker = f"## {name}\n"
            if marker in existing:
                before, after = existing.split(marker, 1)
                rest = after.split("\n## ", 1)
                existing = before + section + ("\n## " + rest[1] if len(rest) > 1 else "")
            else:
                existing += "\n" + section
        out.write_text(existing, encoding="utf-8")
    else:
        out.write_text(header + "\n".join(sections), encoding="utf-8")
    print(f"wrote {out.relative_to(HERE.parent)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
