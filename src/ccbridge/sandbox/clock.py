"""The sandbox clock: real time plus an offset that the control plane can advance.

Every expiry (codes, tokens, refresh-token idleness), every rate-limit window and every
bulk-activity progression reads this clock, so tests can jump 24 hours or 180 days ahead
without sleeping.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class SandboxClock:
    def __init__(self, offset_seconds: float = 0.0) -> None:
        self.offset_seconds = offset_seconds

    def time(self) -> float:
        """Seconds since the epoch on the sandbox clock."""
        return time.time() + self.offset_seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self.offset_seconds += seconds
        return self.now()


def iso(dt: datetime | None) -> str | None:
    """CC's timestamp format: ISO-8601 in UTC with milliseconds and a Z."""
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def iso_date(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(UTC).strftime("%Y-%m-%d")


def parse_iso(value: str) -> datetime:
    """Parse an ISO-8601 date or date-time; naive values are taken as UTC.

    Raises ValueError with the offending value when it is not ISO-8601.
    """
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{value}' is not an ISO-8601 date-time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def seconds_until_utc_midnight(now: datetime) -> float:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()
