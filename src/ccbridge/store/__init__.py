"""ccbridge's durable state: the database schema, its migrations and the connection.

SQLite in the data directory by default (no server to run; upgraded automatically at
start); PostgreSQL through ``CCBRIDGE_DATABASE_URL`` when several machines share the work
(upgraded with ``ccbridge db upgrade``).
"""

from __future__ import annotations

from ccbridge.config import Settings
from ccbridge.store.database import Database, StoreError
from ccbridge.store.migrate import current_revision, ensure_current, head_revision, upgrade


def open_database(settings: Settings, *, auto_upgrade: bool | None = None) -> Database:
    """The database of ``settings``, migrated if it is the embedded default.

    ``auto_upgrade`` None means: upgrade the embedded SQLite file automatically, but only
    check a database given by URL (someone chose it; its schema changes on purpose).
    """
    db = Database(settings.effective_database_url, schema=settings.database_schema)
    allowed = settings.embedded_database if auto_upgrade is None else auto_upgrade
    try:
        ensure_current(db, auto_upgrade=allowed)
    except Exception:
        db.dispose()
        raise
    return db


__all__ = [
    "Database",
    "StoreError",
    "current_revision",
    "ensure_current",
    "head_revision",
    "open_database",
    "upgrade",
]
