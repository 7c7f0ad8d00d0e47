"""Fake carriers of the `Dialer` port: they record every dial and answer from their records.

`FileCarrier` is the one the dispatcher processes load
(`--dialer tests.callbacks.fake_carrier:make`): each dial is one line
appended in a single write to `dials-<worker>.jsonl` in `$FAKE_CARRIER_DIR`
before `dial` returns, so a dial a killed process sent is on record.
`lookup` reads every worker's file, like a carrier's own call records, and
the answer is reported back through the service (answered and hung up)
after `$FAKE_CARRIER_DELAY` seconds, as a status callback would.

`ScriptedCarrier` (in-process tests) answers each number with the outcomes
it is given, in order, and keeps its dials in a list.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.clock import Clock, system_clock
from callcenter.settings import Settings
from callcenter.storage.engine import Database
from callcenter.storage.uow import SqlUnitOfWork
from crm.enums import DialOutcome
from crm.services.callback_ports import (
    DialLookup,
    DialRejected,
    DialRequest,
    DialStarted,
    PlacedAttempt,
)
from crm.services.callbacks import record_call_ended


def read_dials(directory: Path) -> list[dict[str, object]]:
    dials = []
    for path in sorted(directory.glob("dials-*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                dials.append(json.loads(line))
    return dials


@dataclass
class FileCarrier:
    directory: Path
    worker: str
    db: Database
    delay: float = 0.0
    clock: Clock = system_clock
    carrier: str = "fake"
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def dial(self, req: DialRequest) -> DialStarted:
        line = json.dumps({"attempt_id": req.attempt_id, "callback_id": req.callback_id,
                           "number": req.number, "flow": req.flow, "worker": self.worker}) + "\n"
        fd = os.open(self.directory / f"dials-{self.worker}.jsonl",
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        task = asyncio.create_task(self._report(req.attempt_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return DialStarted(self.carrier, f"FAKE-{req.attempt_id}")

    async def _report(self, attempt_id: str) -> None:
        await asyncio.sleep(self.delay)
        # answered and hung up: one "completed" status, as Twilio sends at the end of a call
        await record_call_ended(attempt_id, SqlUnitOfWork(self.db), self.clock)  # type: ignore[arg-type]

    async def lookup(self, attempt: PlacedAttempt) -> DialLookup | None:
        for dial in read_dials(self.directory):
            if dial["attempt_id"] == attempt.attempt_id:
                return DialLookup(f"FAKE-{attempt.attempt_id}", DialOutcome.ANSWERED, ended=True)
        return None

    async def settle(self) -> None:
        while self.tasks:
            await asyncio.gather(*list(self.tasks))


def make(settings: Settings, db: Database, worker: str) -> FileCarrier:
    directory = Path(os.environ["FAKE_CARRIER_DIR"])
    return FileCarrier(directory, worker, db, float(os.environ.get("FAKE_CARRIER_DELAY", "0")))


@dataclass
class ScriptedCarrier:
    """Answers number N with the next outcome scripted for N (default: nothing reported)."""

    carrier: str = "fake"
    dials: list[DialRequest] = field(default_factory=list)
    script: dict[str, list[DialOutcome | None]] = field(default_factory=lambda: defaultdict(list))
    reject: set[str] = field(default_factory=set)
    records: dict[str, DialLookup] = field(default_factory=dict)

    def will(self, number: str, outcomes: Iterable[DialOutcome | None]) -> None:
        self.script[number].extend(outcomes)

    async def dial(self, req: DialRequest) -> DialStarted:
        if req.number in self.reject:
            raise DialRejected("number refused by the fake carrier")
        self.dials.append(req)
        queue = self.script.get(req.number)
        outcome = queue.pop(0) if queue else None
        self.records[req.attempt_id] = DialLookup(f"FAKE-{req.attempt_id}", outcome,
                                                  ended=outcome is not None)
        return DialStarted(self.carrier, f"FAKE-{req.attempt_id}")

    async def lookup(self, attempt: PlacedAttempt) -> DialLookup | None:
        return self.records.get(attempt.attempt_id)
