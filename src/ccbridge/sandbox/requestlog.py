"""The sandbox's request log, with every secret redacted before it is stored."""

from __future__ import annotations

from collections import deque
from typing import Any

SECRET_NAMES = frozenset(
    {
        "code",
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "client_secret",
        "code_verifier",
        "device_code",
        "user_code",
        "password",
        "authorization",
        "state",
    }
)
REDACTED = "[redacted]"


def redact_pairs(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in pairs:
        out[key] = REDACTED if key.lower() in SECRET_NAMES else value
    return out


class RequestLog:
    def __init__(self, max_entries: int = 5_000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._next_id = 1

    def add(self, entry: dict[str, Any]) -> None:
        entry["id"] = self._next_id
        self._next_id += 1
        self._entries.append(entry)

    def entries(self, since_id: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        items = [e for e in self._entries if e["id"] > since_id]
        return items[-limit:] if limit else items

    def clear(self) -> None:
        self._entries.clear()
