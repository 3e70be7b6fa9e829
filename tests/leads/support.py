"""Helpers for the lead-capture tests: a controllable clock and linked-account rows (the
databases come from ``tests.store.support``)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from ccbridge.oauth import records
from ccbridge.store import Database


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
