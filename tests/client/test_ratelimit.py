"""Client-side pacing to CC's limits: 4 starts per second, 10,000 per UTC day (CC-V3-FACTS §2).

Each backend is checked the same way: several workers share one budget and the recorded
start times never put more than 4 starts in any one-second window. Threads run on a fake
clock (no waiting); the multi-process tests run in real time and assert only counts per
window, never durations.
"""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ccbridge import (
    InvalidArgumentError,
    MemoryBackend,
    QuotaExceededError,
    RateLimitBackend,
    RateLimiter,
    RedisBackend,
    SQLiteBackend,
)
from ccbridge._ratelimit import backend_from_url, process_memory_backend
from tests.client._ratelimit_workers import acquire_many
from tests.client.conftest import FakeClock


def most_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The largest number of starts inside any half-open window [t, t + window)."""
    ordered = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(ordered):
        while t - ordered[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


@pytest.fixture
def redis_backend(cc_redis_url: str) -> Iterator[RedisBackend]:
    prefix = f"ccbridge-test:{uuid.uuid4().hex}:"
    backend = RedisBackend(cc_redis_url, prefix=prefix, server_time=False)
    yield backend
    for key in backend.redis.scan_iter(match=prefix + "*"):
        backend.redis.delete(key)
    backend.close()


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RateLimitBackend]:
    if request.param == "memory":
        yield MemoryBackend()
    elif request.param == "sqlite":
        sqlite = SQLiteBackend(tmp_path / "limits.db")
        yield sqlite
        sqlite.close()
    else:
        yield request.getfixturevalue("redis_backend")


def test_one_caller_never_exceeds_four_per_second(
    backend: RateLimitBackend, fake_clock: FakeClock
) -> None:
    limiter = RateLimiter(backend, clock=fake_clock)
    starts = [limiter.acquire("app-1", sleep=fake_clock.sleep) for _ in range(20)]
    assert most_in_any_window(starts) == 4
    # ...and it does not over-throttle: 20 starts fit in five windows of 1 s + margin.
    assert starts[-1] - starts[0] <= 4 * 1.1 + 1e-6


def test_threads_sharing_a_backend_never_exceed_four_per_second(
    backend: RateLimitBackend, fake_clock: FakeClock
) -> None:
    limiter = RateLimiter(backend, clock=fake_clock)
    starts: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            started = limiter.acquire("shared-app", sleep=fake_clock.sleep)
            with lock:
                starts.append(started)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(starts) == 30
    assert most_in_any_window(starts) <= 4


def test_budgets_are_per_client_id(backend: RateLimitBackend, fake_clock: FakeClock) -> None:
    limiter = RateLimiter(backend, clock=fake_clock)
    for _ in range(4):
        limiter.acquire("app-a", sleep=fake_clock.sleep)
    # app-a's four starts do not delay app-b's.
    assert limiter.try_acquire("app-b").admitted
    assert not limiter.try_acquire("app-a").admitted
    assert fake_clock.sleeps == []


def test_daily_quota_raises_with_the_reset_time_until_midnight_utc(
    backend: RateLimitBackend,
) -> None:
    clock = FakeClock(datetime(2025, 5, 6, 23, 59, 0, tzinfo=UTC).timestamp())
    limiter = RateLimiter(backend, per_day=5, clock=clock)
    for _ in range(5):
        limiter.acquire("app-q", sleep=clock.sleep)
    with pytest.raises(QuotaExceededError) as caught:
        limiter.acquire("app-q", sleep=clock.sleep)
    assert caught.value.resets_at == datetime(2025, 5, 7, tzinfo=UTC)
    assert caught.value.status == 429
    assert "app-q" in str(caught.value)
    assert limiter.used_today("app-q") == 5  # the refused one does not count
    clock.sleep(61)  # past 00:00 UTC: a new day, a new quota
    assert limiter.used_today("app-q") == 0
    assert limiter.try_acquire("app-q").admitted
    assert limiter.used_today("app-q") == 1


async def test_async_acquire_paces_too(backend: RateLimitBackend, fake_clock: FakeClock) -> None:
    limiter = RateLimiter(backend, clock=fake_clock)
    starts = [
        await limiter.acquire_async("app-async", sleep=fake_clock.async_sleep) for _ in range(9)
    ]
    assert most_in_any_window(starts) == 4
    assert len(fake_clock.sleeps) >= 2


def _run_processes(
    kind: str, location: str, prefix: str, processes: int, each: int
) -> list[list[float]]:
    """Each worker's recorded start times; the workers start together (a barrier)."""
    ctx = multiprocessing.get_context("spawn")
    queue: Any = ctx.Queue()
    start = ctx.Barrier(processes)
    key = f"proc-{uuid.uuid4().hex}"
    workers = [
        ctx.Process(target=acquire_many, args=(kind, location, prefix, key, each, start, queue))
        for _ in range(processes)
    ]
    for w in workers:
        w.start()
    per_worker = [queue.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=30)
        assert w.exitcode == 0
    return per_worker


def _check_shared_budget(per_worker: list[list[float]], expected: int) -> None:
    starts = [t for worker in per_worker for t in worker]
    assert len(starts) == expected
    assert most_in_any_window(starts) <= 4


def test_processes_sharing_a_sqlite_file_never_exceed_four_per_second(tmp_path: Path) -> None:
    per_worker = _run_processes("sqlite", str(tmp_path / "shared.db"), "", processes=3, each=5)
    _check_shared_budget(per_worker, 15)


@pytest.mark.redis
def test_processes_sharing_redis_never_exceed_four_per_second(cc_redis_url: str) -> None:
    prefix = f"ccbridge-test:{uuid.uuid4().hex}:"
    try:
        per_worker = _run_processes("redis", cc_redis_url, prefix, processes=3, each=5)
    finally:
        import redis

        client = redis.Redis.from_url(cc_redis_url)
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()
    _check_shared_budget(per_worker, 15)


def test_backend_urls(tmp_path: Path) -> None:
    assert backend_from_url("memory") is process_memory_backend()
    sqlite = backend_from_url(f"sqlite:///{tmp_path}/x.db")
    assert isinstance(sqlite, SQLiteBackend) and sqlite.path == f"{tmp_path}/x.db"
    sqlite.close()
    with pytest.raises(InvalidArgumentError, match="unknown backend 'postgres'"):
        backend_from_url("postgres://localhost/db")
    with pytest.raises(InvalidArgumentError, match="per_second"):
        RateLimiter(MemoryBackend(), per_second=0)
