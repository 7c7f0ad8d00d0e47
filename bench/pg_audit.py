"""Count a service worker's PostgreSQL round trips from inside it (benchmarks only).

`install(port)` wraps asyncpg's connection and prepared-statement methods that
wait for the server, so every client-server round trip of the process is
counted, whoever sends it (SQLAlchemy's engine, the raw asyncpg turn store,
the screen-pop's LISTEN connection):

- ``simple <VERB>``: a simple query (BEGIN, COMMIT, ROLLBACK, SET, ...);
- ``prepare <VERB>``: a statement parsed by the server (asyncpg's statement
  cache missed: the first use on a connection, or a cache too small);
- ``execute <VERB>``: a statement bound and executed (one round trip, also
  for an ``executemany`` batch);
- ``connect``: a new connection (several round trips: startup, auth);
- ``txn commit`` / ``txn rollback``: transactions ended, explicit (COMMIT,
  ROLLBACK) or implicit (a statement sent outside BEGIN ... COMMIT is a
  transaction of its own); not round trips of their own.

What the worker does on its own clock, whatever the traffic (the agent
availability refresh every 2 s: a task named in `BACKGROUND`), is counted
under the same keys prefixed ``background ``, so a bench can tell the
webhooks' own work from it (and show both).

The counts are served as JSON on ``http://127.0.0.1:<port>/`` by a thread of
their own (not the event loop), so a bench reads them before and after what
it measures; `read(port)` does that.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

COUNTS: Counter[str] = Counter()
#: tasks whose statements are background work (`callcenter.screenpop.availability.TASK_NAME`)
BACKGROUND = ("agent-availability",)


def _tag() -> str:
    """``background `` when the running task is one of `BACKGROUND`, else nothing."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop
        return ""
    return "background " if task is not None and task.get_name().startswith(BACKGROUND) else ""


def _verb(query: str) -> str:
    word = query.lstrip().split(None, 1)[:1]
    return word[0].upper() if word else "?"


def install(port: int) -> None:
    import asyncpg
    from asyncpg import connection, prepared_stmt

    conn_cls = connection.Connection
    plain_execute, do_execute, get_statement = (
        conn_cls.execute, conn_cls._do_execute, conn_cls._get_statement)
    stmt_do_execute = prepared_stmt.PreparedStatement._PreparedStatement__do_execute  # type: ignore[attr-defined]
    plain_connect = asyncpg.connect

    in_txn: set[int] = set()  # connections (by id) inside BEGIN ... COMMIT

    def statement(conn: Any, verb: str) -> None:
        """A statement sent on `conn`: an implicit transaction unless inside BEGIN."""
        if id(conn) not in in_txn:
            COUNTS[_tag() + "txn commit"] += 1

    async def execute(self: Any, query: str, *args: Any, timeout: float | None = None) -> Any:  # noqa: ASYNC109  (asyncpg's signature)
        if not args:  # with args it goes through _do_execute
            verb = _verb(query).rstrip(";")
            COUNTS[f"{_tag()}simple {verb}"] += 1
            if verb in ("BEGIN", "START"):
                in_txn.add(id(self))
            elif verb in ("COMMIT", "END", "ROLLBACK", "ABORT"):
                in_txn.discard(id(self))
                COUNTS[_tag() + ("txn rollback" if verb in ("ROLLBACK", "ABORT")
                                 else "txn commit")] += 1
            else:
                statement(self, verb)
        return await plain_execute(self, query, *args, timeout=timeout)

    async def _do_execute(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        COUNTS[f"{_tag()}execute {_verb(query)}"] += 1
        statement(self, _verb(query))
        return await do_execute(self, query, *args, **kw)

    async def _get_statement(self: Any, query: str, timeout: Any, *, named: Any = False,  # noqa: ASYNC109
                             use_cache: bool = True, ignore_custom_codec: bool = False,
                             record_class: Any = None) -> Any:
        record = record_class or self._protocol.get_record_class()
        if not use_cache or self._stmt_cache.get((query, record, ignore_custom_codec)) is None:
            COUNTS[f"{_tag()}prepare {_verb(query)}"] += 1
        return await get_statement(self, query, timeout, named=named, use_cache=use_cache,
                                   ignore_custom_codec=ignore_custom_codec,
                                   record_class=record_class)

    async def _stmt_execute(self: Any, executor: Any) -> Any:
        COUNTS[f"{_tag()}execute {_verb(self._query)}"] += 1
        statement(self._connection, _verb(self._query))
        return await stmt_do_execute(self, executor)

    async def connect(*args: Any, **kw: Any) -> Any:
        COUNTS[_tag() + "connect"] += 1
        return await plain_connect(*args, **kw)

    conn_cls.execute = execute  # type: ignore[method-assign]
    conn_cls._do_execute = _do_execute  # type: ignore[method-assign]
    conn_cls._get_statement = _get_statement  # type: ignore[method-assign]
    prepared_stmt.PreparedStatement._PreparedStatement__do_execute = _stmt_execute  # type: ignore[attr-defined]
    asyncpg.connect = connect

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/modules":  # what the worker has loaded (where its memory went)
                import sys

                body = json.dumps(sorted({m.split(".")[0] for m in sys.modules})).encode()
            else:
                body = json.dumps(dict(COUNTS)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name="pg-audit", daemon=True).start()


def read(port: int) -> Counter[str]:
    """The worker's counts so far (blocking; call it from a thread in async code)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        return Counter(json.loads(response.read()))


def modules(port: int) -> list[str]:
    """The top-level modules the worker has loaded (blocking)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/modules", timeout=10) as response:
        return list(json.loads(response.read()))
