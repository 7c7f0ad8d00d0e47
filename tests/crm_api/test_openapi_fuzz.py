"""The OpenAPI document describes every API route, and schemathesis finds no server error.

Schemathesis reads `/api/openapi.json` from the real app on a real port (both
engines, rows seeded so ids 1.. exist), sends generated and mutated requests
to every operation as an admin (so they reach the handlers), and fails on
any 5xx. The number of examples is bounded to keep the run short; raise
`FUZZ_EXAMPLES` to search harder.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from callcenter.storage.engine import Database
from callcenter.storage.uow import SqlUnitOfWork
from callcenter.web.api.openapi import undocumented
from crm.enums import CallbackKind
from tests import factories
from tests.callbacks.builders import complaint, new_callback, survey
from tests.conftest import Served
from tests.crm_api.conftest import People

ST = Path(sys.executable).with_name("st")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))


async def test_every_api_route_is_in_the_openapi_document(
    served: Served, http: aiohttp.ClientSession
) -> None:
    assert undocumented(served.app) == []
    async with http.get(served.base_url + "/api/openapi.json") as resp:
        doc = await resp.json()
    listed = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    routed = set()
    for route in served.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = str(info.get("formatter") or info.get("path") or "")
        if path.startswith("/api/") and route.method != "HEAD":
            routed.add((route.method, path))
    assert routed and routed == listed
    for wanted in ("/api/complaints", "/api/callbacks", "/api/campaigns", "/api/reports/{kind}"):
        assert wanted in doc["paths"], wanted


async def _seed(db: Database, people: People) -> None:
    customer = await factories.customer(db, "张三", department_id=people.dept_a)
    await factories.job(db, customer.id, "J-1", department_id=people.dept_a)
    await complaint(db, customer.id)
    await survey(db, department_id=people.dept_a, customer_id=customer.id,
                 surveyed_at=datetime(2026, 5, 10, 1, 0, tzinfo=UTC))
    await new_callback(SqlUnitOfWork(db), due=datetime(2026, 5, 18, 1, 0, tzinfo=UTC),
                       kind=CallbackKind.REQUESTED, customer_id=customer.id)


@pytest.mark.slow
async def test_schemathesis_finds_no_server_error(
    served: Served, people: People, db: Database, tmp_path: Path
) -> None:
    await _seed(db, people)
    proc = await asyncio.create_subprocess_exec(
        str(ST), "run", served.base_url + "/api/openapi.json",
        "--checks", "not_a_server_error",
        "--header", f"Authorization: Bearer {people.tokens['admin']}",
        "--max-examples", str(EXAMPLES), "--seed", "17", "--workers", "2",
        "--phases", "examples,coverage,fuzzing", "--request-timeout", "20",
        "--generation-database", "none", "--no-color",
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"},
    )
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-8000:]

