"""The store: migrations on SQLite and PostgreSQL, the schema they build, and its settings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ccbridge.config import ConfigError, Settings
from ccbridge.store import (
    Database,
    StoreError,
    current_revision,
    ensure_current,
    head_revision,
    open_database,
    upgrade,
)
from ccbridge.store.schema import linked_accounts, metadata
from ccbridge.testing.services import isolated_postgres_schema, postgres_url_or_skip

OWN_TABLES = {
    "ccbridge_linked_accounts",
    "ccbridge_account_events",
    "ccbridge_oauth_states",
    "ccbridge_token_pacing",
}


def _table_of(diff: object) -> str | None:
    if isinstance(diff, list):  # column-level changes come as a list of tuples
        return _table_of(diff[0]) if diff else None
    assert isinstance(diff, tuple)
    for item in diff[1:]:
        if isinstance(item, sa.Table):
            return item.name
        if isinstance(item, (sa.Index, sa.UniqueConstraint)) and item.table is not None:
            return item.table.name
        if isinstance(item, str) and item.startswith("ccbridge_"):
            return item
    return None


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database (no ccbridge tables yet)."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path}/empty.db")
        yield db
        db.dispose()
        return
    url = postgres_url_or_skip()
    with isolated_postgres_schema(url) as schema:
        db = Database(url, schema=schema)
        try:
            yield db
        finally:
            db.dispose()


def test_upgrade_creates_the_schema_the_code_declares(empty_db: Database) -> None:
    assert current_revision(empty_db) is None
    assert upgrade(empty_db) == head_revision()
    assert current_revision(empty_db) == head_revision()
    with empty_db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    # Other parts of ccbridge add their own tables and migrations; check the ones declared here.
    assert [d for d in diff if _table_of(d) in OWN_TABLES] == []
    assert upgrade(empty_db) == head_revision()  # a second run changes nothing


def test_downgrade_to_base_removes_ccbridge_tables(empty_db: Database) -> None:
    upgrade(empty_db)
    from alembic import command

    from ccbridge.store.migrate import _config

    config = _config()
    with empty_db.write() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    names = sa.inspect(empty_db.engine).get_table_names()
    assert not any(n.startswith("ccbridge_") and n != "ccbridge_alembic_version" for n in names)


def test_timestamps_come_back_aware_in_utc(empty_db: Database) -> None:
    upgrade(empty_db)
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    with empty_db.write() as conn:
        conn.execute(
            sa.insert(linked_accounts).values(
                id="a",
                app_reference="r",
                client_id="c",
                issuer="i",
                cc_account_id="s",
                scopes="contact_data",
                status="active",
                linked_at=at,
                updated_at=at,
            )
        )
    with empty_db.read() as conn:
        linked = conn.execute(sa.select(linked_accounts.c.linked_at)).scalar_one()
    assert linked == at and linked.tzinfo is not None
    assert linked.astimezone(UTC).hour == 8
    with pytest.raises(sa.exc.StatementError, match="aware"), empty_db.write() as conn:
        conn.execute(sa.update(linked_accounts).values(updated_at=datetime(2026, 1, 1)))


def test_the_embedded_default_upgrades_itself(tmp_path: Path) -> None:
    settings = Settings.from_env({"CCBRIDGE_DATA_DIR": str(tmp_path / "data")})
    db = open_database(settings)
    assert (tmp_path / "data" / "ccbridge.db").exists()
    assert current_revision(db) == head_revision()
    db.dispose()


def test_a_database_given_by_url_must_be_upgraded_on_purpose(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    settings = Settings.from_env({"CCBRIDGE_DATABASE_URL": url})
    with pytest.raises(StoreError, match="ccbridge db upgrade"):
        open_database(settings)
    db = Database(url)
    upgrade(db)
    ensure_current(db, auto_upgrade=False)
    db.dispose()
    open_database(settings).dispose()


def test_unsupported_and_in_memory_databases_are_refused() -> None:
    with pytest.raises(StoreError, match="sqlite and postgresql"):
        Database("mysql://u@h/db")
    with pytest.raises(StoreError, match="in-memory"):
        Database("sqlite://")


def test_sqlite_write_transactions_take_the_lock_up_front(tmp_path: Path) -> None:
    """A second writer cannot start while the first holds BEGIN IMMEDIATE (no waiting)."""
    db = Database(f"sqlite:///{tmp_path}/lock.db", busy_timeout=0.0)
    upgrade(db)
    with db.write() as conn:
        db.lock_row(conn, linked_accounts, linked_accounts.c.id == "none")
        other = Database(f"sqlite:///{tmp_path}/lock.db", busy_timeout=0.0)
        with pytest.raises(sa.exc.OperationalError, match="locked"), other.write():
            pass
        with other.read() as reader:  # readers are never blocked (WAL)
            reader.execute(sa.select(linked_accounts)).all()
        other.dispose()
    db.dispose()


def test_settings_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="CCBRIDGE_REFRESH_MARGIN"):
        Settings.from_env({"CCBRIDGE_REFRESH_MARGIN": "soon"})
    with pytest.raises(ConfigError, match="CCBRIDGE_KEEPALIVE_DAYS"):
        Settings.from_env({"CCBRIDGE_KEEPALIVE_DAYS": "-1"})
    with pytest.raises(ConfigError, match="CCBRIDGE_CC_AUTH_URL"):
        Settings.from_env({"CCBRIDGE_CC_AUTH_URL": "authz.example"})
    with pytest.raises(ConfigError, match="CCBRIDGE_DATABASE_SCHEMA"):
        Settings.from_env({"CCBRIDGE_DATABASE_SCHEMA": "x; drop"})
    settings = Settings.from_env({"CCBRIDGE_CLIENT_SECRET": "hush", "CCBRIDGE_VAULT_KEYS": "k1,k2"})
    assert "hush" not in repr(settings) and "k1" not in repr(settings)
    assert settings.vault_keys == ("k1", "k2")
    assert Settings.from_env({}).effective_database_url == "sqlite:///.ccbridge/ccbridge.db"
