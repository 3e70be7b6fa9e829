"""ccbridge's database tables, declared once for the queries and checked by the migrations.

The tables are SQLAlchemy Core ``Table`` objects: the queries that use them (the vault, the
refresh lock, the audit log) are short and explicit, and a reader sees the SQL they make.
Every table name starts with ``ccbridge_`` so the tables can live in an application's own
database beside its tables. The Alembic migrations under ``migrations/`` create exactly
these; a test compares the two so they cannot drift.

Timestamps are stored in UTC and come back as aware datetimes on every database (SQLite
keeps no time zone, so ``UTCDateTime`` adds it back).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("ccbridge stores aware datetimes only (a naive one was given)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


ACCOUNT_STATUSES = ("active", "needs_reauth", "disconnected")

linked_accounts = Table(
    "ccbridge_linked_accounts",
    metadata,
    Column("id", String(36), primary_key=True),
    # The app's own reference (its tenant or user id); one reference may link many accounts.
    Column("app_reference", String(255), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("issuer", String(500), nullable=False),
    # CC's identity of the account: the JWT's ``sub`` (stable) and ``platform_user_id``.
    Column("cc_account_id", String(255), nullable=False),
    Column("platform_user_id", String(255), nullable=True),
    Column("organization_name", String(255), nullable=True),
    Column("contact_email", String(320), nullable=True),
    Column("encoded_account_id", String(255), nullable=True),
    Column("scopes", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("status_reason", Text, nullable=True),
    Column("linked_at", UTCDateTime, nullable=False),
    Column("last_refreshed_at", UTCDateTime, nullable=True),
    Column("access_expires_at", UTCDateTime, nullable=True),
    Column("needs_reauth_at", UTCDateTime, nullable=True),
    Column("disconnected_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    # Tokens: one Fernet ciphertext of a JSON object, and the fingerprint of its key.
    Column("token_ciphertext", Text, nullable=True),
    Column("key_fingerprint", String(32), nullable=True),
    # Bumped by every write of new tokens: tells a lost refresh race from a dead grant.
    Column("token_version", Integer, nullable=False, server_default="0"),
    UniqueConstraint(
        "client_id", "cc_account_id", "app_reference", name="uq_ccbridge_linked_accounts_identity"
    ),
    Index("ix_ccbridge_linked_accounts_app_reference", "app_reference"),
    Index("ix_ccbridge_linked_accounts_key_fingerprint", "key_fingerprint"),
)

account_events = Table(
    "ccbridge_account_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(36), nullable=True),
    Column("event", String(32), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    # JSON without secrets: reasons, error codes, key fingerprints, counts.
    Column("detail", Text, nullable=True),
    Index("ix_ccbridge_account_events_account_id", "account_id"),
)

oauth_states = Table(
    "ccbridge_oauth_states",
    metadata,
    # Only a hash of the state value is stored: a database reader cannot forge a callback.
    Column("state_hash", String(64), primary_key=True),
    Column("session_hash", String(64), nullable=False),
    Column("app_reference", String(255), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("verifier_ciphertext", Text, nullable=True),
    Column("key_fingerprint", String(32), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
)

token_pacing = Table(
    "ccbridge_token_pacing",
    metadata,
    # When this client_id last called CC's token endpoint (epoch seconds), across processes.
    Column("client_id", String(255), primary_key=True),
    Column("last_call_at", Float, nullable=False),
)
