"""Linked accounts, their audit log, connect-flow state records and token-endpoint pacing.

Revision ID: 0001_linked_accounts
Revises:
Create Date: 2026-07-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_linked_accounts"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ccbridge_linked_accounts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("app_reference", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("cc_account_id", sa.String(255), nullable=False),
        sa.Column("platform_user_id", sa.String(255), nullable=True),
        sa.Column("organization_name", sa.String(255), nullable=True),
        sa.Column("contact_email", sa.String(320), nullable=True),
        sa.Column("encoded_account_id", sa.String(255), nullable=True),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("linked_at", TZ, nullable=False),
        sa.Column("last_refreshed_at", TZ, nullable=True),
        sa.Column("access_expires_at", TZ, nullable=True),
        sa.Column("needs_reauth_at", TZ, nullable=True),
        sa.Column("disconnected_at", TZ, nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("token_ciphertext", sa.Text(), nullable=True),
        sa.Column("key_fingerprint", sa.String(32), nullable=True),
        sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_ccbridge_linked_accounts"),
        sa.UniqueConstraint(
            "client_id",
            "cc_account_id",
            "app_reference",
            name="uq_ccbridge_linked_accounts_identity",
        ),
    )
    op.create_index(
        "ix_ccbridge_linked_accounts_app_reference", "ccbridge_linked_accounts", ["app_reference"]
    )
    op.create_index(
        "ix_ccbridge_linked_accounts_key_fingerprint",
        "ccbridge_linked_accounts",
        ["key_fingerprint"],
    )
    op.create_table(
        "ccbridge_account_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(36), nullable=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ccbridge_account_events"),
    )
    op.create_index(
        "ix_ccbridge_account_events_account_id", "ccbridge_account_events", ["account_id"]
    )
    op.create_table(
        "ccbridge_oauth_states",
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("app_reference", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("verifier_ciphertext", sa.Text(), nullable=True),
        sa.Column("key_fingerprint", sa.String(32), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("state_hash", name="pk_ccbridge_oauth_states"),
    )
    op.create_table(
        "ccbridge_token_pacing",
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("last_call_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name="pk_ccbridge_token_pacing"),
    )


def downgrade() -> None:
    op.drop_table("ccbridge_token_pacing")
    op.drop_table("ccbridge_oauth_states")
    op.drop_index("ix_ccbridge_account_events_account_id", table_name="ccbridge_account_events")
    op.drop_table("ccbridge_account_events")
    op.drop_index(
        "ix_ccbridge_linked_accounts_key_fingerprint", table_name="ccbridge_linked_accounts"
    )
    op.drop_index(
        "ix_ccbridge_linked_accounts_app_reference", table_name="ccbridge_linked_accounts"
    )
    op.drop_table("ccbridge_linked_accounts")
