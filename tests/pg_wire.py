"""A TCP proxy in front of PostgreSQL that counts what crosses it: round trips and commits.

Tests point a service's database URL at it and count, from the wire itself, what a
webhook costs the database, whoever sends it (the batched asyncpg statements, the
SQLAlchemy engine):

- a *round trip* is a client message the client then waits on: ``Sync`` (the end of an
  extended-protocol exchange: a prepare, or a bind + execute) or ``Query`` (a simple
  query: BEGIN, COMMIT, ...);
- a *commit* is a round trip that executed something and left the session idle: a
  statement outside a transaction block (its own transaction) or ``COMMIT``; a
  ``ROLLBACK`` is counted apart, a prepare (parse only) not at all.

SSL and GSS encryption requests are answered "no" by the proxy itself, so the rest of
the conversation is plain protocol it can read.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections import deque
from dataclasses import dataclass, field

_SSL_REQUEST, _GSS_REQUEST = 80877103, 80877104


@dataclass
class Counts:
    round_trips: int = 0
    commits: int = 0
    rollbacks: int = 0
    prepares: int = 0

    def __sub__(self, other: Counts) -> Counts:
        return Counts(self.round_trips - other.round_trips, self.commits - other.commits,
                      self.rollbacks - other.rollbacks, self.prepares - other.prepares)


@dataclass
class _Session:
    #: per round trip sent and not answered yet: "exec", "prepare", "rollback" or "other"
    waiting: deque[str] = field(default_factory=deque)
    batch: set[bytes] = field(default_factory=set)
    failed: bool = False


class WireCounter:
    """The proxy (`start`, then `url(...)`), and its running `counts`."""

    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.upstream = upstream
        self.counts = Counts()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def snapshot(self) -> Counts:
        return Counts(**vars(self.counts))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        session = _Session()
        tasks = [asyncio.create_task(self._client(reader, writer, up_writer, session)),
                 asyncio.create_task(self._server_side(up_reader, writer, session))]
        self._tasks.update(tasks)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
                self._tasks.discard(task)
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      up: asyncio.StreamWriter, session: _Session) -> None:
        while True:  # untyped start: encryption requests (refused here), then the startup
            (length,) = struct.unpack("!i", await reader.readexactly(4))
            body = await reader.readexactly(length - 4)
            if struct.unpack("!i", body[:4])[0] in (_SSL_REQUEST, _GSS_REQUEST):
                writer.write(b"N")
                await writer.drain()
                continue
            up.write(struct.pack("!i", length) + body)
            break
        while True:
            kind = await reader.readexactly(1)
            (length,) = struct.unpack("!i", await reader.readexactly(4))
            body = await reader.readexactly(length - 4)
            if kind in (b"P", b"B", b"E", b"D"):
                session.batch.add(kind)
            elif kind == b"S":
                session.waiting.append("exec" if b"E" in session.batch else "prepare")
                session.batch.clear()
            elif kind == b"Q":
                verb = body.split(None, 1)[0].rstrip(b";\x00").upper() if body.strip() else b""
                session.waiting.append("rollback" if verb in (b"ROLLBACK", b"ABORT")
                                       else "exec")
            up.write(kind + struct.pack("!i", length) + body)
            await up.drain()

    async def _server_side(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           session: _Session) -> None:
        while True:
            kind = await reader.readexactly(1)
            (length,) = struct.unpack("!i", await reader.readexactly(4))
            body = await reader.readexactly(length - 4)
            if kind == b"E":  # an error: what it ends is rolled back
                session.failed = True
            elif kind == b"Z" and session.waiting:  # the answer to one round trip
                what = session.waiting.popleft()
                self.counts.round_trips += 1
                idle, failed, session.failed = body[:1] == b"I", session.failed, False
                if what == "prepare":
                    self.counts.prepares += 1
                elif what == "rollback" or (failed and idle):
                    self.counts.rollbacks += 1
                elif idle:
                    self.counts.commits += 1
            elif kind == b"Z":
                session.failed = False
            writer.write(kind + struct.pack("!i", length) + body)
            await writer.drain()
