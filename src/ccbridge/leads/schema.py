"""The lead-capture tables: forms, submissions with their consent evidence, the outbox.

They are declared on ccbridge's one ``MetaData`` (``ccbridge.store.schema.metadata``) so
the store sees every table of the package, and migration ``r0003_leads`` creates exactly
these (a test compares the two).

Why three tables rather than one: a submission is *evidence* (what the person saw and
agreed to, when, from where) and is never rewritten; its delivery to CC is *work* that
changes state many times (claimed, retried, delivered, dead). Keeping the work in its own
row lets workers lock and update it without touching the evidence.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text, UniqueConstraint

from ccbridge.store.schema import UTCDateTime, metadata

FORM_STATUSES = ("active", "disabled")
DELIVERY_STATES = ("pending", "delivered", "dead")

forms = Table(
    "ccbridge_forms",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", String(36), nullable=False),
    Column("name", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    # JSON: the whole definition (fields, lists, texts, origins, limits); see forms.py.
    Column("definition", Text, nullable=False),
    Column("consent_text", Text, nullable=False),
    Column("consent_version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_ccbridge_forms_account_id", "account_id"),
)

submissions = Table(
    "ccbridge_submissions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("form_id", String(36), nullable=False),
    Column("account_id", String(36), nullable=False),
    Column("email", String(320), nullable=False),
    # JSON: the cleaned values by field name, exactly what will be sent to CC.
    Column("fields", Text, nullable=False),
    Column("list_ids", Text, nullable=False),
    # The ``sign_up_form`` body built from them (kept for flagged ones too, to approve later).
    Column("cc_payload", Text, nullable=False),
    # Consent evidence: what the person was shown and agreed to, and where from.
    Column("consent_text", Text, nullable=False),
    Column("consent_version", Integer, nullable=False),
    Column("consented_at", UTCDateTime, nullable=False),
    Column("ip", String(64), nullable=True),
    Column("user_agent", Text, nullable=True),
    Column("page_url", Text, nullable=True),
    # Spam: None when clean; otherwise why it was kept aside (never delivered unless approved).
    Column("spam_reason", String(64), nullable=True),
    Column("idempotency_key", String(200), nullable=True),
    Column("payload_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("form_id", "idempotency_key", name="uq_ccbridge_submissions_idempotency"),
    Index("ix_ccbridge_submissions_email", "email"),
    Index("ix_ccbridge_submissions_form_id", "form_id"),
)

deliveries = Table(
    "ccbridge_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("submission_id", String(36), nullable=False),
    Column("account_id", String(36), nullable=False),
    Column("state", String(16), nullable=False),
    # The exact ``sign_up_form`` body, built when the submission was accepted.
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    # The lease: who holds the row and until when; ``lease_token`` fences a late writer.
    Column("lease_owner", String(100), nullable=True),
    Column("lease_token", String(36), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("dead_reason", Text, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("delivered_by", String(100), nullable=True),
    Column("cc_contact_id", String(64), nullable=True),
    Column("cc_action", String(16), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("submission_id", name="uq_ccbridge_deliveries_submission_id"),
    Index("ix_ccbridge_deliveries_due", "state", "next_attempt_at"),
    Index("ix_ccbridge_deliveries_account_id", "account_id"),
)

account_health = Table(
    "ccbridge_delivery_pauses",
    metadata,
    # One row per linked account whose deliveries failed lately: a circuit breaker that
    # every worker reads, so an outage pauses the whole fleet, not one process.
    Column("account_id", String(36), primary_key=True),
    Column("consecutive_failures", Integer, nullable=False),
    Column("paused_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)
