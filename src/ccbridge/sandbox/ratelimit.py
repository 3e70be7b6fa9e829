"""CC's per-application rate limits, on the sandbox clock.

CC counts requests per API key (client_id), shared by every account that key serves:
4 requests in any second and 10,000 per UTC day; its token endpoint allows 1 request per
second (CC-V3-FACTS §2, §1.5). Requests that are refused do not count.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class _ClientWindow:
    recent: deque[float] = field(default_factory=deque)
    day: int = -1
    day_count: int = 0


class RateLimiter:
    def __init__(self, per_second: int, per_day: int | None) -> None:
        self.per_second = per_second
        self.per_day = per_day
        self._clients: dict[str, _ClientWindow] = {}

    def check(self, client_id: str, now: float) -> str | None:
        """Count one request at ``now``; return None if allowed, else 'throttled' or 'quota'."""
        window = self._clients.setdefault(client_id, _ClientWindow())
        day = int(now // 86_400)
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
        if window is None or window.day != int(now // 86_400):
            return 0
        return window.day_count

    def reset(self) -> None:
        self._clients.clear()
