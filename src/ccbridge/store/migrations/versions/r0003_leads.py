"""Lead capture: signup forms, submissions with consent evidence, the delivery outbox.

Revision ID: 0003_leads
Revises: 0002_service
Create Date: 2026-07-22

A submission (the evidence) and its delivery (the work) are separate tables so workers
can lease and update deliveries without rewriting what the person agreed to. The
``ix_ccbridge_deliveries_due`` index serves the claim query (pending rows, oldest due
first); ``ccbridge_delivery_pauses`` is the circuit breaker every worker shares.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_leads"
down_revision = "0002_service"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ccbridge_forms",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("consent_text", sa.Text(), nullable=False),
        sa.Column("consent_version", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ccbridge_forms"),
    )
    op.create_index("ix_ccbridge_forms_account_id", "ccbridge_forms", ["account_id"])
    op.create_table(
        "ccbridge_submissions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("form_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("list_ids", sa.Text(), nullable=False),
        sa.Column("cc_payload", sa.Text(), nullable=False),
        sa.Column("consent_text", sa.Text(), nullable=False),
        sa.Column("consent_version", sa.Integer(), nullable=False),
        sa.Column("consented_at", TZ, nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("page_url", sa.Text(), nullable=True),
        sa.Column("spam_reason", sa.String(64), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ccbridge_submissions"),
        sa.UniqueConstraint(
            "form_id", "idempotency_key", name="uq_ccbridge_submissions_idempotency"
        ),
    )
    op.create_index("ix_ccbridge_submissions_email", "ccbridge_submissions", ["email"])
    op.create_index("ix_ccbridge_submissions_form_id", "ccbridge_submissions", ["form_id"])
    op.create_table(
        "ccbridge_deliveries",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("submission_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_token", sa.String(36), nullable=True),
        sa.Column("lease_expires_at", TZ, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("dead_reason", sa.Text(), nullable=True),
        sa.Column("delivered_at", TZ, nullable=True),
        sa.Column("delivered_by", sa.String(100), nullable=True),
        sa.Column("cc_contact_id", sa.String(64), nullable=True),
        sa.Column("cc_action", sa.String(16), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ccbridge_deliveries"),
        sa.UniqueConstraint("submission_id", name="uq_ccbridge_deliveries_submission_id"),
    )
    op.create_index(
        "ix_ccbridge_deliveries_due", "ccbridge_deliveries", ["state", "next_attempt_at"]
    )
    op.create_index("ix_ccbridge_deliveries_account_id", "ccbridge_deliveries", ["account_id"])
    op.create_table(
        "ccbridge_delivery_pauses",
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("paused_until", TZ, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_ccbridge_delivery_pauses"),
    )


def downgrade() -> None:
    op.drop_table("ccbridge_delivery_pauses")
    op.drop_index("ix_ccbridge_deliveries_account_id", table_name="ccbridge_deliveries")
    op.drop_index("ix_ccbridge_deliveries_due", table_name="ccbridge_deliveries")
    op.drop_table("ccbridge_deliveries")
    op.drop_index("ix_ccbridge_submissions_form_id", table_name="ccbridge_submissions")
    op.drop_index("ix_ccbridge_submissions_email", table_name="ccbridge_submissions")
    op.drop_table("ccbridge_submissions")
    op.drop_index("ix_ccbridge_forms_account_id", table_name="ccbridge_forms")
    op.drop_table("ccbridge_forms")
