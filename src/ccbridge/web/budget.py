"""Today's CC API budget: how many of the client_id's daily requests are spent.

CC counts requests per client_id per UTC day (10,000 by default) and the client's rate
limiter counts them the same way before each request leaves, in the backend the service
shares between its processes (a SQLite file on one machine, Redis across machines). This
module reads that count without taking a slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ccbridge._ratelimit import DAY, RateLimiter, RedisBackend, SQLiteBackend


@dataclass(frozen=True)
class Budget:
    client_id: str
    used: int
    daily_limit: int | None
    resets_at: datetime
    shared_by: str

    @property
    def remaining(self) -> int | None:
        return None if self.daily_limit is None else max(self.daily_limit - self.used, 0)

    @property
    def percent_used(self) -> float:
        if not self.daily_limit:
            return 0.0
        return min(100.0, 100.0 * self.used / self.daily_limit)

    def to_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "used_today": self.used,
            "daily_limit": self.daily_limit,
            "remaining": self.remaining,
            "resets_at": self.resets_at.isoformat(),
            "shared_by": self.shared_by,
        }


def used_today(limiter: RateLimiter, key: str) -> int:
    """Requests admitted for ``key`` since 00:00 UTC, as the limiter counted them."""
    return limiter.used_today(key)


def read_budget(limiter: RateLimiter, client_id: str) -> Budget:
    now = limiter.clock()
    resets = datetime.fromtimestamp((int(now // DAY) + 1) * DAY, UTC)
    backend = limiter.backend
    shared_by = (
        "every process using this Redis"
        if isinstance(backend, RedisBackend)
        else f"every process on this machine ({backend.path})"
        if isinstance(backend, SQLiteBackend)
        else "this process only"
    )
    return Budget(
        client_id, used_today(limiter, client_id), limiter.limits.per_day, resets, shared_by
    )
