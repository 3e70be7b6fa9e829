"""The transactional outbox of signups: stored before the answer, delivered after.

A signup is accepted only once its submission row (the evidence) and its delivery row
(the work: the exact ``sign_up_form`` body) are committed in one transaction. From then on
nothing can lose it: a crash, a deploy or a CC outage only delays it.

Workers take due rows with a *lease* — an owner, a random lease token and an expiry — in
one atomic statement, so two workers never hold the same row:

- PostgreSQL: ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``: rows
  another claimer is locking are skipped, not waited for.
- SQLite: a single ``UPDATE … WHERE id IN (SELECT …) RETURNING`` inside a transaction that
  holds the database's write lock from its start; claims are serialised by the database.

A row is claimable when it is ``pending``, due, and either unleased or its lease has
expired (its worker died: the row is taken over). Every later write about the row names
the lease token, so a worker that lost its lease (it stalled past the expiry) cannot
overwrite the new holder's outcome. Its delivery may then have happened twice, which is
harmless: ``sign_up_form`` is keyed by email (CC-V3-FACTS §3.3).

Deliveries of an account that is not ``active`` (needs_reauth, disconnected) are not
claimed at all: they wait, visible as *held*, until the account is connected again.
Deliveries of an account whose circuit breaker is open (``ccbridge_delivery_pauses``)
wait until the pause ends; every worker reads the same pause.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from ccbridge.leads.schema import account_health, deliveries, submissions
from ccbridge.store.database import Database
from ccbridge.store.schema import linked_accounts

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"
HELD = "held"
"""Not a stored state: a pending delivery whose account is not active."""


@dataclass(frozen=True)
class NewSubmission:
    """Everything stored for one accepted post (evidence and, unless spam, the work)."""

    id: str
    form_id: str
    account_id: str
    email: str
    fields: Mapping[str, str]
    list_ids: Sequence[str]
    consent_text: str
    consent_version: int
    consented_at: datetime
    ip: str | None
    user_agent: str | None
    page_url: str | None
    spam_reason: str | None
    idempotency_key: str | None
    payload_hash: str
    payload: Mapping[str, Any]
    """The ``sign_up_form`` body to deliver."""


@dataclass(frozen=True)
class StoreResult:
    """What happened to one submission given to ``store``."""

    submission_id: str
    duplicate: bool = False
    """The idempotency key was seen before with the same content: nothing new stored."""
    conflict: bool = False
    """The idempotency key was used before for *different* content: refused."""


@dataclass(frozen=True)
class Claim:
    """A delivery leased to a worker until ``lease_expires_at``."""

    id: str
    submission_id: str
    account_id: str
    payload: dict[str, Any]
    attempts: int
    lease_token: str
    lease_expires_at: datetime


@dataclass(frozen=True)
class DeliveryView:
    """A delivery with its submission's identity, for listings (no personal data but email)."""

    id: str
    submission_id: str
    form_id: str
    account_id: str
    email: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    dead_reason: str | None
    delivered_at: datetime | None
    cc_contact_id: str | None
    cc_action: str | None

    def to_json(self) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat() if v is not None else None

        return {
            "id": self.id,
            "submission_id": self.submission_id,
            "form_id": self.form_id,
            "account_id": self.account_id,
            "email": self.email,
            "state": self.state,
            "attempts": self.attempts,
            "next_attempt_at": iso(self.next_attempt_at),
            "last_error": self.last_error,
            "dead_reason": self.dead_reason,
            "delivered_at": iso(self.delivered_at),
            "cc_contact_id": self.cc_contact_id,
            "cc_action": self.cc_action,
        }


