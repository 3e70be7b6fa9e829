"""A migrated ccbridge database for a test, on SQLite or PostgreSQL.

The linked-accounts, lead-capture, service and worker tests run against both backends;
this is the one place that builds such a database (PostgreSQL: an isolated schema of the
test's own, dropped afterwards)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ccbridge.store import Database, upgrade
from ccbridge.testing.services import isolated_postgres_schema, postgres_url_or_skip


@dataclass(frozen=True)
class DatabaseTarget:
    """Where a test's database lives: a URL and (PostgreSQL) a schema of its own."""

    kind: str
    url: str
    schema: str | None

    def open(self) -> Database:
        return Database(self.url, schema=self.schema)


@contextmanager
def database_target(kind: str, tmp_path: Any) -> Iterator[DatabaseTarget]:
    """A fresh, migrated database of ``kind`` ("sqlite" or "postgres")."""
    if kind == "sqlite":
        target = DatabaseTarget("sqlite", f"sqlite:///{tmp_path}/ccbridge.db", None)
        _migrate(target)
        yield target
        return
    url = postgres_url_or_skip()
    with isolated_postgres_schema(url) as schema:
        target = DatabaseTarget("postgres", url, schema)
        _migrate(target)
        yield target


def _migrate(target: DatabaseTarget) -> None:
    db = target.open()
    try:
        upgrade(db)
    finally:
        db.dispose()
