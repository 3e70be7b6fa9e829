"""The service's own tables: admin users, admin API tokens, browser sessions, connect tickets.

Revision ID: 0002_service
Revises: 0001_linked_accounts
Create Date: 2026-07-21

Sessions live in the database (not in a signed cookie) so that any number of web
processes share them and logging out really ends a session everywhere. Only hashes of
session ids, API tokens and connect tickets are stored: a database reader can neither
ride a session, call the admin API nor start a connect flow.

A connect ticket is what the admin API hands an application that wants its user to link a
CC account: a single-use link that, opened in the user's browser, starts the OAuth flow
bound to *that* browser's session (the API caller is not the browser).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_service"
down_revision = "0001_linked_accounts"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ccbridge_admin_users",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("username", sa.String(150), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("last_login_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ccbridge_admin_users"),
        sa.UniqueConstraint("username", name="uq_ccbridge_admin_users_username"),
    )
    op.create_table(
        "ccbridge_admin_tokens",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("token_prefix", sa.String(16), nullable=False),
        sa.Column("admin_user_id", sa.String(36), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=True),
        sa.Column("last_used_at", TZ, nullable=True),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ccbridge_admin_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_ccbridge_admin_tokens_token_hash"),
    )
    op.create_table(
        "ccbridge_web_sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("admin_user_id", sa.String(36), nullable=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.Column("data", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id_hash", name="pk_ccbridge_web_sessions"),
    )
    op.create_index("ix_ccbridge_web_sessions_expires_at", "ccbridge_web_sessions", ["expires_at"])
    op.create_table(
        "ccbridge_connect_tickets",
        sa.Column("ticket_hash", sa.String(64), nullable=False),
        sa.Column("app_reference", sa.String(255), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=True),
        sa.Column("return_url", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("ticket_hash", name="pk_ccbridge_connect_tickets"),
    )


def downgrade() -> None:
    op.drop_table("ccbridge_connect_tickets")
    op.drop_index("ix_ccbridge_web_sessions_expires_at", table_name="ccbridge_web_sessions")
    op.drop_table("ccbridge_web_sessions")
    op.drop_table("ccbridge_admin_tokens")
    op.drop_table("ccbridge_admin_users")
