"""One structured log record per HTTP attempt, and hooks for metrics.

Records go to the ``ccbridge.client`` logger with the fields as attributes (``method``,
``path``, ``status``, ``duration_ms``, ``request_id``, ``attempt``, ``operation_id``,
``error``), so a JSON formatter or structlog can emit them as they are. The path never
carries the query string (it can hold email addresses or cursors) and nothing from the
headers is logged, so no bearer token or secret can reach a log. Metrics code subscribes
with ``on_request``/``on_response`` callables instead of parsing logs; a failing hook is
logged and ignored, never allowed to break an API call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

log = logging.getLogger("ccbridge.client")

SECRET_PARAMS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "code",
        "code_verifier",
        "client_secret",
        "device_code",
        "password",
        "api_key",
        "state",
    }
)
REDACTED = "[redacted]"


@dataclass(frozen=True)
class RequestEvent:
    """An attempt is about to be sent."""

    method: str
    path: str
    attempt: int
    operation_id: str | None = None


@dataclass(frozen=True)
class ResponseEvent:
    """An attempt finished: with a status, or with a transport error (``status`` None)."""

    method: str
    path: str
    attempt: int
    status: int | None
    duration_ms: float
    request_id: str | None = None
    operation_id: str | None = None
    error: str | None = None
    will_retry: bool = False
    refreshing_token: bool = False


RequestHook = Callable[[RequestEvent], None]
ResponseHook = Callable[[ResponseEvent], None]


def redact_url(url: str) -> str:
    """A URL safe to show: secret query values replaced (used where a query is kept)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = [
        (k, REDACTED if k.lower() in SECRET_PARAMS else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(pairs)))


def emit_request(hooks: Sequence[RequestHook], event: RequestEvent) -> None:
    for hook in hooks:
        _call_hook(hook, event)


def emit_response(hooks: Sequence[ResponseHook], event: ResponseEvent) -> None:
    fields: dict[str, Any] = {
        "method": event.method,
        "path": event.path,
        "status": event.status,
        "duration_ms": event.duration_ms,
        "request_id": event.request_id,
        "attempt": event.attempt,
        "operation_id": event.operation_id,
        "error": event.error,
        "will_retry": event.will_retry,
        "refreshing_token": event.refreshing_token,
    }
    outcome = str(event.status) if event.status is not None else (event.error or "error")
    level = logging.INFO
    if event.will_retry or event.status is None or event.status >= 500:
        level = logging.WARNING
    note = ", will retry" if event.will_retry else ""
    if event.refreshing_token:
        note = ", refreshing the token"
    log.log(
        level,
        "%s %s -> %s in %.1f ms (attempt %d%s)",
        event.method,
        event.path,
        outcome,
        event.duration_ms,
        event.attempt,
        note,
        extra=fields,
    )
    for hook in hooks:
        _call_hook(hook, event)


def _call_hook(hook: Callable[[Any], None], event: object) -> None:
    try:
        hook(event)
    except Exception:
        log.exception("a ccbridge metrics hook failed; the API call goes on")
