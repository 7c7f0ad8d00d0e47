#!/usr/bin/env python3
"""Classic (stdin/stdout) AGI fallback for the hotline, run when FastAGI is unreachable.

The dialplan runs it after `AGI(agi://...)` set AGISTATUS=FAILURE:

    same => n(fallback),AGI(hotline_fallback.py,${HOTLINE_SPOOL})

It apologises, records the caller's complaint into the spool directory and
writes a metadata JSON next to the recording:

    <spool>/<UTC stamp>-<uniqueid>.wav
    <spool>/<UTC stamp>-<uniqueid>.json   {"caller_id", "caller_name", "uniqueid",
                                           "linkedid", "channel", "recorded_at",
                                           "recording", "duration_s", "hung_up"}

The JSON is written last, atomically (temp file + rename), so the service's
importer (`callcenter spool import`, also a periodic job) only ever sees
complete entries, and imports each one once. A caller who hangs up while
recording still leaves the recording and its JSON: nothing is lost.

It depends on pyst2 only (`asterisk.agi`), never on the service, so it works
while the service is down. Install it into Asterisk's agi-bin with a
shebang pointing at a Python that has pyst2.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from asterisk.agi import AGI, AGIError, AGIHangup

APOLOGY = "hotline-fallback-apology"  # optional sound file; missing sounds fail softly
RECORD_MS = 120_000
SILENCE_S = 5
SAMPLE_RATE = 8000


def spool_dir(agi: AGI) -> Path:
    """AGI arg 1, else $CALLCENTER_SPOOL_DIR, else /var/spool/callcenter."""
    arg = agi.env.get("agi_arg_1", "").strip()
    return Path(arg or os.environ.get("CALLCENTER_SPOOL_DIR") or "/var/spool/callcenter")


def record(agi: AGI, base: Path) -> bool:
    """Record to base.wav; True when the caller hung up during it."""
    for beep in ("beep", ""):
        try:
            agi.record_file(str(base), "wav", "#", RECORD_MS, 0, beep, SILENCE_S)
            return False
        except AGIHangup:
            return True
        except AGIError:
            if beep:
                continue  # no beep sound on this Asterisk: try again without it
            return not base.with_suffix(".wav").exists()
    return False


def write_metadata(base: Path, agi: AGI, now: datetime, hung_up: bool) -> Path:
    wav = base.with_suffix(".wav")
    size = wav.stat().st_size if wav.exists() else 0
    meta = {
        "caller_id": agi.env.get("agi_callerid", ""),
        "caller_name": agi.env.get("agi_calleridname", ""),
        "uniqueid": agi.env.get("agi_uniqueid", ""),
        "linkedid": agi.env.get("agi_arg_2", ""),
        "channel": agi.env.get("agi_channel", ""),
        "recorded_at": now.isoformat(),
        "recording": wav.name if wav.exists() else None,
        "duration_s": round(max(0, size - 44) / (2 * SAMPLE_RATE)),
        "hung_up": hung_up,
    }
    target = base.with_suffix(".json")
    temp = base.with_suffix(".json.tmp")
    temp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    os.replace(temp, target)
    return target


def main() -> int:
    agi = AGI(stderr=open(os.devnull, "w"))  # lives as long as the script
    now = datetime.now(UTC)
    spool = spool_dir(agi)
    spool.mkdir(parents=True, exist_ok=True)
    uniqueid = "".join(c if c.isalnum() or c in "-_." else "_" for c in agi.env.get("agi_uniqueid", "x"))
    base = spool / f"{now:%Y%m%dT%H%M%SZ}-{uniqueid}"
    hung_up = False
    try:
        agi.verbose("hotline fallback: recording a complaint to the spool", 2)
        try:
            agi.stream_file(APOLOGY)
        except AGIHangup:
            raise
        except AGIError:
            pass  # no apology sound installed: go on and record
        hung_up = record(agi, base)
    except AGIHangup:
        hung_up = True
    write_metadata(base, agi, now, hung_up)
    return 0


if __name__ == "__main__":
    sys.exit(main())
