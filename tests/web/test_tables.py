"""Migration 0002_service creates exactly the service's tables as ``ccbridge.web.tables``
declares them (on SQLite and PostgreSQL), and its downgrade removes them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ccbridge.store import Database, upgrade
from ccbridge.store.schema import metadata
from ccbridge.web import tables
from tests.store.support import database_target

OWN = {
    t.name
    for t in (tables.admin_users, tables.admin_tokens, tables.web_sessions, tables.connect_tickets)
}


def _table_of(diff: Any) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None) if not isinstance(part, str) else None
        table = getattr(part, "table", None)
        if table is not None:
            return str(table.name)
        if name is not None and hasattr(part, "columns"):
            return str(name)
    if len(item) > 2 and isinstance(item[2], str):
        return item[2]
    return None


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with database_target(request.param, tmp_path) as target:
        database = target.open()
        yield database
        database.dispose()


def test_migration_matches_the_declared_tables(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert [d for d in diff if _table_of(d) in OWN] == []
    names = set(sa.inspect(db.engine).get_table_names())
    assert names >= OWN


def test_downgrade_below_0002_removes_the_service_tables(db: Database) -> None:
    from alembic import command

    from ccbridge.store.migrate import _config

    config = _config()
    with db.write() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001_linked_accounts")
    names = set(sa.inspect(db.engine).get_table_names())
    assert not (OWN & names)
    assert "ccbridge_linked_accounts" in names
    assert upgrade(db)  # and back up again
