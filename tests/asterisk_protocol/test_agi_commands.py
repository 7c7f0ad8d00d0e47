"""AGI command lines: quoting, optional arguments, and values we refuse to send."""

from __future__ import annotations

import pytest

from callcenter.telephony.asterisk.agi_commands import (
    ChannelStatus,
    Exec,
    GetData,
    GetVariable,
    Hangup,
    RawCommand,
    RecordFile,
    SayDigits,
    SetVariable,
    StreamFile,
    Verbose,
    WaitForDigit,
    quote,
)
from callcenter.telephony.asterisk.errors import LocalProtocolError


@pytest.mark.parametrize(
    "command, line",
    [
        (
            StreamFile("custom/welcome", "12#", offset=8000),
            b'STREAM FILE "custom/welcome" "12#" 8000\n',
        ),
        (StreamFile("my prompt"), b'STREAM FILE "my prompt" ""\n'),
        (GetData("custom/menu"), b'GET DATA "custom/menu"\n'),
        (GetData("custom/menu", 5000), b'GET DATA "custom/menu" 5000\n'),
        (WaitForDigit(), b"WAIT FOR DIGIT -1\n"),
        (
            RecordFile("complaints/42", "wav", "#", 60000, offset=0, beep=True, silence_s=3),
            b'RECORD FILE "complaints/42" wav "#" 60000 0 BEEP s=3\n',
        ),
        (Exec("Dial", "PJSIP/agent1,30,tT"), b'EXEC Dial "PJSIP/agent1,30,tT"\n'),
        (Exec("Playback", ""), b'EXEC Playback ""\n'),
        (Verbose('say "hi"', 3), b'VERBOSE "say \\"hi\\"" 3\n'),
        (SayDigits("0042", "#"), b'SAY DIGITS 0042 "#"\n'),
        (Hangup("PJSIP/trunk-00000007"), b"HANGUP PJSIP/trunk-00000007\n"),
        (
            ChannelStatus("Local/4000@hotline-00000000;2"),
            b"CHANNEL STATUS Local/4000@hotline-00000000;2\n",
        ),
        (GetVariable("CALLERID(num)"), b"GET VARIABLE CALLERID(num)\n"),
        (SetVariable("CUSTOMER_NAME", "王小明"), 'SET VARIABLE CUSTOMER_NAME "王小明"\n'.encode()),
        (RawCommand('SAY NUMBER 42 ""'), b'SAY NUMBER 42 ""\n'),
    ],
)
def test_commands_encode_to_one_agi_line(command: object, line: bytes) -> None:
    assert command.encode() == line  # type: ignore[attr-defined]


def test_set_variable_escapes_backslashes_before_quotes() -> None:
    line = SetVariable("NOTE", 'C:\\path "x"').encode()
    assert line == b'SET VARIABLE NOTE "C:\\\\path \\"x\\""\n'


@pytest.mark.parametrize("value", ["two\nlines", "cr\r", "nul\x00", "\n"])
def test_set_variable_refuses_line_breaks_in_the_value(value: str) -> None:
    with pytest.raises(LocalProtocolError):
        SetVariable("NOTE", value)


@pytest.mark.parametrize("name", ["TWO WORDS", "", 'QU"OTE', "BACK\\SLASH", "NL\n"])
def test_variable_names_must_be_one_plain_word(name: str) -> None:
    with pytest.raises(LocalProtocolError):
        SetVariable(name, "x")


@pytest.mark.parametrize(
    "build",
    [
        lambda: StreamFile("x\ny"),
        lambda: StreamFile("x", "12x"),
        lambda: StreamFile("x", offset=-1),
        lambda: GetData("x", max_digits=4),
        lambda: GetData("x", 1000, 0),
        lambda: WaitForDigit(-2),
        lambda: WaitForDigit(True),
        lambda: RecordFile("x", "w a v", "#", 1000),
        lambda: RecordFile("x", "wav", "#", 1000, silence_s=0),
        lambda: Exec("Dial PJSIP", "x"),
        lambda: Exec("Dial", "a\r\nHANGUP"),
        lambda: Verbose("a\nb"),
        lambda: SayDigits(""),
        lambda: SayDigits("12ab!"),
        lambda: RawCommand("ANSWER\nHANGUP"),
        lambda: RawCommand("  "),
        lambda: quote("x\x00"),
    ],
)
def test_unsendable_arguments_are_refused_when_the_command_is_built(build: object) -> None:
    with pytest.raises(LocalProtocolError):
        build()  # type: ignore[operator]
