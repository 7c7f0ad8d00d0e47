"""A simulated Asterisk: one channel calling our FastAGI server over real TCP, like res_agi.

Used by the tests, by `callcenter demo` and wherever a hotline must be rung
without a PBX. It sends the `agi_*` block Asterisk 22 sends (no
agi_linkedid), then answers each command line the way Asterisk does, from a
script of what the caller does at each point where Asterisk would listen
for keys:

- `"12"` (keys): GET DATA returns them (`200 result=12`), WAIT FOR DIGIT the
  first one's ASCII code; a STREAM FILE with escape digits plays through.
- `Interrupt("2")`: the key cuts the next STREAM FILE with escape digits
  (`200 result=50 endpos=...`).
- `TIMEOUT`: GET DATA -> `200 result= (timeout)`, WAIT FOR DIGIT -> `200 result=0`.
- `Speak(seconds)`: RECORD FILE records that long, then the caller presses #.
- `Hangup("511" | "line" | "close")`: the caller hangs up during the command:
  `200 result=-1` then `HANGUP` and 511 for every later command; or just the
  `HANGUP` line before the 511; or the socket closes.
- `Garbage()`: Asterisk sends a line that is not AGI.

A prompt named in `missing_sounds` makes GET DATA answer `-1` at once, as
Asterisk does for a sound file it cannot find. When the script runs out
while the server waits for keys, the caller stays silent (timeouts), as a
real caller who stopped pressing keys would.

Guarantees: every command our server sent is kept, in order, on
`SimulatedAgiCall.commands`, with the channel variables it set on
`variables`; `run` returns once the server closed the connection (the AGI
script ended), the caller closed it, or `within_s` passed (TimeoutError).
"""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Interrupt:
    """The caller presses `key` while a prompt with escape digits plays."""

    key: str


@dataclass(frozen=True)
class Speak:
    """The caller talks into RECORD FILE for `seconds`, then presses #."""

    seconds: int


@dataclass(frozen=True)
class Hangup:
    """The caller hangs up; `how` is what Asterisk then sends ("511", "line" or "close")."""

    how: str = "511"  # "511" | "line" | "close"


@dataclass(frozen=True)
class Garbage:
    """Asterisk (or something in between) sends a line that is not AGI."""


TIMEOUT = "<timeout>"
CallerStep = str | Interrupt | Speak | Hangup | Garbage
_NAMES = ("GET DATA", "STREAM FILE", "WAIT FOR DIGIT", "RECORD FILE", "SET VARIABLE",
          "GET VARIABLE", "SAY DIGITS", "SAY ALPHA", "ANSWER", "HANGUP", "EXEC", "VERBOSE",
          "CHANNEL STATUS")
DEAD = "511 Command Not Permitted on a dead channel or intercept routine\n"


def agi_block(script: str, *, uniqueid: str, callerid: str | None, args: tuple[str, ...] = (),
              port: int = 4573, extension: str = "4000", name: str = "张三",
              channel: str = "PJSIP/softphone1-00000001") -> bytes:
    """The environment block Asterisk 22 sends first on a FastAGI connection."""
    lines = [
        ("agi_network", "yes"), ("agi_network_script", script),
        ("agi_request", f"agi://127.0.0.1:{port}/{script}"),
        ("agi_channel", channel), ("agi_language", "en"),
        ("agi_type", "PJSIP"), ("agi_uniqueid", uniqueid), ("agi_version", "22.10.1"),
        ("agi_callerid", callerid or "unknown"), ("agi_calleridname", name),
        ("agi_callingpres", "0"), ("agi_callingani2", "0"), ("agi_callington", "0"),
        ("agi_callingtns", "0"), ("agi_dnid", "4000"), ("agi_rdnis", "unknown"),
        ("agi_context", "hotline"), ("agi_extension", extension), ("agi_priority", "4"),
        ("agi_enhanced", "0.0"), ("agi_accountcode", ""), ("agi_threadid", "140559675627200"),
    ]
    lines += [(f"agi_arg_{i}", a) for i, a in enumerate(args, 1)]
    return ("".join(f"{k}: {v}\n" for k, v in lines) + "\n").encode()


def parse_command(line: str) -> tuple[str, list[str]]:
    """'GET DATA "hello" 5000 1' -> ('GET DATA', ['hello', '5000', '1'])."""
    for name in _NAMES:
        if line.startswith(name):
            return name, shlex.split(line[len(name):])
    return line.split(" ", 1)[0], []