class SignupOutbox:
    """The submissions and deliveries tables, and every statement that changes them."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # -- accepting ----------------------------------------------------------------------------
    def _insert(self) -> Any:
        return sqlite_insert if self.db.is_sqlite else pg_insert

    def store(self, items: Sequence[NewSubmission]) -> list[StoreResult]:
        """Store submissions (and the deliveries of the clean ones) in ONE transaction.

        Returns one result per item, in order. A repeated idempotency key is not an error:
        it returns the first submission's id (``duplicate``), or ``conflict`` when the
        content differs. Nothing is stored for duplicates and conflicts.

        The batch is written with two multi-row inserts after one look-up of the keys it
        carries (cheap: a batch is one commit for many requests). On PostgreSQL another
        transaction may insert one of the keys between the look-up and the insert; the
        unique constraint then refuses the batch and it is stored again row by row with
        ``ON CONFLICT DO NOTHING`` (on SQLite the write lock rules the race out).
        """
        now = self.now()
        try:
            with self.db.write() as conn:
                return self._store_batch(conn, items, now)
        except IntegrityError:
            if not any(item.idempotency_key for item in items):
                raise
        with self.db.write() as conn:
            return [self._store_one(conn, item, now) for item in items]

    @staticmethod
    def _row(item: NewSubmission, now: datetime) -> dict[str, Any]:
        return {
            "id": item.id,
            "form_id": item.form_id,
            "account_id": item.account_id,
            "email": item.email.lower(),
            "fields": json.dumps(dict(item.fields), sort_keys=True, ensure_ascii=False),
            "list_ids": json.dumps(list(item.list_ids)),
            "cc_payload": json.dumps(dict(item.payload), sort_keys=True, ensure_ascii=False),
            "consent_text": item.consent_text,
            "consent_version": item.consent_version,
            "consented_at": item.consented_at,
            "ip": item.ip,
            "user_agent": item.user_agent,
            "page_url": item.page_url,
            "spam_reason": item.spam_reason,
            "idempotency_key": item.idempotency_key,
            "payload_hash": item.payload_hash,
            "created_at": now,
        }

    @staticmethod
    def _delivery_row(item: NewSubmission, now: datetime) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "submission_id": item.id,
            "account_id": item.account_id,
            "state": PENDING,
            "payload": json.dumps(dict(item.payload), sort_keys=True, ensure_ascii=False),
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }

    def _store_batch(
        self, conn: Connection, items: Sequence[NewSubmission], now: datetime
    ) -> list[StoreResult]:
        s = submissions.c
        seen: dict[tuple[str, str], tuple[str, str]] = {}
        keys = {item.idempotency_key for item in items if item.idempotency_key}
        if keys:
            form_ids = {item.form_id for item in items if item.idempotency_key}
            found = conn.execute(
                select(s.id, s.form_id, s.idempotency_key, s.payload_hash).where(
                    s.idempotency_key.in_(keys), s.form_id.in_(form_ids)
                )
            )
            seen = {(r.form_id, r.idempotency_key): (r.id, r.payload_hash) for r in found}
        results: list[StoreResult] = []
        rows: list[dict[str, Any]] = []
        work: list[dict[str, Any]] = []
        for item in items:
            if item.idempotency_key is not None:
                key = (item.form_id, item.idempotency_key)
                if key in seen:  # stored before, or earlier in this very batch
                    first_id, first_hash = seen[key]
                    same = first_hash == item.payload_hash
                    results.append(StoreResult(first_id, duplicate=same, conflict=not same))
                    continue
                seen[key] = (item.id, item.payload_hash)
            rows.append(self._row(item, now))
            if item.spam_reason is None:
                work.append(self._delivery_row(item, now))
            results.append(StoreResult(item.id))
        if rows:
            conn.execute(insert(submissions), rows)
        if work:
            conn.execute(insert(deliveries), work)
        return results

    def _store_one(self, conn: Connection, item: NewSubmission, now: datetime) -> StoreResult:
        values = self._row(item, now)
        if item.idempotency_key is None:
            conn.execute(insert(submissions).values(**values))
        else:
            stmt = self._insert()(submissions).values(**values)
            stmt = stmt.on_conflict_do_nothing(
                index_elements=["form_id", "idempotency_key"]
            ).returning(submissions.c.id)
            # RETURNING rather than rowcount: psycopg's rowcount is not reliable here.
            if conn.execute(stmt).first() is None:
                first = conn.execute(
                    select(submissions.c.id, submissions.c.payload_hash).where(
                        submissions.c.form_id == item.form_id,
                        submissions.c.idempotency_key == item.idempotency_key,
                    )
                ).one()
                if first.payload_hash != item.payload_hash:
                    return StoreResult(first.id, conflict=True)
                return StoreResult(first.id, duplicate=True)
        if item.spam_reason is None:
            conn.execute(insert(deliveries), [self._delivery_row(item, now)])
        return StoreResult(item.id)

    @staticmethod
    def _insert_delivery(
        conn: Connection,
        submission_id: str,
        account_id: str,
        payload: Mapping[str, Any],
        now: datetime,
    ) -> str:
        delivery_id = str(uuid.uuid4())
        conn.execute(
            insert(deliveries).values(
                id=delivery_id,
                submission_id=submission_id,
                account_id=account_id,
                state=PENDING,
                payload=json.dumps(dict(payload), sort_keys=True, ensure_ascii=False),
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        return delivery_id

    # -- claiming -----------------------------------------------------------------------------
    def _claimable(self, now: datetime) -> Any:
        d = deliveries.c
        active = select(linked_accounts.c.id).where(linked_accounts.c.status == "active")
        paused = select(account_health.c.account_id).where(account_health.c.paused_until > now)
        return and_(
            d.state == PENDING,
            d.next_attempt_at <= now,
            or_(d.lease_expires_at.is_(None), d.lease_expires_at <= now),
            d.account_id.in_(active),
            d.account_id.not_in(paused),
        )

    def claim(self, worker_id: str, *, limit: int = 10, lease_seconds: float = 60.0) -> list[Claim]:
        """Lease up to ``limit`` due deliveries to ``worker_id``; oldest due first."""
        now = self.now()
        token = str(uuid.uuid4())
        expires = now + timedelta(seconds=lease_seconds)
        d = deliveries.c
        pick = (
            select(d.id).where(self._claimable(now)).order_by(d.next_attempt_at, d.id).limit(limit)
        )
        if not self.db.is_sqlite:
            pick = pick.with_for_update(skip_locked=True, of=deliveries)
        stmt = (
            update(deliveries)
            .where(d.id.in_(pick))
            .values(
                lease_owner=worker_id, lease_token=token, lease_expires_at=expires, updated_at=now
            )
            .returning(d.id, d.submission_id, d.account_id, d.payload, d.attempts)
        )
        with self.db.write() as conn:
            rows = conn.execute(stmt).all()
        return [
            Claim(
                r.id,
                r.submission_id,
                r.account_id,
                json.loads(r.payload),
                int(r.attempts),
                token,
                expires,
            )
            for r in sorted(rows, key=lambda r: r.id)
        ]

    def next_due_at(self) -> datetime | None:
        """When the earliest pending delivery of an active account is (or was) due."""
        d = deliveries.c
        active = select(linked_accounts.c.id).where(linked_accounts.c.status == "active")
        stmt = select(func.min(func.coalesce(d.lease_expires_at, d.next_attempt_at))).where(
            d.state == PENDING, d.account_id.in_(active)
        )
        with self.db.read() as conn:
            value = conn.execute(stmt).scalar()
        if value is None:
            return None
        if isinstance(value, str):  # SQLite returns an aggregate of the column as text
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value

    # -- outcomes (every one fenced by the lease token) --------------------------------------
    def _finish(self, claim: Claim, values: Mapping[str, Any]) -> bool:
        d = deliveries.c
        with self.db.write() as conn:
            result = conn.execute(
                update(deliveries)
                .where(d.id == claim.id, d.lease_token == claim.lease_token, d.state == PENDING)
                .values(
                    lease_owner=None,
                    lease_token=None,
                    lease_expires_at=None,
                    updated_at=self.now(),
                    **values,
                )
            )
        return result.rowcount == 1

    def complete(
        self, claim: Claim, *, worker_id: str, contact_id: str | None, action: str | None
    ) -> bool:
        """Delivered. False when the lease was lost meanwhile (another worker owns the row)."""
        return self._finish(
            claim,
            {
                "state": DELIVERED,
                "attempts": claim.attempts + 1,
                "delivered_at": self.now(),
                "delivered_by": worker_id,
                "cc_contact_id": contact_id,
                "cc_action": action,
                "last_error": None,
            },
        )

    def retry_later(self, claim: Claim, *, error: str, delay: float) -> bool:
        """A failed attempt that may succeed later: counted, and tried again after ``delay``."""
        return self._finish(
            claim,
            {
                "attempts": claim.attempts + 1,
                "next_attempt_at": self.now() + timedelta(seconds=delay),
                "last_error": error[:2000],
            },
        )

    def release(self, claim: Claim, *, until: datetime, note: str | None = None) -> bool:
        """Give the row back without counting an attempt (paused account, held account)."""
        values: dict[str, Any] = {"next_attempt_at": until}
        if note is not None:
            values["last_error"] = note[:2000]
        return self._finish(claim, values)

    def bury(self, claim: Claim, *, reason: str) -> bool:
        """A terminal failure: the dead-letter state, with the reason, until retried."""
        return self._finish(
            claim,
            {
                "state": DEAD,
                "attempts": claim.attempts + 1,
                "dead_reason": reason[:2000],
                "last_error": reason[:2000],
            },
        )

    # -- dead letters ---------------------------------------------------------------------------
    def retry_dead(self, *, ids: Iterable[str] | None = None, form_id: str | None = None) -> int:
        """Put dead deliveries back in line (all, some by id, or one form's); returns how many."""
        d = deliveries.c
        stmt = (
            update(deliveries)
            .where(d.state == DEAD)
            .values(
                state=PENDING,
                next_attempt_at=self.now(),
                dead_reason=None,
                attempts=0,
                updated_at=self.now(),
            )
        )
        if ids is not None:
            id_list = list(ids)
            stmt = stmt.where(or_(d.id.in_(id_list), d.submission_id.in_(id_list)))
        if form_id is not None:
            stmt = stmt.where(
                d.submission_id.in_(
                    select(submissions.c.id).where(submissions.c.form_id == form_id)
                )
            )
        with self.db.write() as conn:
            return int(conn.execute(stmt).rowcount)

    def approve(self, submission_id: str) -> str:
        """Deliver a submission that was flagged as spam after all (a person checked it).

        Returns the delivery id; approving an already-delivered or queued one is a no-op
        that returns its existing delivery.
        """
        with self.db.write() as conn:
            row = conn.execute(select(submissions).where(submissions.c.id == submission_id)).first()
            if row is None:
                raise LookupError(f"no submission has id {submission_id!r}")
            existing = conn.execute(
                select(deliveries.c.id).where(deliveries.c.submission_id == submission_id)
            ).scalar()
            if existing is not None:
                return str(existing)
            return self._insert_delivery(
                conn, submission_id, row.account_id, json.loads(row.cc_payload), self.now()
            )

    # -- circuit breaker state ----------------------------------------------------------------------
    def record_failure(
        self, account_id: str, error: str, *, pause_for: Callable[[int], float | None]
    ) -> float | None:
        """Count a provider failure for the account; pause it when ``pause_for`` says so.

        ``pause_for(consecutive_failures)`` returns seconds to pause or None. Returns the
        pause started (None: no pause).
        """
        now = self.now()
        h = account_health.c
        with self.db.write() as conn:
            row = self.db.lock_row(conn, account_health, h.account_id == account_id)
            failures = (int(row.consecutive_failures) if row is not None else 0) + 1
            pause = pause_for(failures)
            until = now + timedelta(seconds=pause) if pause else None
            values = {
                "consecutive_failures": failures,
                "paused_until": until,
                "last_error": error[:2000],
                "updated_at": now,
            }
            if row is None:
                conn.execute(insert(account_health).values(account_id=account_id, **values))
            else:
                conn.execute(
                    update(account_health).where(h.account_id == account_id).values(**values)
                )
        return pause

    def record_success(self, account_id: str) -> None:
        h = account_health.c
        with self.db.write() as conn:
            conn.execute(
                update(account_health)
                .where(h.account_id == account_id, h.consecutive_failures > 0)
                .values(
                    consecutive_failures=0,
                    paused_until=None,
                    last_error=None,
                    updated_at=self.now(),
                )
            )

    def pause_of(self, account_id: str) -> datetime | None:
        with self.db.read() as conn:
            value = conn.execute(
                select(account_health.c.paused_until).where(
                    account_health.c.account_id == account_id
                )
            ).scalar()
        return value if value is not None and value > self.now() else None

    # -- reading ----------------------------------------------------------------------------------------
    def deliveries(
        self,
        *,
        state: str | None = None,
        form_id: str | None = None,
        account_id: str | None = None,
        limit: int = 100,
    ) -> list[DeliveryView]:
        """Deliveries newest first; ``state`` may be pending, held, delivered or dead."""
        d, s = deliveries.c, submissions.c
        account_status = linked_accounts.c.status
        stmt = (
            select(
                d.id,
                d.submission_id,
                s.form_id,
                d.account_id,
                s.email,
                d.state,
                d.attempts,
                d.next_attempt_at,
                d.last_error,
                d.dead_reason,
                d.delivered_at,
                d.cc_contact_id,
                d.cc_action,
                account_status.label("account_status"),
            )
            .select_from(
                deliveries.join(submissions, s.id == d.submission_id).outerjoin(
                    linked_accounts, linked_accounts.c.id == d.account_id
                )
            )
            .order_by(d.created_at.desc(), d.id)
            .limit(limit)
        )
        if state == HELD:
            stmt = stmt.where(
                d.state == PENDING, or_(account_status.is_(None), account_status != "active")
            )
        elif state == PENDING:
            stmt = stmt.where(d.state == PENDING, account_status == "active")
        elif state is not None:
            stmt = stmt.where(d.state == state)
        if form_id is not None:
            stmt = stmt.where(s.form_id == form_id)
        if account_id is not None:
            stmt = stmt.where(d.account_id == account_id)
        with self.db.read() as conn:
            rows = conn.execute(stmt).all()
        return [
            DeliveryView(
                r.id,
                r.submission_id,
                r.form_id,
                r.account_id,
                r.email,
                HELD if r.state == PENDING and r.account_status != "active" else r.state,
                int(r.attempts),
                r.next_attempt_at,
                r.last_error,
                r.dead_reason,
                r.delivered_at,
                r.cc_contact_id,
                r.cc_action,
            )
            for r in rows
        ]

    def counts(self, *, form_id: str | None = None) -> dict[str, int]:
        """Deliveries per state (held split from pending) and flagged submissions awaiting review."""
        d, s = deliveries.c, submissions.c
        status = linked_accounts.c.status
        state_expr = d.state
        stmt = (
            select(state_expr, status, func.count())
            .select_from(
                deliveries.join(submissions, s.id == d.submission_id).outerjoin(
                    linked_accounts, linked_accounts.c.id == d.account_id
                )
            )
            .group_by(state_expr, status)
        )
        # Flagged: kept aside as spam and not (yet) approved; an approved one has a delivery.
        spam = (
            select(func.count())
            .select_from(submissions)
            .where(s.spam_reason.is_not(None), s.id.not_in(select(d.submission_id)))
        )
        if form_id is not None:
            stmt = stmt.where(s.form_id == form_id)
            spam = spam.where(s.form_id == form_id)
        out = {PENDING: 0, HELD: 0, DELIVERED: 0, DEAD: 0}
        with self.db.read() as conn:
            for state, account_status, count in conn.execute(stmt):
                key = HELD if state == PENDING and account_status != "active" else state
                out[key] = out.get(key, 0) + int(count)
            out["flagged"] = int(conn.execute(spam).scalar() or 0)
        return out
