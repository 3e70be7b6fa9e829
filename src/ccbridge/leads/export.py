"""Consent evidence and CSV exports of submissions.

Two questions an account owner must be able to answer (CC-V3-FACTS §8: only contacts who
gave explicit permission may be added this way):

- "Show me proof this person signed up": ``evidence_for_email`` returns every submission
  of one address with the exact consent text and version shown, the time, IP address,
  user agent and page.
- "What came in through this form, and where is each signup now": ``list_submissions``
  pages through a form's submissions, newest first, each with its evidence and status.
- "Give me the signups as a file": ``submissions_csv`` writes CC's contact-import columns
  (``email``, ``first_name``, ``last_name``, ``phone``, ``company_name``, ``job_title`` and
  ``cf:<custom field name>``) for people who prefer to upload. CC's importer refuses
  columns it does not know, so the evidence columns are appended only when asked for
  (``evidence=True``); without them the file can be uploaded as it is.

Flagged (spam) submissions are left out of the CSV unless ``include_flagged`` is set: a
file meant for import must not carry people who never really signed up.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from ccbridge.leads.forms import FormStore
from ccbridge.leads.outbox import DEAD, DELIVERED, HELD, PENDING
from ccbridge.leads.schema import deliveries, forms, submissions
from ccbridge.store.database import Database
from ccbridge.store.schema import linked_accounts

FLAGGED = "flagged"
SUBMISSION_STATUSES = (PENDING, HELD, DELIVERED, DEAD, FLAGGED)
"""A submission's status: its delivery's state, or ``flagged`` (spam, not approved)."""

CC_COLUMNS = {
    "email_address": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "phone_number": "phone",
    "company_name": "company_name",
    "job_title": "job_title",
}
EVIDENCE_COLUMNS = (
    "consent_text",
    "consent_version",
    "consented_at",
    "ip",
    "user_agent",
    "page_url",
    "form_id",
    "submission_id",
)


def evidence_for_email(db: Database, email: str) -> list[dict[str, Any]]:
    """Every submission of ``email`` (case-insensitive), oldest first, with its evidence."""
    s, d, f = submissions.c, deliveries.c, forms.c
    stmt = (
        select(
            s.id,
            s.form_id,
            f.name.label("form_name"),
            s.email,
            s.fields,
            s.list_ids,
            s.consent_text,
            s.consent_version,
            s.consented_at,
            s.ip,
            s.user_agent,
            s.page_url,
            s.spam_reason,
            d.state,
            d.delivered_at,
            d.cc_contact_id,
            d.cc_action,
        )
        .select_from(
            submissions.outerjoin(deliveries, d.submission_id == s.id).outerjoin(
                forms, f.id == s.form_id
            )
        )
        .where(s.email == email.strip().lower())
        .order_by(s.consented_at, s.id)
    )
    with db.read() as conn:
        rows = conn.execute(stmt).all()
    return [
        {
            "submission_id": r.id,
            "form_id": r.form_id,
            "form_name": r.form_name,
            "email": r.email,
            "fields": json.loads(r.fields),
            "list_ids": json.loads(r.list_ids),
            "consent_text": r.consent_text,
            "consent_version": r.consent_version,
            "consented_at": r.consented_at.isoformat(),
            "ip": r.ip,
            "user_agent": r.user_agent,
            "page_url": r.page_url,
            "flagged_as_spam": r.spam_reason,
            "delivery_state": r.state,
            "delivered_at": r.delivered_at.isoformat() if r.delivered_at else None,
            "cc_contact_id": r.cc_contact_id,
            "cc_action": r.cc_action,
        }
        for r in rows
    ]


def _columns(store: FormStore, form_id: str | None) -> list[tuple[str, str]]:
    """(field name, CC import column) for every field of the form(s), email first."""
    out: dict[str, str] = {"email_address": "email"}
    chosen = [store.get(form_id)] if form_id is not None else store.list()
    for form in chosen:
        for f in form.definition.fields:
            if f.name in CC_COLUMNS:
                out.setdefault(f.name, CC_COLUMNS[f.name])
            else:
                out.setdefault(f.name, "cf:" + (f.cc_name or f.name))
    return list(out.items())


def submissions_csv(
    db: Database,
    *,
    form_id: str | None = None,
    evidence: bool = True,
    include_flagged: bool = False,
) -> Iterator[str]:
    """CSV text in chunks: a header row, then one row per submission (oldest first)."""
    columns = _columns(FormStore(db), form_id)
    header = [column for _, column in columns]
    if evidence:
        header += list(EVIDENCE_COLUMNS)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    s = submissions.c
    stmt = select(submissions).order_by(s.consented_at, s.id)
    if form_id is not None:
        stmt = stmt.where(s.form_id == form_id)
    if not include_flagged:
        stmt = stmt.where(s.spam_reason.is_(None))
    with db.read() as conn:
        for row in conn.execute(stmt):
            values = json.loads(row.fields)
            record = [values.get(name, "") for name, _ in columns]
            if evidence:
                record += [
                    row.consent_text,
                    row.consent_version,
                    row.consented_at.isoformat(),
                    row.ip or "",
                    row.user_agent or "",
                    row.page_url or "",
                    row.form_id,
                    row.id,
                ]
            writer.writerow(record)
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def submission_count(db: Database, form_id: str) -> int:
    with db.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(submissions)
                .where(submissions.c.form_id == form_id)
            ).scalar()
            or 0
        )


@dataclass(frozen=True)
class SubmissionView:
    """One submission with its consent evidence and where its delivery stands."""

    id: str
    form_id: str
    email: str
    fields: dict[str, str]
    consent_text: str
    consent_version: int
    consented_at: datetime
    ip: str | None
    user_agent: str | None
    page_url: str | None
    spam_reason: str | None
    status: str
    delivery_id: str | None
    attempts: int
    last_error: str | None
    dead_reason: str | None
    delivered_at: datetime | None
    cc_contact_id: str | None
    cc_action: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "submission_id": self.id,
            "form_id": self.form_id,
            "email": self.email,
            "fields": self.fields,
            "status": self.status,
            "consent_text": self.consent_text,
            "consent_version": self.consent_version,
            "consented_at": self.consented_at.isoformat(),
            "ip": self.ip,
            "user_agent": self.user_agent,
            "page_url": self.page_url,
            "flagged_as_spam": self.spam_reason,
            "delivery_id": self.delivery_id,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "dead_reason": self.dead_reason,
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
            "cc_contact_id": self.cc_contact_id,
            "cc_action": self.cc_action,
        }


@dataclass(frozen=True)
class SubmissionPage:
    """One page of a form's submissions and how many match in all."""

    items: list[SubmissionView]
    total: int
    offset: int
    limit: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.items) < self.total


