"""Delivering stored signups to CC: ``POST /contacts/sign_up_form``, at least once.

``DeliveryWorker`` takes leased batches from the ``SignupOutbox`` and sends each row's
stored body with the linked account's ``Client`` — the same client, and so the same
shared rate limiter (memory, SQLite or Redis), as the rest of ccbridge, so deliveries
never push the application past CC's 4 requests/s and 10,000/day.

What each outcome does (CC-V3-FACTS §2, §3.3):

- 200/201: delivered; CC's ``contact_id`` and ``action`` (created/updated) are recorded.
- 400/404/403/415: CC refused the data or the application; retrying cannot help. The row
  goes to the dead-letter state with CC's messages as the reason, until someone fixes the
  cause and retries it (CLI ``ccbridge forms retry-dead`` or the admin API).
- 409 (CC: someone else is changing the same contact right now): tried again soon.
- 5xx, timeouts, broken connections, 429 after the client's own retries: tried again with
  exponential backoff and jitter, and counted against the account's circuit breaker;
  after ``breaker_threshold`` failures in a row the account's deliveries pause for a
  growing, jittered time, for every worker (the pause is a database row).
- The daily quota is used up: the row waits until the quota resets (00:00 UTC).
- The account needs re-authorisation or was disconnected: the row is handed back without
  counting an attempt; the outbox does not claim rows of inactive accounts, so they are
  held until the owner connects the account again.

Only rows created from a person's own submission exist in the outbox, so this worker
never sends an admin's data through ``sign_up_form`` (which sets explicit permission,
CC-V3-FACTS §8).
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ccbridge._client import Client
from ccbridge._errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    OAuthError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    UnsupportedMediaTypeError,
)
from ccbridge.leads.outbox import Claim, SignupOutbox

log = logging.getLogger("ccbridge.leads.delivery")

ClientFactory = Callable[[str], Client]
"""linked account id → a ``Client`` for it (with the application's shared rate limiter)."""

DELIVERED = "delivered"
RETRY = "retry"
DEAD = "dead"
HELD = "held"
PAUSED = "paused"
LOST = "lost_lease"


@dataclass(frozen=True)
class DeliveryPolicy:
    """Leases, retries, the circuit breaker and idle polling, in seconds."""

    lease_seconds: float = 120.0
    batch_size: int = 10
    retry_base: float = 2.0
    retry_max: float = 3600.0
    max_attempts: int = 200
    """Transient failures are retried this many times (days at the maximum backoff)."""
    conflict_delay: float = 2.0
    breaker_threshold: int = 3
    breaker_base: float = 5.0
    breaker_max: float = 300.0
    hold_delay: float = 30.0
    idle_min: float = 0.05
    idle_max: float = 2.0

    def retry_delay(self, attempts: int, rng: random.Random) -> float:
        """Exponential with 'equal jitter': half fixed, half random, capped at retry_max."""
        ceiling = min(self.retry_max, self.retry_base * 2.0 ** max(attempts - 1, 0))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    def breaker_pause(self, failures: int, rng: random.Random) -> float | None:
        if failures < self.breaker_threshold:
            return None
        pause = min(
            self.breaker_max, self.breaker_base * 2.0 ** (failures - self.breaker_threshold)
        )
        return pause * rng.uniform(0.8, 1.2)


@dataclass(frozen=True)
class Verdict:
    """How to treat a failed send: ``kind`` is retry, dead, held or quota."""

    kind: str
    reason: str
    counts_against_account: bool = False
    resets_at: Any = None


def _cc_reason(exc: APIError) -> str:
    detail = "; ".join(f"{e.error_key}: {e.error_message}" for e in exc.errors)
    return f"CC answered HTTP {exc.status}" + (f" ({detail})" if detail else "")


def classify(exc: BaseException) -> Verdict:
    """Sort a failure of ``sign_up_form`` into what to do next."""
    from ccbridge.oauth.errors import LinkedAccountError, TokenRefreshRetriableError

    if isinstance(exc, QuotaExceededError):
        return Verdict("quota", str(exc), resets_at=exc.resets_at)
    if isinstance(
        exc, BadRequestError | NotFoundError | PermissionDeniedError | UnsupportedMediaTypeError
    ):
        return Verdict(DEAD, _cc_reason(exc))
    if isinstance(exc, ConflictError):
        return Verdict("conflict", _cc_reason(exc))
    if isinstance(exc, TokenRefreshRetriableError):
        return Verdict(RETRY, f"token refresh could not reach CC ({type(exc).__name__})", True)
    if isinstance(exc, AuthenticationError | OAuthError | LinkedAccountError):
        return Verdict(HELD, f"the account cannot authenticate ({type(exc).__name__})")
    if isinstance(exc, RateLimitError):
        return Verdict(RETRY, _cc_reason(exc), True)
    if isinstance(exc, APIError):
        return Verdict(RETRY, _cc_reason(exc), exc.status >= 500)
    if isinstance(exc, APIConnectionError):
        return Verdict(RETRY, f"CC could not be reached ({type(exc).__name__})", True)
    return Verdict(RETRY, f"unexpected {type(exc).__name__}: {exc}", False)


class DeliveryWorker:
    """One delivery loop. Run several (threads or processes) against the same outbox."""

    def __init__(
        self,
        outbox: SignupOutbox,
        client_for: ClientFactory,
        *,
        worker_id: str | None = None,
        policy: DeliveryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.client_for = client_for
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:8]}"
        self.policy = policy or DeliveryPolicy()
        self.rng = rng or random.Random()
        self._clients: dict[str, Client] = {}
        self._wake = threading.Event()
        self.stop_event = threading.Event()
        self.stats: dict[str, int] = {}

    # -- one batch ----------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Claim one batch and deliver it; returns how many rows were claimed."""
        p = self.policy
        claims = self.outbox.claim(
            self.worker_id, limit=p.batch_size, lease_seconds=p.lease_seconds
        )
        paused: dict[str, Any] = {}
        for index, claim in enumerate(claims):
            if self.stop_event.is_set():
                for rest in claims[index:]:  # shutting down: hand the rest back at once
                    self.outbox.release(rest, until=self.outbox.now())
                break
            if claim.account_id in paused:
                self._count(PAUSED)
                self.outbox.release(claim, until=paused[claim.account_id])
                continue
            outcome = self.deliver(claim)
            if outcome == PAUSED:
                until = self.outbox.pause_of(claim.account_id)
                if until is not None:
                    paused[claim.account_id] = until
        return len(claims)

    def _count(self, outcome: str) -> None:
        self.stats[outcome] = self.stats.get(outcome, 0) + 1

    def _client(self, account_id: str) -> Client:
        client = self._clients.get(account_id)
        if client is None:
            client = self._clients[account_id] = self.client_for(account_id)
        return client

    def deliver(self, claim: Claim) -> str:
        """Send one claimed row and record the outcome; returns what happened."""
        if claim.lease_expires_at - self.outbox.now() < timedelta(
            seconds=self.policy.lease_seconds / 4
        ):
            # Too little lease left to send safely: give it back rather than risk a double.
            self.outbox.release(claim, until=self.outbox.now())
            return LOST
        try:
            answer = self._client(claim.account_id).contacts.create_or_update_contact(
                body=claim.payload
            )
        except Exception as exc:
            outcome = self._failed(claim, exc)
        else:
            outcome = self._succeeded(claim, answer)
        self._count(outcome)
        return outcome

    def _succeeded(self, claim: Claim, answer: Any) -> str:
        data = answer if isinstance(answer, dict) else {}
        contact_id = data.get("contact_id")
        action = data.get("action")
        kept = self.outbox.complete(
            claim,
            worker_id=self.worker_id,
            contact_id=contact_id if isinstance(contact_id, str) else None,
            action=action if isinstance(action, str) else None,
        )
        self.outbox.record_success(claim.account_id)
        if not kept:
            log.warning("delivery %s: lease lost before the result was recorded", claim.id)
            return LOST
        return DELIVERED

    def _failed(self, claim: Claim, exc: BaseException) -> str:
        verdict = classify(exc)
        p = self.policy
        if verdict.kind == DEAD:
            log.warning("delivery %s is dead: %s", claim.id, verdict.reason)
            self.outbox.bury(claim, reason=verdict.reason)
            return DEAD
        if verdict.kind == HELD:
            self._clients.pop(claim.account_id, None)
            self.outbox.release(
                claim,
                until=self.outbox.now() + timedelta(seconds=p.hold_delay),
                note=verdict.reason,
            )
            return HELD
        if verdict.kind == "quota":
            self.outbox.release(claim, until=verdict.resets_at, note=verdict.reason)
            return PAUSED
        if verdict.kind == "conflict":
            self.outbox.retry_later(claim, error=verdict.reason, delay=p.conflict_delay)
            return RETRY
        if claim.attempts + 1 >= p.max_attempts:
            reason = f"gave up after {claim.attempts + 1} attempts; last error: {verdict.reason}"
            self.outbox.bury(claim, reason=reason)
            return DEAD
        if verdict.counts_against_account:
            pause = self.outbox.record_failure(
                claim.account_id, verdict.reason, pause_for=lambda n: p.breaker_pause(n, self.rng)
            )
        else:
            pause = None
        delay = p.retry_delay(claim.attempts + 1, self.rng)
        if pause is not None:
            delay = max(delay, pause)
        log.info("delivery %s: will retry in %.1fs (%s)", claim.id, delay, verdict.reason)
        self.outbox.retry_later(claim, error=verdict.reason, delay=delay)
        return PAUSED if pause is not None else RETRY

    # -- the loop -------------------------------------------------------------------------------------
    def wake(self) -> None:
        """Something new is due: stop idling now (called after an accepted signup)."""
        self._wake.set()

    def idle_wait(self, idle: float) -> float:
        """How long to idle: until the next due row, within [idle_min, idle]."""
        due = self.outbox.next_due_at()
        if due is None:
            return idle
        seconds = (due - self.outbox.now()).total_seconds()
        if seconds <= 0:  # due but not claimable (a paused account): keep backing off
            return idle
        return min(idle, max(self.policy.idle_min, seconds))

    def run(self) -> None:
        """Deliver until ``stop()``; an empty outbox backs off to ``idle_max`` between looks."""
        p = self.policy
        idle = p.idle_min
        try:
            while not self.stop_event.is_set():
                try:
                    claimed = self.run_once()
                except Exception:
                    log.exception("delivery worker %s: a batch failed; retrying", self.worker_id)
                    claimed = 0
                if claimed:
                    idle = p.idle_min
                    continue
                self._wake.wait(self.idle_wait(idle))
                if self._wake.is_set():
                    self._wake.clear()
                    idle = p.idle_min
                else:
                    idle = min(p.idle_max, idle * 2)
        finally:
            self.close()

    def stop(self) -> None:
        self.stop_event.set()
        self._wake.set()

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
