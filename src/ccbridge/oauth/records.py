"""Linked accounts, audit events and connect-flow states: the rows and the SQL over them.

The public shapes (``LinkedAccount``, ``AuditEvent``) carry no secrets: the encrypted
tokens stay in the row and are read only by the refresh path through the vault. The
functions take an open connection, so callers decide the transaction (a plain read, or the
locked write of a refresh).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from ccbridge.store.schema import account_events, linked_accounts, oauth_states

ACTIVE = "active"
NEEDS_REAUTH = "needs_reauth"
DISCONNECTED = "disconnected"

# Audit event names.
LINKED = "linked"
RELINKED = "relinked"
REFRESHED = "refreshed"
REFRESH_FAILED = "refresh_failed"
NEEDS_REAUTH_EVENT = "needs_reauth"
DISCONNECTED_EVENT = "disconnected"
KEY_ROTATED = "key_rotated"


@dataclass(frozen=True)
class LinkedAccount:
    """One CC account linked to the app; no secret is part of it."""

    id: str
    app_reference: str
    client_id: str
    issuer: str
    cc_account_id: str
    platform_user_id: str | None
    organization_name: str | None
    contact_email: str | None
    encoded_account_id: str | None
    scopes: tuple[str, ...]
    status: str
    status_reason: str | None
    linked_at: datetime
    last_refreshed_at: datetime | None
    access_expires_at: datetime | None
    needs_reauth_at: datetime | None
    disconnected_at: datetime | None
    updated_at: datetime
    key_fingerprint: str | None
    token_version: int
    has_tokens: bool

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view (timestamps in ISO 8601 UTC)."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "id": self.id,
            "app_reference": self.app_reference,
            "client_id": self.client_id,
            "issuer": self.issuer,
            "cc_account_id": self.cc_account_id,
            "platform_user_id": self.platform_user_id,
            "organization_name": self.organization_name,
            "contact_email": self.contact_email,
            "encoded_account_id": self.encoded_account_id,
            "scopes": list(self.scopes),
            "status": self.status,
            "status_reason": self.status_reason,
            "linked_at": iso(self.linked_at),
            "last_refreshed_at": iso(self.last_refreshed_at),
            "access_expires_at": iso(self.access_expires_at),
            "needs_reauth_at": iso(self.needs_reauth_at),
            "disconnected_at": iso(self.disconnected_at),
            "key_fingerprint": self.key_fingerprint,
            "has_tokens": self.has_tokens,
        }


def account_from_row(row: Row[Any] | Mapping[str, Any]) -> LinkedAccount:
    m = row._mapping if isinstance(row, Row) else row
    return LinkedAccount(
        id=m["id"],
        app_reference=m["app_reference"],
        client_id=m["client_id"],
        issuer=m["issuer"],
        cc_account_id=m["cc_account_id"],
        platform_user_id=m["platform_user_id"],
        organization_name=m["organization_name"],
        contact_email=m["contact_email"],
        encoded_account_id=m["encoded_account_id"],
        scopes=tuple(str(m["scopes"]).split()),
        status=m["status"],
        status_reason=m["status_reason"],
        linked_at=m["linked_at"],
        last_refreshed_at=m["last_refreshed_at"],
        access_expires_at=m["access_expires_at"],
        needs_reauth_at=m["needs_reauth_at"],
        disconnected_at=m["disconnected_at"],
        updated_at=m["updated_at"],
        key_fingerprint=m["key_fingerprint"],
        token_version=int(m["token_version"] or 0),
        has_tokens=m["token_ciphertext"] is not None,
    )


@dataclass(frozen=True)
class AuditEvent:
    """One connection event; ``detail`` holds reasons and counts, never a secret."""

    id: int
    account_id: str | None
    event: str
    occurred_at: datetime
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account_id": self.account_id,
            "event": self.event,
            "occurred_at": self.occurred_at.isoformat(),
            "detail": self.detail,
        }


# -- accounts -----------------------------------------------------------------------------
def get_account_row(conn: Connection, account_id: str) -> Row[Any] | None:
    return conn.execute(select(linked_accounts).where(linked_accounts.c.id == account_id)).first()


def find_identity(
    conn: Connection, client_id: str, cc_account_id: str, app_reference: str
) -> Row[Any] | None:
    c = linked_accounts.c
    return conn.execute(
        select(linked_accounts).where(
            c.client_id == client_id,
            c.cc_account_id == cc_account_id,
            c.app_reference == app_reference,
        )
    ).first()


def list_account_rows(
    conn: Connection,
    *,
    app_reference: str | None = None,
    status: str | None = None,
    client_id: str | None = None,
) -> Sequence[Row[Any]]:
    c = linked_accounts.c
    stmt = select(linked_accounts).order_by(c.linked_at, c.id)
    if app_reference is not None:
        stmt = stmt.where(c.app_reference == app_reference)
    if status is not None:
        stmt = stmt.where(c.status == status)
    if client_id is not None:
        stmt = stmt.where(c.client_id == client_id)
    return conn.execute(stmt).all()


def insert_account(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(insert(linked_accounts).values(**values))


def update_account(conn: Connection, account_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(update(linked_accounts).where(linked_accounts.c.id == account_id).values(**values))


def key_usage(conn: Connection) -> dict[str | None, int]:
    """Rows holding tokens per key fingerprint (states' verifiers included)."""
    counts: dict[str | None, int] = {}
    for table in (linked_accounts, oauth_states):
        ciphertext = (
            table.c.token_ciphertext if table is linked_accounts else table.c.verifier_ciphertext
        )
        rows = conn.execute(
            select(table.c.key_fingerprint, func.count())
            .where(ciphertext.is_not(None))
            .group_by(table.c.key_fingerprint)
        ).all()
        for fp, count in rows:
            counts[fp] = counts.get(fp, 0) + int(count)
    return counts


# -- audit ----------------------------------------------------------------------------------
def add_event(
    conn: Connection,
    account_id: str | None,
    event: str,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
) -> None:
    conn.execute(
        insert(account_events).values(
            account_id=account_id,
            event=event,
            occurred_at=at,
            detail=json.dumps(dict(detail), sort_keys=True) if detail else None,
        )
    )


def list_events(
    conn: Connection, *, account_id: str | None = None, limit: int | None = None
) -> list[AuditEvent]:
    c = account_events.c
    stmt = select(account_events).order_by(c.id.desc())
    if account_id is not None:
        stmt = stmt.where(c.account_id == account_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    events = [
        AuditEvent(
            id=int(r.id),
            account_id=r.account_id,
            event=r.event,
            occurred_at=r.occurred_at,
            detail=json.loads(r.detail) if r.detail else {},
        )
        for r in conn.execute(stmt)
    ]
    events.reverse()
    return events
