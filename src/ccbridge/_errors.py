"""The one exception tree of ccbridge, and the one function that maps a response to it.

Every failure a caller can see derives from ``CCBridgeError``, so ``except CCBridgeError``
is always enough. HTTP failures carry what is needed to act on them or report them: the
status, CC's ``error_key``/``error_message`` pairs (CC answers most errors with a JSON array
of them, but 401 and 429 with a single object, so both shapes are parsed), the request id
when CC sends one, and the method and path (never the query string, which may carry
personal data, and never a header, which may carry the bearer token).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

REQUEST_ID_HEADERS = (
    "x-request-id",
    "x-correlation-id",
    "x-amzn-requestid",
    "request-id",
)
"""Response headers that may carry an id for the request, tried in this order."""

_BODY_PREVIEW = 500


@dataclass(frozen=True)
class ErrorDetail:
    """One ``{error_key, error_message}`` pair from a CC error body."""

    error_key: str
    error_message: str


class CCBridgeError(Exception):
    """The root of every error ccbridge raises."""


class InvalidArgumentError(CCBridgeError, ValueError):
    """An argument is invalid; raised before any request is sent. The message names it."""


class PaginationError(CCBridgeError):
    """CC's pagination links went wrong (a repeated cursor, or a link to another host)."""


class ResponseParseError(CCBridgeError):
    """A response body could not be parsed; ``body`` holds the raw bytes for diagnosis."""

    def __init__(
        self,
        message: str,
        *,
        body: bytes,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.body = body
        self.status = status
        self.method = method
        self.path = path
        self.request_id = request_id


class APIConnectionError(CCBridgeError):
    """CC could not be reached, or the connection broke before a full answer came back."""

    def __init__(self, message: str, *, method: str | None = None, path: str | None = None):
        super().__init__(message)
        self.method = method
        self.path = path


class APITimeoutError(APIConnectionError):
    """A connect, read, write or pool timeout expired."""


class APIError(CCBridgeError):
    """CC answered with an error status.

    ``errors`` holds every ``error_key``/``error_message`` pair of the body (an empty tuple
    when the body had none); ``error_keys`` and ``messages`` are the same as two lists.
    """

    def __init__(
        self,
        status: int,
        *,
        errors: tuple[ErrorDetail, ...] = (),
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        body: bytes = b"",
        summary: str | None = None,
    ) -> None:
        self.status = status
        self.errors = errors
        self.request_id = request_id
        self.method = method
        self.path = path
        self.body = body
        super().__init__(summary or self._summary())

    @property
    def error_keys(self) -> list[str]:
        return [e.error_key for e in self.errors]

    @property
    def messages(self) -> list[str]:
        return [e.error_message for e in self.errors]

    @property
    def error_key(self) -> str | None:
        """The first error key, the one that usually says it all."""
        return self.errors[0].error_key if self.errors else None

    def _summary(self) -> str:
        where = f" on {self.method} {self.path}" if self.method and self.path else ""
        detail = "; ".join(f"{e.error_key}: {e.error_message}" for e in self.errors)
        if not detail and self.body:
            detail = _preview(self.body)
        rid = f" (request id {self.request_id})" if self.request_id else ""
        return f"HTTP {self.status}{where}" + (f": {detail}" if detail else "") + rid

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, error_keys={self.error_keys!r}, "
            f"method={self.method!r}, path={self.path!r}, request_id={self.request_id!r})"
        )


class BadRequestError(APIError):
    """400: malformed JSON or a failed validation; ``messages`` says which field."""


class AuthenticationError(APIError):
    """401: the access token is invalid, expired or revoked (and a refresh did not help)."""


class PermissionDeniedError(APIError):
    """403: a scope or user privilege is missing, or the application is deactivated."""


class NotFoundError(APIError):
    """404: no such resource (CC also answers 404 for a malformed id)."""


class ConflictError(APIError):
    """409: the change conflicts with existing data, such as a duplicate email or name."""


class UnsupportedMediaTypeError(APIError):
    """415: the request's Content-Type is not what the operation accepts."""


class RateLimitError(APIError):
    """429: too many requests right now (per-second throttling or too many queued activities)."""


class QuotaExceededError(APIError):
    """The application's daily request quota is used up until ``resets_at`` (00:00 UTC).

    Raised for CC's 429 quota answer, and by the client-side rate limiter *instead of*
    sending a request that could only be refused.
    """

    def __init__(self, status: int = 429, *, resets_at: datetime, **kwargs: Any) -> None:
        self.resets_at = resets_at
        super().__init__(status, **kwargs)

    def _summary(self) -> str:
        return super()._summary() + f"; the daily quota resets at {self.resets_at.isoformat()}"


class ServerError(APIError):
    """5xx: CC failed to handle the request."""


class NotImplementedBySandbox(ServerError):
    """501: the ccbridge sandbox knows this operation but does not emulate it yet."""


class OAuthError(CCBridgeError):
    """The OAuth2 token endpoint refused a request (RFC 6749 ``error``/``error_description``)."""

    def __init__(
        self, error: str, error_description: str | None = None, *, status: int | None = None
    ) -> None:
        self.error = error
        self.error_description = error_description
        self.status = status
        text = f"{error}: {error_description}" if error_description else error
        super().__init__(f"OAuth token request failed ({status}): {text}" if status else text)


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    415: UnsupportedMediaTypeError,
    429: RateLimitError,
    501: NotImplementedBySandbox,
}


def next_utc_midnight(now: datetime) -> datetime:
    """When CC's daily quota starts afresh: the next 00:00 UTC after ``now``."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=1)


def parse_error_details(body: bytes) -> tuple[ErrorDetail, ...]:
    """CC's error pairs from either body shape; an empty tuple if the body has none."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return ()
    items = data if isinstance(data, list) else [data]
    details: list[ErrorDetail] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        key = item.get("error_key")
        message = item.get("error_message")
        if key is None and message is None:
            # Some gateways answer in the OAuth shape even on API routes.
            key, message = item.get("error"), item.get("error_description") or item.get("message")
        if key is not None or message is not None:
            details.append(ErrorDetail(str(key or ""), str(message or "")))
    return tuple(details)


def request_id_of(headers: httpx.Headers) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return str(value)
    return None


def _is_quota(details: tuple[ErrorDetail, ...]) -> bool:
    text = " ".join(f"{d.error_key} {d.error_message}" for d in details).lower()
    return "quota" in text or "per day" in text or "daily" in text


def error_from_response(
    response: httpx.Response,
    *,
    method: str | None = None,
    path: str | None = None,
    now: datetime | None = None,
) -> APIError:
    """The exception for an error response (status >= 400) whose body has been read.

    ``now`` (default: the current time) dates a daily-quota error's ``resets_at``.
    """
    status = response.status_code
    body = response.content
    details = parse_error_details(body)
    common: dict[str, Any] = {
        "errors": details,
        "request_id": request_id_of(response.headers),
        "method": method,
        "path": path,
        "body": body,
    }
    if status == 429 and _is_quota(details):
        return QuotaExceededError(
            status, resets_at=next_utc_midnight(now or datetime.now(UTC)), **common
        )
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else APIError
    return cls(status, **common)


def _preview(body: bytes) -> str:
    text = body[:_BODY_PREVIEW].decode("utf-8", errors="replace")
    return text + ("…" if len(body) > _BODY_PREVIEW else "")
