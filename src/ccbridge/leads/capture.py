"""Accepting a signup: from a post to a committed submission, the one path every form uses.

``LeadCapture`` holds the parts (forms, the outbox, render tokens, rate limits, the
captcha hook) and runs the checks in an order that tells people what they can fix and
tells bots nothing:

1. The form must exist and be active, and its account must not be disconnected (404/409).
2. Rate limits per IP and per form (429 with ``Retry-After``).
3. The values: unknown fields, required fields, lengths, the email, the consent box (400,
   naming the field).
4. Spam signals — honeypot, render token, captcha — do not refuse: the submission is kept
   with ``spam_reason`` set, answered exactly like a good one, and never delivered unless
   an admin approves it.
5. The submission and its delivery are committed together (``SignupOutbox.store``) before
   the answer. Concurrent posts share one commit (``GroupCommit``): each still waits for
   its own data to be durable, but the disk's flush is paid once per batch rather than
   once per post, which is what lets one SQLite file accept thousands of signups a second.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from sqlalchemy import select

from ccbridge.leads.forms import HONEYPOT_FIELD, Form, FormDefinition, FormStore
from ccbridge.leads.outbox import NewSubmission, SignupOutbox, StoreResult
from ccbridge.leads.spam import (
    CaptchaVerifier,
    Limit,
    RenderTokens,
    SlidingWindowLimiter,
    check_honeypot,
)
from ccbridge.leads.submissions import CleanSubmission, InputError, clean
from ccbridge.store.database import Database
from ccbridge.store.schema import linked_accounts

log = logging.getLogger("ccbridge.leads")

MAX_USER_AGENT = 1000


@dataclass(frozen=True)
class LeadSettings:
    """Knobs of the public endpoints (per form knobs live in the form definition)."""

    per_ip_limit: Limit = field(default_factory=lambda: Limit(20, 60.0))
    """Posts per IP address per window, across all forms."""
    trust_forwarded_for: bool = False
    """Take the client IP from ``X-Forwarded-For`` (only behind a proxy you run)."""
    cache_seconds: float = 2.0
    """How long a form and its account's status are cached by the public endpoints."""
    group_commit: bool = True


@dataclass(frozen=True)
class Accepted:
    """The outcome of an accepted post (spam included: it looks the same to the sender)."""

    submission_id: str
    spam_reason: str | None
    duplicate: bool


@dataclass(frozen=True)
class RequestInfo:
    """What the web layer knows about the sender (consent evidence and rate limits)."""

    ip: str | None
    user_agent: str | None
    referer: str | None = None


def signup_body(definition: FormDefinition, values: Mapping[str, str]) -> dict[str, Any]:
    """The ``POST /contacts/sign_up_form`` body for a person's own values (CC-V3-FACTS §3.3)."""
    body: dict[str, Any] = {
        "email_address": values["email_address"],
        "list_memberships": list(definition.list_ids),
    }
    custom: list[dict[str, str]] = []
    for f in definition.fields:
        value = values.get(f.name)
        if not value or f.name == "email_address":
            continue
        if f.custom_field_id is not None:
            custom.append({"custom_field_id": f.custom_field_id, "value": value})
        else:
            body[f.name] = value
    if custom:
        body["custom_fields"] = custom
    return body


def payload_hash(form_id: str, values: Mapping[str, str]) -> str:
    """What an idempotency key is bound to: the form and the person's values."""
    canonical = json.dumps({"form": form_id, "values": dict(values)}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


class GroupCommit:
    """Commits the submissions of concurrent requests together, each awaiting its own.

    Requests append to a queue; one flusher at a time takes everything queued, stores it
    in one transaction in a worker thread, and resolves each request's future. While it
    flushes, new requests queue up for the next batch. No request waits on a timer: a lone
    request is flushed at once.
    """

    def __init__(self, outbox: SignupOutbox, *, max_batch: int = 256) -> None:
        self.outbox = outbox
        self.max_batch = max_batch
        self._queue: list[tuple[NewSubmission, asyncio.Future[StoreResult]]] = []
        self._flushing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    async def store(self, item: NewSubmission) -> StoreResult:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests): start afresh
            self._loop, self._queue, self._flushing = loop, [], False
        future: asyncio.Future[StoreResult] = loop.create_future()
        self._queue.append((item, future))
        if not self._flushing:
            self._flushing = True
            self._task = loop.create_task(self._flush())  # referenced so it is not collected
        return await future

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                try:
                    results = await anyio.to_thread.run_sync(
                        self.outbox.store, [item for item, _ in batch]
                    )
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._flushing = False


