"""Fixtures of the callback tests: a unit of work factory over the `db` fixture."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from callcenter.storage.engine import Database
from callcenter.storage.uow import SqlUnitOfWork


@pytest.fixture
def uow(db: Database) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(db)
