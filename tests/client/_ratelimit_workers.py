"""Process entry points for the multi-process rate-limiter tests (importable under spawn)."""

from __future__ import annotations

from typing import Any

from ccbridge import RateLimiter, RedisBackend, SQLiteBackend


def acquire_many(
    backend_kind: str, location: str, prefix: str, key: str, count: int, start: Any, out: Any
) -> None:
    """Take ``count`` slots for ``key`` and report the start times the backend recorded.

    Every worker waits at the ``start`` barrier first, so they compete for the same slots.
    """
    if backend_kind == "sqlite":
        backend: Any = SQLiteBackend(location)
    else:
        backend = RedisBackend(location, prefix=prefix, server_time=True)
    limiter = RateLimiter(backend)
    start.wait(timeout=60)
    try:
        out.put([limiter.acquire(key) for _ in range(count)])
    finally:
        limiter.close()
