"""Constant Contact's error shapes, as the sandbox produces them.

CC answers most errors with a JSON *array* of ``{error_key, error_message}``; 401 and
429 come back as a *single object* (CC-V3-FACTS §2). OAuth endpoints use RFC 6749's
``{error, error_description}``. Raising one of these anywhere in a handler produces the
right body; the dispatcher turns any other exception into a CC-shaped 500.
"""

from __future__ import annotations

import json


class CCError(Exception):
    """An error answered in CC's ``{error_key, error_message}`` shape."""

    def __init__(
        self, status: int, error_key: str, error_message: str, *, single_object: bool = False
    ) -> None:
        super().__init__(f"{status} {error_key}: {error_message}")
        self.status = status
        self.error_key = error_key
        self.error_message = error_message
        self.single_object = single_object

    def body(self) -> bytes:
        item = {"error_key": self.error_key, "error_message": self.error_message}
        payload: object = item if self.single_object else [item]
        return json.dumps(payload).encode("utf-8")

    # -- the errors CC commonly answers with --------------------------------
    @classmethod
    def bad_request(cls, area: str, message: str) -> CCError:
        return cls(400, f"{area}.api.validation.error", message)

    @classmethod
    def not_found(cls, area: str, message: str) -> CCError:
        return cls(404, f"{area}.api.not_found", message)

    @classmethod
    def conflict(cls, area: str, message: str) -> CCError:
        return cls(409, f"{area}.api.conflict", message)

    @classmethod
    def forbidden(cls, message: str = "Forbidden") -> CCError:
        return cls(403, "forbidden", message)

    @classmethod
    def unsupported_media_type(cls, area: str, message: str) -> CCError:
        return cls(415, f"{area}.api.unsupported_media_type", message)

    @classmethod
    def unauthorized(cls) -> CCError:
        return cls(401, "unauthorized", "Unauthorized", single_object=True)

    @classmethod
    def throttled(cls) -> CCError:
        return cls(429, "throttled", "Too Many Requests", single_object=True)

    @classmethod
    def quota_exceeded(cls) -> CCError:
        # CC distinguishes daily-quota exhaustion from per-second throttling in the body.
        return cls(
            429,
            "quota_exceeded",
            "Daily request quota exceeded; it resets at 00:00 UTC.",
            single_object=True,
        )

    @classmethod
    def not_implemented(cls, operation_id: str, method: str, path: str) -> CCError:
        return cls(
            501,
            "sandbox.not_implemented",
            f"The sandbox knows CC operation '{operation_id}' ({method} {path}) but does not "
            "emulate it yet.",
        )


class OAuthError(Exception):
    """An OAuth2 error answered as ``{"error", "error_description"}`` (RFC 6749 §5.2)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> bytes:
        return json.dumps({"error": self.error, "error_description": self.description}).encode(
            "utf-8"
        )