def _status_condition(status: str) -> Any:
    """The SQL condition for one submission status (held: pending, account not active)."""
    d, account = deliveries.c, linked_accounts.c.status
    if status == FLAGGED:
        return and_(submissions.c.spam_reason.is_not(None), d.id.is_(None))
    if status == HELD:
        return and_(d.state == PENDING, or_(account.is_(None), account != "active"))
    if status == PENDING:
        return and_(d.state == PENDING, account == "active")
    return d.state == status


def list_submissions(
    db: Database,
    *,
    form_id: str,
    status: str | None = None,
    limit: int = 25,
    offset: int = 0,
) -> SubmissionPage:
    """A form's submissions, newest first, with their evidence; ``status`` filters them."""
    if status is not None and status not in SUBMISSION_STATUSES:
        raise ValueError(f"status must be one of {', '.join(SUBMISSION_STATUSES)}")
    s, d = submissions.c, deliveries.c
    joined = submissions.outerjoin(deliveries, d.submission_id == s.id).outerjoin(
        linked_accounts, linked_accounts.c.id == s.account_id
    )
    where = [s.form_id == form_id]
    if status is not None:
        where.append(_status_condition(status))
    stmt = (
        select(
            submissions,
            d.id.label("delivery_id"),
            d.state,
            d.attempts,
            d.last_error,
            d.dead_reason,
            d.delivered_at,
            d.cc_contact_id,
            d.cc_action,
            linked_accounts.c.status.label("account_status"),
        )
        .select_from(joined)
        .where(*where)
        .order_by(s.consented_at.desc(), s.id)
        .limit(limit)
        .offset(offset)
    )
    count = select(func.count()).select_from(joined).where(*where)
    with db.read() as conn:
        rows = conn.execute(stmt).all()
        total = int(conn.execute(count).scalar() or 0)
    return SubmissionPage([_submission_view(r) for r in rows], total, offset, limit)


def _submission_view(r: Any) -> SubmissionView:
    if r.delivery_id is None:
        status = FLAGGED
    elif r.state == PENDING and r.account_status != "active":
        status = HELD
    else:
        status = str(r.state)
    return SubmissionView(
        id=r.id,
        form_id=r.form_id,
        email=r.email,
        fields=json.loads(r.fields),
        consent_text=r.consent_text,
        consent_version=int(r.consent_version),
        consented_at=r.consented_at,
        ip=r.ip,
        user_agent=r.user_agent,
        page_url=r.page_url,
        spam_reason=r.spam_reason,
        status=status,
        delivery_id=r.delivery_id,
        attempts=int(r.attempts or 0),
        last_error=r.last_error,
        dead_reason=r.dead_reason,
        delivered_at=r.delivered_at,
        cc_contact_id=r.cc_contact_id,
        cc_action=r.cc_action,
    )
