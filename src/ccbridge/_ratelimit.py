"""CC's per-application request limits, enforced before a request leaves.

CC counts requests per API key (client_id), whichever account or token they serve:
4 per second and 10,000 per UTC day, and answers 429 beyond either (CC-V3-FACTS §2). A
well-behaved program should never see that 429, so the client asks a ``RateLimiter`` for
a slot before every attempt. The limiter keeps a sliding-window log of start times: a
request may start only while fewer than ``per_second`` others started within the last
``window + margin`` seconds. The margin absorbs the difference between our clock and CC's
and the jitter of the network in between.

The log lives in a backend, chosen by how widely the budget is shared:

- ``MemoryBackend``: one process (thread- and asyncio-safe); the default.
- ``SQLiteBackend``: every process on one machine, through one SQLite file; each decision
  is one ``BEGIN IMMEDIATE`` transaction, so two processes cannot both take the last slot.
- ``RedisBackend``: every machine, through one Redis; each decision is one Lua script,
  which Redis runs atomically. By default the script reads Redis's own clock, so machines
  whose clocks disagree still share one timeline.

Daily usage is counted in the same step. When the day's quota is used up the limiter raises
``QuotaExceededError`` (with ``resets_at``, the next 00:00 UTC) without calling CC.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import anyio
import anyio.to_thread

from ccbridge._errors import InvalidArgumentError, QuotaExceededError

Clock = Callable[[], float]
"""Seconds since the epoch (wall-clock time: UTC days and other processes depend on it)."""

DAY = 86_400

KEEP_STARTS = 60.0
"""Seconds a start stays in the log. Far longer than the window, so a decision made with a
slightly stale clock reading (Redis with client clocks) still sees every start it must count."""


@dataclass(frozen=True)
class RateLimits:
    """CC's standard limits. Partner keys get 10/s and 250,000/day (CC-V3-FACTS §2)."""

    per_second: int = 4
    per_day: int | None = 10_000
    window: float = 1.0
    margin: float = 0.1

    def __post_init__(self) -> None:
        if self.per_second < 1:
            raise InvalidArgumentError("per_second must be at least 1")
        if self.per_day is not None and self.per_day < 1:
            raise InvalidArgumentError("per_day must be at least 1 (or None for no daily quota)")
        if self.window <= 0 or self.margin < 0:
            raise InvalidArgumentError("window must be positive and margin not negative")

    @property
    def span(self) -> float:
        """The window the limiter actually enforces: CC's plus the safety margin."""
        return self.window + self.margin


@dataclass(frozen=True)
class Admission:
    """A backend's verdict for one request.

    Admitted: ``admitted_at`` is the clock reading the start was recorded at. Not admitted:
    either ``wait`` seconds until a slot may free, or ``quota_resets_at`` (epoch seconds)
    when the day's quota is used up.
    """

    admitted_at: float | None
    wait: float = 0.0
    quota_resets_at: float | None = None

    @property
    def admitted(self) -> bool:
        return self.admitted_at is not None


class RateLimitBackend(Protocol):
    """Where the start log lives. ``try_acquire`` must decide and record atomically."""

    blocking: bool
    """True when ``try_acquire`` does I/O; async callers then run it in a worker thread."""

    def try_acquire(self, key: str, limits: RateLimits, clock: Clock) -> Admission: ...

    def used_today(self, key: str, clock: Clock) -> int:
        """Requests admitted for ``key`` since 00:00 UTC, read without taking a slot."""
        ...

    def close(self) -> None: ...


def _verdict(window_starts: list[float], now: float, limits: RateLimits) -> float:
    """Seconds to wait for a free slot, given the sorted starts inside the window (0 = free)."""
    excess = len(window_starts) - limits.per_second
    if excess < 0:
        return 0.0
    # Once the (excess+1)-th oldest start leaves the window, one slot is free.
    return max(window_starts[excess] + limits.span - now, 1e-3)


