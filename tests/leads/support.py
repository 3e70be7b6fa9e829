"""Helpers for the lead-capture tests: databases, a controllable clock, linked accounts."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from ccbridge.oauth import records
from ccbridge.store import Database, upgrade

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _unavailable(message: str) -> None:
    if os.environ.get("CCBRIDGE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}, and CCBRIDGE_REQUIRE_SERVICES=1 makes it mandatory")
    pytest.skip(message)


def postgres_or_skip() -> str:
    url = os.environ.get("CCBRIDGE_TEST_POSTGRES_URL", DEFAULT_PG_URL)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # any driver error: not usable here
        _unavailable(f"PostgreSQL at {url} is not reachable ({type(exc).__name__})")
    finally:
        engine.dispose()
    return url


def redis_or_skip() -> str:
    url = os.environ.get("CCBRIDGE_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:
        _unavailable(f"Redis at {url} is not reachable ({type(exc).__name__})")
    return url


@dataclass(frozen=True)
class DatabaseTarget:
    """A migrated database: a URL and, on PostgreSQL, a schema of its own."""

    kind: str
    url: str
    schema: str | None

    def open(self) -> Database:
        return Database(self.url, schema=self.schema)


@contextmanager
def database_target(kind: str, tmp_path: Any) -> Iterator[DatabaseTarget]:
    if kind == "sqlite":
        target = DatabaseTarget("sqlite", f"sqlite:///{tmp_path}/leads.db", None)
        db = target.open()
        upgrade(db)
        db.dispose()
        yield target
        return
    url = postgres_or_skip()
    schema = "ccb_leads_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        target = DatabaseTarget("postgres", url, schema)
        db = target.open()
        upgrade(db)
        db.dispose()
        yield target
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


class FakeClock:
    """Wall-clock seconds that move only when a test says so."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def add_linked_account(db: Database, *, status: str = "active", client_id: str = "test-app") -> str:
    """A linked-account row as the linked-accounts service stores it (tokens not needed here)."""
    account_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    with db.write() as conn:
        records.insert_account(
            conn,
            {
                "id": account_id,
                "app_reference": "tenant-1",
                "client_id": client_id,
                "issuer": "http://sandbox.test/oauth2/default",
                "cc_account_id": str(uuid.uuid4()),
                "scopes": "contact_data offline_access",
                "status": status,
                "linked_at": now,
                "updated_at": now,
                "token_version": 1,
            },
        )
    return account_id


def set_account_status(db: Database, account_id: str, status: str) -> None:
    with db.write() as conn:
        records.update_account(
            conn, account_id, {"status": status, "updated_at": datetime.now(UTC)}
        )
