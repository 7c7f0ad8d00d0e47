"""Sound files for the Asterisk hotline, generated from the prompt catalogue with espeak-ng.

`callcenter prompts generate` (and `make prompts`) writes
`<prompts_dir>/<language>/<prompt_id>.wav` for every id of `ivr.prompts`, in
every language, from the same text the Twilio side speaks, so both carriers
say the same words. The FastAGI server plays them by that name (without the
extension, as Asterisk wants).

Guarantees:
- Files are 8 kHz, mono, 16-bit PCM WAV (what Asterisk's format_wav plays):
  espeak-ng speaks, sox converts; without sox the conversion is done in
  Python (`audioop`), so only espeak-ng is required.
- Without espeak-ng nothing is written and `EspeakMissing` says how to get it.
- Existing files are kept unless `force`; the text is written beside each
  file (`.txt`) so a changed catalogue text regenerates its file.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ivr.prompts import LANGUAGES, PROMPT_IDS, normalize_language, prompt_text

VOICES: dict[str, str] = {"zh-CN": "cmn", "en": "en-us"}
RATE = 8000
#: Played by the classic AGI fallback (not part of the IVR catalogue).
EXTRA_PROMPTS: dict[str, dict[str, str]] = {
    "hotline-fallback-apology": {
        "zh-CN": "对不起，系统暂时繁忙。请在提示音后留下您的问题，说完请按井号键，我们会尽快与您联系。",
        "en": "Sorry, our system is busy. Please describe your problem after the tone, "
        "then press hash. We will call you back.",
    },
}


class EspeakMissing(RuntimeError):
    """espeak-ng is not installed: `apt-get install espeak-ng` (and sox), then retry."""


@dataclass
class GenerateReport:
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def _texts(languages: Iterable[str]) -> Iterable[tuple[str, str, str]]:
    for language in languages:
        lang = normalize_language(language)
        for prompt_id in PROMPT_IDS:
            yield lang, prompt_id, prompt_text(prompt_id, lang)
        for prompt_id, texts in EXTRA_PROMPTS.items():
            yield lang, prompt_id, texts[lang]


def _to_8k_mono(source: Path, target: Path) -> None:
    sox = shutil.which("sox")
    if sox:
        subprocess.run([sox, str(source), "-r", str(RATE), "-c", "1", "-b", "16", "-e",
                        "signed-integer", str(target)], check=True, capture_output=True)
        return
    import audioop  # stdlib until 3.13; only used when sox is absent

    with wave.open(str(source), "rb") as src:
        channels, width, rate = src.getnchannels(), src.getsampwidth(), src.getframerate()
        frames = src.readframes(src.getnframes())
    if channels > 1:
        frames = audioop.tomono(frames, width, 0.5, 0.5)
    if width != 2:
        frames = audioop.lin2lin(frames, width, 2)
    frames, _ = audioop.ratecv(frames, 2, 1, rate, RATE, None)
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(frames)


def generate(prompts_dir: Path, languages: Iterable[str] = LANGUAGES, *,
             force: bool = False, only: Iterable[str] | None = None) -> GenerateReport:
    """Write the prompt files (`only`: just these prompt ids)."""
    wanted = set(only) if only is not None else None
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise EspeakMissing(
            "espeak-ng not found: install it (Debian: apt-get install espeak-ng sox) to "
            "generate the hotline prompts, or put your own recordings in "
            f"{prompts_dir}/<language>/<prompt_id>.wav"
        )
    report = GenerateReport()
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        for lang, prompt_id, text in _texts(languages):
            if wanted is not None and prompt_id not in wanted:
                continue
            target = prompts_dir / lang / f"{prompt_id}.wav"
            note = target.with_suffix(".txt")
            if not force and target.exists() and note.exists() and note.read_text("utf-8") == text:
                report.kept.append(target)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([espeak, "-v", VOICES.get(lang, "en-us"), "-w", str(raw), text],
                           check=True, capture_output=True)
            _to_8k_mono(raw, target)
            note.write_text(text, encoding="utf-8")
            report.written.append(target)
    return report
