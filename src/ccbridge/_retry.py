"""When to try a request again, and how long to wait first: a small pure policy.

The rule that matters most: a request that may already have changed something at CC is
not sent twice. Reads, PUTs and DELETEs are idempotent, and so is
``POST /contacts/sign_up_form`` (it is keyed by email, CC-V3-FACTS §3/§11), so those are
retried after timeouts, broken connections and 5xx answers. Any other POST is retried only
when the connection failed before the request left (nothing can have happened at CC), or
when CC answered 429 ``throttled`` (CC refuses a throttled request before acting on it).

Waits grow exponentially with full jitter, so many clients that failed together do not
retry together. CC sends no ``Retry-After``; its throttling window is one second, so a
throttled request waits at least that long. The policy takes a random generator and
returns a number of seconds: it neither sleeps nor reads a clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

from ccbridge._errors import InvalidArgumentError

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
IDEMPOTENT_POSTS = frozenset({"/contacts/sign_up_form"})
"""POST paths (relative to the API base) that are safe to repeat."""

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
"""501 is not here: an operation that is not implemented will not become implemented."""

THROTTLED_KEYS = frozenset({"throttled", ""})
"""429 error keys that mean "slow down" (an empty key: a 429 with no readable body)."""

_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def is_idempotent(method: str, path: str) -> bool:
    """Whether sending this request twice has the same effect as sending it once."""
    method = method.upper()
    return method in IDEMPOTENT_METHODS or (method == "POST" and path in IDEMPOTENT_POSTS)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to try and how long to wait; ``max_attempts`` counts the first try."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    throttle_delay: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidArgumentError("max_attempts must be at least 1 (the first try)")
        if self.base_delay < 0 or self.max_delay < 0 or self.throttle_delay < 0:
            raise InvalidArgumentError("retry delays must not be negative")

    @classmethod
    def from_max_retries(cls, max_retries: int) -> RetryPolicy:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidArgumentError("max_retries must be a non-negative integer")
        return cls(max_attempts=max_retries + 1)

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max_delay, base_delay * 2**(attempt-1)))."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(attempt - 1, 0)))
        return rng.uniform(0.0, ceiling)

    def delay_after_error(
        self, exc: httpx.TransportError, attempt: int, method: str, path: str, rng: random.Random
    ) -> float | None:
        """Seconds to wait before trying again after a transport failure, or None to give up."""
        if attempt >= self.max_attempts:
            return None
        if isinstance(exc, _NEVER_SENT) or is_idempotent(method, path):
            return self.backoff(attempt, rng)
        return None

    def delay_after_status(
        self,
        status: int,
        error_key: str | None,
        attempt: int,
        method: str,
        path: str,
        rng: random.Random,
        retry_after: float | None = None,
    ) -> float | None:
        """Seconds to wait before trying again after an error status, or None to give up."""
        if attempt >= self.max_attempts:
            return None
        if status == 429:
            if (error_key or "") not in THROTTLED_KEYS:
                return None  # a daily quota or the queued-activity cap: waiting seconds won't help
            floor = retry_after if retry_after is not None else self.throttle_delay
            return min(self.max_delay, floor + self.backoff(attempt, rng))
        if status in RETRYABLE_STATUSES and is_idempotent(method, path):
            return self.backoff(attempt, rng)
        return None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds; None when absent or a date."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