class MemoryBackend:
    """The start log in this process's memory. One lock makes each decision atomic."""

    blocking = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._starts: dict[str, deque[float]] = {}
        self._days: dict[str, tuple[int, int]] = {}

    def try_acquire(self, key: str, limits: RateLimits, clock: Clock) -> Admission:
        with self._lock:
            now = clock()  # read under the lock, so recorded starts are in order
            day = int(now // DAY)
            used_day, used = self._days.get(key, (day, 0))
            if used_day != day:
                used = 0
            if limits.per_day is not None and used >= limits.per_day:
                return Admission(None, quota_resets_at=float((day + 1) * DAY))
            starts = self._starts.setdefault(key, deque())
            while starts and starts[0] <= now - KEEP_STARTS:
                starts.popleft()
            in_window = sorted(t for t in starts if t > now - limits.span)
            wait = _verdict(in_window, now, limits)
            if wait:
                return Admission(None, wait=wait)
            starts.append(now)
            self._days[key] = (day, used + 1)
            return Admission(now)

    def used_today(self, key: str, clock: Clock) -> int:
        with self._lock:
            day = int(clock() // DAY)
            counted_day, used = self._days.get(key, (day, 0))
            return used if counted_day == day else 0

    def close(self) -> None:
        pass


_process_backend: MemoryBackend | None = None
_process_backend_lock = threading.Lock()


def process_memory_backend() -> MemoryBackend:
    """The backend every client of this process shares by default (one budget per client_id)."""
    global _process_backend
    with _process_backend_lock:
        if _process_backend is None:
            _process_backend = MemoryBackend()
        return _process_backend


class SQLiteBackend:
    """The start log in a SQLite file shared by every process on one machine.

    One table holds the starts of every client_id (keyed by it, with an index), one the
    daily counts. ``BEGIN IMMEDIATE`` takes SQLite's write lock before reading, so the read
    and the insert form one decision across processes.
    """

    blocking = True

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self.path = str(path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._create_schema()

    def _connection(self) -> sqlite3.Connection:
        # sqlite3 connections must not be shared between threads: one per thread.
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,  # used by one thread, but close() may come from another
            )
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _create_schema(self) -> None:
        conn = self._connection()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS ccbridge_rate_starts (key TEXT NOT NULL, t REAL NOT NULL)"
            )
            conn.execute(
                "CREATE INDEX IF NOT EXISTS ccbridge_rate_starts_key_t "
                "ON ccbridge_rate_starts (key, t)"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS ccbridge_rate_days "
                "(key TEXT NOT NULL, day INTEGER NOT NULL, used INTEGER NOT NULL, "
                "PRIMARY KEY (key, day))"
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def try_acquire(self, key: str, limits: RateLimits, clock: Clock) -> Admission:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            admission = self._decide(conn, key, limits, clock())
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return admission

    def _decide(
        self, conn: sqlite3.Connection, key: str, limits: RateLimits, now: float
    ) -> Admission:
        day = int(now // DAY)
        row = conn.execute(
            "SELECT used FROM ccbridge_rate_days WHERE key = ? AND day = ?", (key, day)
        ).fetchone()
        used = int(row[0]) if row else 0
        if limits.per_day is not None and used >= limits.per_day:
            return Admission(None, quota_resets_at=float((day + 1) * DAY))
        conn.execute(
            "DELETE FROM ccbridge_rate_starts WHERE key = ? AND t <= ?",
            (key, now - KEEP_STARTS),
        )
        in_window = [
            float(t)
            for (t,) in conn.execute(
                "SELECT t FROM ccbridge_rate_starts WHERE key = ? AND t > ? ORDER BY t",
                (key, now - limits.span),
            )
        ]
        wait = _verdict(in_window, now, limits)
        if wait:
            return Admission(None, wait=wait)
        conn.execute("INSERT INTO ccbridge_rate_starts (key, t) VALUES (?, ?)", (key, now))
        conn.execute(
            "INSERT INTO ccbridge_rate_days (key, day, used) VALUES (?, ?, 1) "
            "ON CONFLICT (key, day) DO UPDATE SET used = used + 1",
            (key, day),
        )
        conn.execute("DELETE FROM ccbridge_rate_days WHERE key = ? AND day < ?", (key, day - 1))
        return Admission(now)

    def used_today(self, key: str, clock: Clock) -> int:
        row = (
            self._connection()
            .execute(
                "SELECT used FROM ccbridge_rate_days WHERE key = ? AND day = ?",
                (key, int(clock() // DAY)),
            )
            .fetchone()
        )
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


_REDIS_SCRIPT = """
local per_second = tonumber(ARGV[1])
local per_day = tonumber(ARGV[2])
local span = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local day = math.floor(now / 86400)
local day_key = KEYS[2] .. ':' .. day
if per_day >= 0 then
  local used = tonumber(redis.call('GET', day_key) or '0')
  if used >= per_day then
    return {0, '0', string.format('%d', (day + 1) * 86400)}
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.6f', now - tonumber(ARGV[6])))
local floor = string.format('(%.6f', now - span)
local count = redis.call('ZCOUNT', KEYS[1], floor, '+inf')
if count >= per_second then
  local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], floor, '+inf', 'WITHSCORES',
                            'LIMIT', count - per_second, 1)
  local wait = tonumber(oldest[2]) + span - now
  if wait < 0.001 then wait = 0.001 end
  return {0, string.format('%.6f', wait), ''}
end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[6]) * 1000) + 1000)
redis.call('INCR', day_key)
redis.call('EXPIRE', day_key, 2 * 86400)
return {1, string.format('%.6f', now), ''}
"""


class RedisBackend:
    """The start log in Redis, shared by every machine that uses the same Redis.

    Keys are ``<prefix>{<client_id>}:starts`` (a sorted set of start times) and
    ``<prefix>{<client_id>}:day:<n>`` (a counter); the braces keep one client's keys in one
    Redis Cluster slot. With ``server_time`` (the default) Redis's clock decides, so the
    machines' own clocks need not agree; pass ``server_time=False`` to use the limiter's
    clock instead (tests with a fake clock do).
    """

    blocking = True

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "ccbridge:ratelimit:",
        server_time: bool = True,
        client: Any = None,
    ) -> None:
        if client is None:
            try:
                import redis
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise InvalidArgumentError(
                    "the Redis rate-limit backend needs the 'redis' package: "
                    "pip install 'ccbridge[redis]'"
                ) from exc
            client = redis.Redis.from_url(url)
        self.redis = client
        self.prefix = prefix
        self.server_time = server_time
        self._script = client.register_script(_REDIS_SCRIPT)

    def keys_for(self, key: str) -> tuple[str, str]:
        base = f"{self.prefix}{{{key}}}"
        return f"{base}:starts", f"{base}:day"

    def try_acquire(self, key: str, limits: RateLimits, clock: Clock) -> Admission:
        now = "" if self.server_time else repr(clock())
        nonce = secrets.token_hex(8)  # set members must be unique even at the same instant
        result = self._script(
            keys=list(self.keys_for(key)),
            args=[
                limits.per_second,
                -1 if limits.per_day is None else limits.per_day,
                repr(limits.span),
                now,
                nonce,
                repr(KEEP_STARTS),
            ],
        )
        admitted, value, resets = (_text(v) for v in result)
        if int(admitted) == 1:
            return Admission(float(value))
        if resets:
            return Admission(None, quota_resets_at=float(resets))
        return Admission(None, wait=float(value))

    def used_today(self, key: str, clock: Clock) -> int:
        if self.server_time:
            seconds, _micros = self.redis.time()
            now = float(seconds)
        else:
            now = clock()
        value = self.redis.get(f"{self.keys_for(key)[1]}:{int(now // DAY)}")
        return int(value) if value is not None else 0

    def close(self) -> None:
        self.redis.close()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RateLimiter:
    """Paces requests to CC's limits for each client_id, on a chosen backend.

    ``acquire``/``acquire_async`` wait (with the sleep function they are given) until a
    request may start and return the recorded start time; they raise
    ``QuotaExceededError`` when the day's quota is used up.
    """

    def __init__(
        self,
        backend: RateLimitBackend | None = None,
        *,
        per_second: int = 4,
        per_day: int | None = 10_000,
        margin: float = 0.1,
        clock: Clock = time.time,
    ) -> None:
        self.backend: RateLimitBackend = backend or process_memory_backend()
        self.limits = RateLimits(per_second=per_second, per_day=per_day, margin=margin)
        self.clock = clock

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RateLimiter:
        """``memory``, ``sqlite:///relative.db`` / ``sqlite:////absolute.db`` or ``redis://…``."""
        return cls(backend_from_url(url), **kwargs)

    def try_acquire(self, key: str) -> Admission:
        """One non-waiting attempt; raises ``QuotaExceededError`` when the day is used up."""
        admission = self.backend.try_acquire(key, self.limits, self.clock)
        self._raise_if_quota(key, admission)
        return admission

    def used_today(self, key: str) -> int:
        """Requests admitted for ``key`` since 00:00 UTC (on this limiter's backend)."""
        return self.backend.used_today(key, self.clock)

    def acquire(self, key: str, sleep: Callable[[float], None] = time.sleep) -> float:
        while True:
            admission = self.try_acquire(key)
            if admission.admitted_at is not None:
                return admission.admitted_at
            sleep(admission.wait)

    async def acquire_async(
        self, key: str, sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    ) -> float:
        while True:
            if self.backend.blocking:
                admission = await anyio.to_thread.run_sync(
                    self.backend.try_acquire, key, self.limits, self.clock
                )
            else:
                admission = self.backend.try_acquire(key, self.limits, self.clock)
            self._raise_if_quota(key, admission)
            if admission.admitted_at is not None:
                return admission.admitted_at
            await sleep(admission.wait)

    def _raise_if_quota(self, key: str, admission: Admission) -> None:
        if admission.quota_resets_at is None:
            return
        resets_at = datetime.fromtimestamp(admission.quota_resets_at, tz=UTC)
        raise QuotaExceededError(
            429,
            resets_at=resets_at,
            summary=(
                f"the daily quota of {self.limits.per_day} requests for client_id {key!r} is "
                f"used up (counted by ccbridge; no request was sent); it resets at "
                f"{resets_at.isoformat()}"
            ),
        )

    def close(self) -> None:
        self.backend.close()


def backend_from_url(url: str) -> RateLimitBackend:
    if url == "memory":
        return process_memory_backend()
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path:
            raise InvalidArgumentError("rate_limit: a sqlite URL needs a file path")
        return SQLiteBackend(path)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBackend(url)
    raise InvalidArgumentError(
        f"rate_limit: unknown backend {url.split(':', 1)[0]!r}; "
        "use 'memory', 'sqlite:///path' or 'redis://host:port/db'"
    )