@dataclass
class SimulatedAgiCall:
    """One call from the simulated Asterisk into our FastAGI server."""

    port: int
    steps: list[CallerStep]
    script: str = "hotline"
    args: tuple[str, ...] = ()
    uniqueid: str = "1716000000.1"
    linkedid: str = "1716000000.0"
    callerid: str | None = "13800138000"
    callerid_name: str = "张三"
    host: str = "127.0.0.1"
    missing_sounds: bool = False
    variables: dict[str, str] = field(default_factory=dict)
    commands: list[tuple[str, list[str]]] = field(default_factory=list)
    dead: bool = False
    closed_by_us: bool = False

    async def run(self, *, within_s: float = 20.0) -> SimulatedAgiCall:
        self.variables.setdefault("CHANNEL(linkedid)", self.linkedid)
        reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(agi_block(self.script, uniqueid=self.uniqueid, callerid=self.callerid,
                               args=self.args, port=self.port, name=self.callerid_name))
        try:
            async with asyncio.timeout(within_s):
                while True:
                    raw = await reader.readline()
                    if not raw:
                        return self  # the server closed: the AGI script ended
                    if self.closed_by_us:
                        continue
                    name, argv = parse_command(raw.decode().rstrip("\n"))
                    self.commands.append((name, argv))
                    reply = self.answer(name, argv)
                    if reply is None:
                        self.closed_by_us = True
                        writer.close()
                        return self
                    writer.write(reply.encode())
                    await writer.drain()
        finally:
            writer.close()

    def _next(self) -> CallerStep | None:
        return self.steps.pop(0) if self.steps else None

    def _hangup(self, step: Hangup) -> str | None:
        self.dead = True
        if step.how == "close":
            return None
        if step.how == "line":
            return "HANGUP\n" + DEAD
        return "200 result=-1\nHANGUP\n"

    def answer(self, name: str, argv: list[str]) -> str | None:
        """Asterisk's reply to one command; None when the caller closes the socket."""
        if self.dead:
            return DEAD
        if name in ("GET DATA", "WAIT FOR DIGIT", "RECORD FILE") or (
                name == "STREAM FILE" and len(argv) > 1 and argv[1]):
            return self._listen(name, argv)
        if name == "SET VARIABLE":
            self.variables[argv[0]] = argv[1]
            return "200 result=1\n"
        if name == "GET VARIABLE":
            value = self.variables.get(argv[0])
            return "200 result=0\n" if value is None else f"200 result=1 ({value})\n"
        if name == "HANGUP":
            self.dead = True
            return "200 result=1\n"
        if name == "STREAM FILE":
            return "200 result=0 endpos=16000\n"
        if name in ("ANSWER", "SAY DIGITS", "SAY ALPHA", "EXEC", "VERBOSE"):
            return "200 result=0\n" if name != "VERBOSE" else "200 result=1\n"
        return "510 Invalid or unknown command\n"

    def _listen(self, name: str, argv: list[str]) -> str | None:
        if name == "STREAM FILE":
            step = self.steps[0] if self.steps else None
            if isinstance(step, Interrupt) and step.key in argv[1]:
                self.steps.pop(0)
                return f"200 result={ord(step.key)} endpos=8000\n"
            if isinstance(step, Hangup | Garbage):
                return self._special(self._next())
            return "200 result=0 endpos=16000\n"
        if name == "GET DATA" and self.missing_sounds and argv and argv[0]:
            return "200 result=-1\n"  # Asterisk cannot find the prompt: answers at once
        step = self._next()
        if isinstance(step, Hangup | Garbage):
            return self._special(step)
        if name == "RECORD FILE":
            if isinstance(step, Speak):
                return f"200 result=35 (dtmf) endpos={step.seconds * 8000}\n"
            return "200 result=0 (timeout) endpos=0\n"
        if isinstance(step, Interrupt):
            step = step.key
        if step is None or step == TIMEOUT or not isinstance(step, str):
            return "200 result= (timeout)\n" if name == "GET DATA" else "200 result=0\n"
        if name == "WAIT FOR DIGIT":
            return f"200 result={ord(step[0])}\n"
        limit = int(argv[2]) if len(argv) > 2 else 255
        return f"200 result={step[:limit]}\n"

    def _special(self, step: CallerStep | None) -> str | None:
        if isinstance(step, Garbage):
            return "this is not AGI at all\n"
        if isinstance(step, Hangup):
            return self._hangup(step)
        raise TypeError(f"not a hang-up or garbage step: {step!r}")

    def sent(self, name: str) -> list[list[str]]:
        """The arguments of every `name` command our server sent, in order."""
        return [argv for n, argv in self.commands if n == name]
