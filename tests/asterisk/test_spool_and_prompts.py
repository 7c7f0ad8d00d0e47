"""The fallback spool import (once per entry, nothing lost) on both engines, and the
generated prompt files (8 kHz mono 16-bit WAV)."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callcenter.clock import FixedClock
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.tables import Complaint, SpoolImport
from callcenter.telephony.asterisk.prompts import generate
from callcenter.telephony.asterisk.spool import import_spool
from tests.asterisk.conftest import back_office


def spool_entry(spool: Path, name: str, caller: str, *, recording: bool = True) -> None:
    spool.mkdir(parents=True, exist_ok=True)
    if recording:
        (spool / f"{name}.wav").write_bytes(b"RIFF....WAVEfmt ")
    meta = {"caller_id": caller, "uniqueid": name, "recorded_at": "2026-05-18T01:59:00+00:00",
            "recording": f"{name}.wav" if recording else None}
    (spool / f"{name}.json").write_text(json.dumps(meta))


async def complaints(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Complaint)) or 0)


async def test_a_spooled_complaint_is_opened_once_for_the_callers_customer(
        db: Database, settings: Settings, clock: FixedClock) -> None:
    ids = await back_office(db)
    spool_entry(settings.spool_dir, "20260518T015900Z-1716.1", "13800138000")
    first = await import_spool(db, settings, clock)
    second = await import_spool(db, settings, clock)
    assert len(first.imported) == 1 and second.imported == [] and second.skipped
    async with db.sessions() as session:
        complaint = await session.scalar(select(Complaint))
    assert complaint is not None and complaint.customer_id == ids["+8613800138000"]
    assert complaint.channel == "phone_ivr" and complaint.recording_url.endswith("1716.1.wav")  # type: ignore[union-attr]
    assert (settings.spool_dir / "20260518T015900Z-1716.1.wav").exists(), "files are kept"


async def test_an_import_that_died_after_opening_the_complaint_does_not_open_a_second(
        db: Database, settings: Settings, clock: FixedClock) -> None:
    await back_office(db)
    spool_entry(settings.spool_dir, "e-1", "13800138000")
    await import_spool(db, settings, clock)
    async with db.sessions() as session:  # as if the process died before writing its row
        await session.delete(await session.get(SpoolImport, "e-1"))
        await session.commit()
    again = await import_spool(db, settings, clock)
    assert len(again.imported) == 1 and await complaints(db) == 1


async def test_broken_or_empty_entries_are_reported_and_left_in_place(
        db: Database, settings: Settings, clock: FixedClock) -> None:
    await back_office(db)
    spool_entry(settings.spool_dir, "hung-up-first", "13800138000", recording=False)
    spool_entry(settings.spool_dir, "withheld", "anonymous")
    (settings.spool_dir / "torn.json").write_text("{not json")
    report = await import_spool(db, settings, clock)
    assert report.broken == ["torn.json"] and (settings.spool_dir / "torn.json").exists()
    assert sorted(report.without_complaint) == ["hung-up-first", "withheld"]
    assert await complaints(db) == 0


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_prompts_are_generated_as_8khz_mono_16bit_wav_per_language(tmp_path: Path) -> None:
    report = generate(tmp_path, only=["greeting", "main_menu"])
    assert len(report.written) == 4
    for lang in ("zh-CN", "en"):
        with wave.open(str(tmp_path / lang / "main_menu.wav")) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
            assert wav.getnframes() > 8000, "at least a second of speech"
    again = generate(tmp_path, only=["greeting", "main_menu"])
    assert again.written == [] and len(again.kept) == 4
