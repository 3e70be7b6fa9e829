"""The service's tables (created by migration ``0002_service``), on ccbridge's metadata.

They join ``ccbridge.store.schema.metadata`` so a schema comparison sees one database.
Only hashes of secrets are stored: session ids, API tokens and connect tickets are SHA-256
digests (they are 256-bit random values, so a fast hash is enough); passwords are scrypt.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text, UniqueConstraint

from ccbridge.store.schema import UTCDateTime, metadata

admin_users = Table(
    "ccbridge_admin_users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("username", String(150), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime, nullable=True),
    UniqueConstraint("username", name="uq_ccbridge_admin_users_username"),
)

admin_tokens = Table(
    "ccbridge_admin_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("token_hash", String(64), nullable=False),
    # The first characters of the token, to recognise it in a list without revealing it.
    Column("token_prefix", String(16), nullable=False),
    Column("admin_user_id", String(36), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    UniqueConstraint("token_hash", name="uq_ccbridge_admin_tokens_token_hash"),
)

web_sessions = Table(
    "ccbridge_web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    # NULL: an anonymous session (the login form's CSRF token, a connect link's flow).
    Column("admin_user_id", String(36), nullable=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    # Small JSON of flow state (where to send the browser after a connect link), no secrets.
    Column("data", Text, nullable=True),
    Index("ix_ccbridge_web_sessions_expires_at", "expires_at"),
)

connect_tickets = Table(
    "ccbridge_connect_tickets",
    metadata,
    Column("ticket_hash", String(64), primary_key=True),
    Column("app_reference", String(255), nullable=False),
    Column("scopes", Text, nullable=True),
    Column("return_url", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
)