class _TTLCache:
    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self.seconds = seconds
        self.clock = clock
        self._items: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], Any]) -> Any:
        now = self.clock()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load()
        with self._lock:
            self._items[key] = (now + self.seconds, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class LeadCapture:
    """The lead-capture service: forms, spam defence and the durable accept path."""

    def __init__(
        self,
        db: Database,
        *,
        secret: bytes | Sequence[bytes],
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        settings: LeadSettings | None = None,
        captcha: CaptchaVerifier | None = None,
        on_accepted: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings or LeadSettings()
        self.forms = FormStore(db, clock=clock, account_exists=self._account_exists)
        self.outbox = SignupOutbox(db, clock=clock)
        self.tokens = RenderTokens(secret, clock=clock)
        self.limiter = SlidingWindowLimiter(clock=monotonic)
        self.captcha = captcha
        self.on_accepted = on_accepted
        """Called after each commit of a clean submission (wakes an embedded worker)."""
        self._committer = GroupCommit(self.outbox)
        self._cache = _TTLCache(self.settings.cache_seconds, monotonic)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # -- accounts ---------------------------------------------------------------------------------
    def account_status(self, account_id: str) -> str | None:
        """The linked account's status (active, needs_reauth, disconnected) or None."""
        with self.db.read() as conn:
            value = conn.execute(
                select(linked_accounts.c.status).where(linked_accounts.c.id == account_id)
            ).scalar()
        return str(value) if value is not None else None

    def _account_exists(self, account_id: str) -> bool:
        return self.account_status(account_id) is not None

    # -- the public path ------------------------------------------------------------------------------
    def public_form(self, form_id: str) -> Form:
        """The form a visitor may use, or InputError 404 (unknown/disabled) / 409."""
        form: Form | None = self._cache.get("form:" + form_id, lambda: self.forms.find(form_id))
        if form is None:
            raise InputError(404, f"no signup form has id {form_id!r}")
        if not form.is_active:
            raise InputError(
                404, "this signup form is no longer accepting signups", key="forms.api.disabled"
            )
        status = self._cache.get(
            "account:" + form.account_id, lambda: self.account_status(form.account_id)
        )
        if status in (None, "disconnected"):
            raise InputError(
                409,
                "this signup form is not connected to a Constant Contact account right now; "
                "nothing was recorded",
                key="forms.api.account_disconnected",
            )
        return form

    def check_rate(self, form: Form, ip: str | None) -> float:
        """Seconds to wait (for ``Retry-After``) when a limit is reached, else 0."""
        per_form = Limit(form.definition.rate_limit_per_minute, 60.0)
        wait = self.limiter.hit("form:" + form.id, per_form)
        if wait:
            return wait
        if ip:
            return self.limiter.hit("ip:" + ip, self.settings.per_ip_limit)
        return 0.0

    async def accept(self, form: Form, values: Mapping[str, Any], info: RequestInfo) -> Accepted:
        """Check, store durably, and return the submission id (InputError for bad input)."""
        return await self._accept(form, values, info, group=self.settings.group_commit)

    def accept_sync(self, form: Form, values: Mapping[str, Any], info: RequestInfo) -> Accepted:
        """``accept`` for callers without an event loop (scripts, the CLI, tests)."""
        return asyncio.run(self._accept(form, values, info, group=False))

    async def _accept(
        self, form: Form, values: Mapping[str, Any], info: RequestInfo, *, group: bool
    ) -> Accepted:
        cleaned = clean(form.definition, values)
        spam_reason = check_honeypot(values, HONEYPOT_FIELD)
        if spam_reason is None:
            d = form.definition
            verdict = self.tokens.check(
                cleaned.token, form.id, min_age=d.min_fill_seconds, max_age=d.max_token_age_seconds
            )
            spam_reason = verdict.reason
        if spam_reason is None and form.definition.captcha:
            spam_reason = await self._captcha(cleaned, info)
        item = self._new_submission(form, cleaned, info, spam_reason)
        if group:
            result = await self._committer.store(item)
        else:
            result = (await anyio.to_thread.run_sync(self.outbox.store, [item]))[0]
        if result.conflict:
            raise InputError(
                409,
                "idempotency_key: this key was already used for a different signup; "
                "use a new key for a new signup",
                field="idempotency_key",
                key="forms.api.idempotency_conflict",
            )
        if spam_reason is not None and not result.duplicate:
            log.info(
                "form %s: kept submission %s as spam (%s)",
                form.id,
                result.submission_id,
                spam_reason,
            )
        if spam_reason is None and not result.duplicate and self.on_accepted is not None:
            self.on_accepted()
        return Accepted(result.submission_id, spam_reason, result.duplicate)

    async def _captcha(self, cleaned: CleanSubmission, info: RequestInfo) -> str | None:
        if self.captcha is None:
            return "captcha_unavailable"
        if not cleaned.captcha_response:
            raise InputError(
                400, "captcha_response: please complete the captcha", field="captcha_response"
            )
        try:
            verdict = self.captcha(cleaned.captcha_response, info.ip)
            if inspect.isawaitable(verdict):
                verdict = await verdict
        except Exception as exc:  # the provider is down: keep the signup, flagged for review
            log.warning(
                "captcha verifier failed (%s); submission kept for review", type(exc).__name__
            )
            return "captcha_unchecked"
        if not verdict:
            raise InputError(
                400,
                "captcha_response: the captcha was not solved; please try again",
                field="captcha_response",
            )
        return None

    def _new_submission(
        self, form: Form, cleaned: CleanSubmission, info: RequestInfo, spam_reason: str | None
    ) -> NewSubmission:
        d = form.definition
        return NewSubmission(
            id=str(uuid.uuid4()),
            form_id=form.id,
            account_id=d.account_id,
            email=cleaned.email,
            fields=cleaned.fields,
            list_ids=d.list_ids,
            consent_text=d.consent_text,
            consent_version=form.consent_version,
            consented_at=self.now(),
            ip=info.ip,
            user_agent=(info.user_agent or "")[:MAX_USER_AGENT] or None,
            page_url=cleaned.page_url or info.referer,
            spam_reason=spam_reason,
            idempotency_key=cleaned.idempotency_key,
            payload_hash=payload_hash(form.id, cleaned.fields),
            payload=signup_body(d, cleaned.fields),
        )

    def forget_cached(self) -> None:
        """Drop cached forms and account statuses (after an admin change in this process)."""
        self._cache.clear()

    # -- admin operations (the admin API, the dashboard and the CLI share these) -------------
    def create_form(self, definition: FormDefinition | Mapping[str, Any]) -> Form:
        """A new form (``FormDefinitionError`` names what is wrong with the definition)."""
        return self.forms.create(definition)

    def update_form(self, form_id: str, changes: Mapping[str, Any]) -> Form:
        """Change a form; the public endpoints of this process see the change at once."""
        form = self.forms.update(form_id, changes)
        self.forget_cached()
        return form

    def set_form_active(self, form_id: str, active: bool) -> Form:
        """Resume (True) or stop (False) accepting signups on a form."""
        form = self.forms.enable(form_id) if active else self.forms.disable(form_id)
        self.forget_cached()
        return form

    def retry_dead(self, *, ids: Sequence[str] | None = None, form_id: str | None = None) -> int:
        """Put dead letters back in line (after their cause was fixed) and wake a worker."""
        count = self.outbox.retry_dead(ids=ids, form_id=form_id)
        if count:
            self._wake()
        return count

    def approve(self, submission_id: str) -> str:
        """Deliver a flagged submission after all (``LookupError`` when unknown)."""
        delivery_id = self.outbox.approve(submission_id)
        self._wake()
        return delivery_id

    def _wake(self) -> None:
        if self.on_accepted is not None:
            self.on_accepted()
