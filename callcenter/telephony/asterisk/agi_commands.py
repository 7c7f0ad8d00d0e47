"""AGI commands we send to Asterisk, one frozen dataclass per command.

Guarantees:

- ``encode()`` returns exactly one UTF-8 line ending in ``\\n``.
- Free text (file names, digits, values, messages) is always double-quoted
  with ``\\`` and ``"`` backslash-escaped, which is how res_agi's
  ``parse_args`` reads them back; numbers and keywords are bare.
- A value that cannot be sent safely (a newline or NUL would end or corrupt
  the command line; a name with blanks) raises ``LocalProtocolError`` when
  the command is *built*, before any byte could reach the wire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callcenter.telephony.asterisk.errors import LocalProtocolError

_BARE_WORD = re.compile(r"[^\s\"\\\x00]+")
_DTMF = "0123456789*#ABCDabcd"


def quote(text: str) -> str:
    """Quote one AGI argument; refuse what would break the line."""
    _check_text(text, "argument")
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _check_text(text: str, what: str) -> None:
    # three substring tests are cheaper than a regex search on a short line (every command)
    if "\n" in text or "\r" in text or "\x00" in text:
        raise LocalProtocolError(
            f"AGI {what} {text!r} contains CR, LF or NUL; it would end the command"
        )


def _check_word(word: str, what: str) -> None:
    if not _BARE_WORD.fullmatch(word):
        raise LocalProtocolError(
            f"AGI {what} {word!r} must be one word without quotes or backslashes"
        )


def _check_digits(digits: str, what: str) -> None:
    if digits.strip(_DTMF):  # something left once every DTMF key is stripped from both ends
        raise LocalProtocolError(f"AGI {what} {digits!r} may only hold DTMF keys 0-9 * # A-D")


def _check_int(value: int, what: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise LocalProtocolError(f"AGI {what} must be an int >= {minimum}, got {value!r}")


class AgiCommand:
    """Base of every command: ``encode()`` gives the bytes to write."""

    def words(self) -> list[str]:
        raise NotImplementedError

    def encode(self) -> bytes:
        return (" ".join(self.words()) + "\n").encode("utf-8")


@dataclass(frozen=True)
class Answer(AgiCommand):
    def words(self) -> list[str]:
        return ["ANSWER"]


@dataclass(frozen=True)
class Hangup(AgiCommand):
    channel: str | None = None

    def __post_init__(self) -> None:
        if self.channel is not None:
            _check_word(self.channel, "channel")

    def words(self) -> list[str]:
        return ["HANGUP"] + ([self.channel] if self.channel else [])


@dataclass(frozen=True)
class StreamFile(AgiCommand):
    """Play ``filename``; keys in ``escape_digits`` interrupt it."""

    filename: str
    escape_digits: str = ""
    offset: int | None = None

    def __post_init__(self) -> None:
        _check_text(self.filename, "file name")
        _check_digits(self.escape_digits, "escape digits")
        if self.offset is not None:
            _check_int(self.offset, "offset", 0)

    def words(self) -> list[str]:
        words = ["STREAM FILE", quote(self.filename), quote(self.escape_digits)]
        return words + ([str(self.offset)] if self.offset is not None else [])


@dataclass(frozen=True)
class GetData(AgiCommand):
    """Play ``filename`` (``""`` for none) and collect up to ``max_digits`` keys."""

    filename: str
    timeout_ms: int | None = None
    max_digits: int | None = None

    def __post_init__(self) -> None:
        _check_text(self.filename, "file name")
        if self.max_digits is not None and self.timeout_ms is None:
            raise LocalProtocolError("GET DATA: max_digits needs timeout_ms (positional)")
        if self.timeout_ms is not None:
            _check_int(self.timeout_ms, "timeout_ms", 0)
        if self.max_digits is not None:
            _check_int(self.max_digits, "max_digits", 1)

    def words(self) -> list[str]:
        words = ["GET DATA", quote(self.filename)]
        if self.timeout_ms is not None:
            words.append(str(self.timeout_ms))
        if self.max_digits is not None:
            words.append(str(self.max_digits))
        return words


@dataclass(frozen=True)
class WaitForDigit(AgiCommand):
    """Wait ``timeout_ms`` for one key; -1 waits forever."""

    timeout_ms: int = -1

    def __post_init__(self) -> None:
        _check_int(self.timeout_ms, "timeout_ms", -1)

    def words(self) -> list[str]:
        return ["WAIT FOR DIGIT", str(self.timeout_ms)]


@dataclass(frozen=True)
class RecordFile(AgiCommand):
    """Record to ``filename``.``file_format`` for at most ``timeout_ms`` (-1: no limit)."""

    filename: str
    file_format: str
    escape_digits: str
    timeout_ms: int
    offset: int | None = None
    beep: bool = False
    silence_s: int | None = None

    def __post_init__(self) -> None:
        _check_text(self.filename, "file name")
        _check_word(self.file_format, "format")
        _check_digits(self.escape_digits, "escape digits")
        _check_int(self.timeout_ms, "timeout_ms", -1)
        if self.offset is not None:
            _check_int(self.offset, "offset", 0)
        if self.silence_s is not None:
            _check_int(self.silence_s, "silence_s", 1)

    def words(self) -> list[str]:
        words = ["RECORD FILE", quote(self.filename), self.file_format]
        words += [quote(self.escape_digits), str(self.timeout_ms)]
        if self.offset is not None:
            words.append(str(self.offset))
        if self.beep:
            words.append("BEEP")
        if self.silence_s is not None:
            words.append(f"s={self.silence_s}")
        return words


@dataclass(frozen=True)
class SetVariable(AgiCommand):
    name: str
    value: str

    def __post_init__(self) -> None:
        _check_word(self.name, "variable name")
        _check_text(self.value, "variable value")

    def words(self) -> list[str]:
        return ["SET VARIABLE", self.name, quote(self.value)]


@dataclass(frozen=True)
class GetVariable(AgiCommand):
    """Read a variable or function, e.g. ``CALLERID(name)``."""

    name: str

    def __post_init__(self) -> None:
        _check_word(self.name, "variable name")

    def words(self) -> list[str]:
        return ["GET VARIABLE", self.name]


@dataclass(frozen=True)
class Exec(AgiCommand):
    """Run a dialplan application; ``options`` is its comma-separated argument string."""

    application: str
    options: str = ""

    def __post_init__(self) -> None:
        _check_word(self.application, "application")
        _check_text(self.options, "application options")

    def words(self) -> list[str]:
        return ["EXEC", self.application, quote(self.options)]


@dataclass(frozen=True)
class Verbose(AgiCommand):
    message: str
    level: int = 1

    def __post_init__(self) -> None:
        _check_text(self.message, "message")
        _check_int(self.level, "level", 1)

    def words(self) -> list[str]:
        return ["VERBOSE", quote(self.message), str(self.level)]


@dataclass(frozen=True)
class SayDigits(AgiCommand):
    digits: str
    escape_digits: str = ""

    def __post_init__(self) -> None:
        if not self.digits:
            raise LocalProtocolError("SAY DIGITS needs at least one digit")
        _check_digits(self.digits, "digits")
        _check_digits(self.escape_digits, "escape digits")

    def words(self) -> list[str]:
        return ["SAY DIGITS", self.digits, quote(self.escape_digits)]


@dataclass(frozen=True)
class ChannelStatus(AgiCommand):
    channel: str | None = None

    def __post_init__(self) -> None:
        if self.channel is not None:
            _check_word(self.channel, "channel")

    def words(self) -> list[str]:
        return ["CHANNEL STATUS"] + ([self.channel] if self.channel else [])


@dataclass(frozen=True)
class RawCommand(AgiCommand):
    """A command line we have no class for; the caller does the quoting."""

    line: str

    def __post_init__(self) -> None:
        _check_text(self.line, "command line")
        if not self.line.strip():
            raise LocalProtocolError("an AGI command line cannot be empty")

    def words(self) -> list[str]:
        return [self.line]
