"""Bringing a database to the schema this version of ccbridge expects (Alembic).

``upgrade`` runs inside one transaction that first takes a lock (SQLite's write lock;
a transaction-scoped advisory lock on PostgreSQL), so several processes starting at once
against the same database migrate it once, one after the other, instead of racing to
create the same tables. The embedded SQLite database is upgraded automatically at start
(``open_database``); a shared database is upgraded on purpose, with ``ccbridge db upgrade``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from ccbridge.store.database import Database, StoreError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "ccbridge_alembic_version"
_PG_LOCK_KEY = 0x63636272  # "ccbr": one advisory lock id for ccbridge's migrations


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise StoreError("ccbridge's migrations are missing from the installed package")
    return head


def current_revision(db: Database) -> str | None:
    """The revision the database is at (None: ccbridge's tables were never created)."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def upgrade(db: Database, revision: str = "head") -> str:
    """Migrate ``db`` to ``revision`` (default: the newest); returns the revision reached."""
    config = _config()
    with db.write() as conn:
        if not db.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    reached = current_revision(db)
    return reached or ""


def ensure_current(db: Database, *, auto_upgrade: bool) -> None:
    """Upgrade (when allowed) or insist that the database is at the newest revision."""
    current = current_revision(db)
    head = head_revision()
    if current == head:
        return
    if auto_upgrade:
        upgrade(db)
        return
    where = f"at revision {current}" if current else "empty"
    raise StoreError(
        f"the database {db.display_url} is {where}, but this ccbridge needs revision {head}: "
        "run `ccbridge db upgrade`"
    )
