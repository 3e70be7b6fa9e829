"""Today's CC API budget: how many of the client_id's daily requests are spent.

CC counts requests per client_id per UTC day (10,000 by default) and the client's rate
limiter counts them the same way before each request leaves, in the backend the service
shares between its processes (a SQLite file on one machine, Redis across machines). This
module reads that count without taking a slot.

The limiter has no public read of its count yet, so each backend's storage is read here
(its layout is documented in ``ccbridge._ratelimit``); ``RateLimiter.used_today`` is used
instead as soon as it exists.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ccbridge._ratelimit import DAY, MemoryBackend, RateLimiter, RedisBackend, SQLiteBackend


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
    reader = getattr(limiter, "used_today", None)
    if callable(reader):
        return int(reader(key))
    backend = limiter.backend
    day = int(limiter.clock() // DAY)
    if isinstance(backend, MemoryBackend):
        with backend._lock:
            counted_day, used = backend._days.get(key, (day, 0))
        return used if counted_day == day else 0
    if isinstance(backend, SQLiteBackend):
        conn = sqlite3.connect(backend.path, timeout=backend.busy_timeout)
        try:
            row = conn.execute(
                "SELECT used FROM ccbridge_rate_days WHERE key = ? AND day = ?", (key, day)
            ).fetchone()
        finally:
            conn.close()
        return int(row[0]) if row else 0
    if isinstance(backend, RedisBackend):
        if backend.server_time:
            seconds, _micro = backend.redis.time()
            day = int(int(seconds) // DAY)
        value = backend.redis.get(f"{backend.keys_for(key)[1]}:{day}")
        return int(value) if value is not None else 0
    return 0


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
