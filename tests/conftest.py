"""Fixtures shared by several test packages: a migrated database on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ccbridge.store import Database
from tests.store.support import DatabaseTarget, database_target


@pytest.fixture(params=["sqlite", "postgres"])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseTarget]:
    with database_target(request.param, tmp_path) as target:
        yield target


@pytest.fixture
def db(db_target: DatabaseTarget) -> Iterator[Database]:
    database = db_target.open()
    yield database
    database.dispose()
