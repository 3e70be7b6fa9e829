"""CC's per-application rate limits, on the sandbox clock.

CC counts requests per API key (client_id), shared by every account that key serves:
4 requests in any second and 10,000 per UTC day; its token endpoint allows 1 request per
second (CC-V3-FACTS §2, §1.5). Requests that are refused do not count, so a client that
backs off after a 429 is not punished twice.

Time is the sandbox clock's epoch seconds, so a test frees a throttled client by advancing
the clock one second, and reaches the daily reset by advancing it to 00:00 UTC.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

DAY_SECONDS = 86_400

Verdict = Literal["throttled", "quota"] | None
"""None when the request is allowed; otherwise which limit refused it."""


@dataclass
class _ClientWindow:
    recent: deque[float] = field(default_factory=deque)  # times of allowed requests, last 1 s
    day: int = -1  # the UTC day (days since the epoch) that ``day_count`` belongs to
    day_count: int = 0


class RateLimiter:
    """A sliding one-second window plus a per-UTC-day counter, per client_id."""

    def __init__(self, per_second: int, per_day: int | None) -> None:
        self.per_second = per_second
        self.per_day = per_day
        self._clients: dict[str, _ClientWindow] = {}

    def configure(self, per_second: int, per_day: int | None) -> None:
        """Change the limits without forgetting what was already counted today."""
        self.per_second = per_second
        self.per_day = per_day

    def check(self, client_id: str, now: float) -> Verdict:
        """Count one request at ``now``; None if allowed, else 'throttled' or 'quota'."""
        window = self._clients.setdefault(client_id, _ClientWindow())
        day = int(now // DAY_SECONDS)
        if day != window.day:
            window.day = day
            window.day_count = 0
        if self.per_day is not None and window.day_count >= self.per_day:
            return "quota"
        while window.recent and window.recent[0] <= now - 1.0:
            window.recent.popleft()
        if len(window.recent) >= self.per_second:
            return "throttled"
        window.recent.append(now)
        window.day_count += 1
        return None

    def used_today(self, client_id: str, now: float) -> int:
        window = self._clients.get(client_id)
        if window is None or window.day != int(now // DAY_SECONDS):
            return 0
        return window.day_count

    @staticmethod
    def day_resets_at(now: float) -> float:
        """Epoch seconds of the next 00:00 UTC, when the daily count starts again."""
        return (int(now // DAY_SECONDS) + 1) * DAY_SECONDS

    def reset(self) -> None:
        self._clients.clear()
