"""The sandbox's request log, and the redaction that keeps secrets out of it and out of logs.

The log (``GET /_sandbox/requests``) lets a test see what its code sent: method, path,
query, status, which client and account called, which faults fired. It never holds a
header, a body or a token: query values whose names mark them as secrets are replaced
before the entry is stored. ``scrub_secrets`` does the same for free text, so a traceback
logged for a sandbox bug cannot leak the bearer token or client secret of the request
that triggered it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from ccbridge.sandbox.http import SandboxRequest

SECRET_NAMES = frozenset(
    {
        "code",
        "access_token",
        "refresh_token",
        "id_token",
        "id_token_hint",
        "token",
        "client_secret",
        "client_assertion",
        "assertion",
        "code_verifier",
        "device_code",
        "user_code",
        "password",
        "passwd",
        "authorization",
        "state",
        "api_key",
        "apikey",
        "x-api-key",
        "session",
    }
)
"""Parameter names whose values are secrets (matched case-insensitively)."""

_SECRET_WORDS = ("token", "secret", "password", "session")
"""Any parameter whose name contains one of these is treated as a secret too."""

REDACTED = "[redacted]"

# Shapes of the sandbox's own credentials: JWTs, and the opaque refresh/access-token ids.
_CREDENTIAL_RE = re.compile(
    r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*|\b(?:RT|AT|ID)\.[A-Za-z0-9_-]{16,}"
)


_API_PATH_NAMES = frozenset({"state"})
"""Names that are OAuth secrets but ordinary filters on CC's API (``/v3/activities?state=``)."""


def is_secret_name(name: str, path: str = "") -> bool:
    lowered = name.lower()
    if path.startswith("/v3/") and lowered in _API_PATH_NAMES:
        return False
    return lowered in SECRET_NAMES or any(word in lowered for word in _SECRET_WORDS)


def redact_pairs(pairs: list[tuple[str, str]], path: str = "") -> dict[str, str]:
    """Query pairs as a dict with every secret value replaced (first value of each name)."""
    out: dict[str, str] = {}
    for key, value in pairs:
        if key not in out:
            out[key] = REDACTED if is_secret_name(key, path) else value
    return out


def _authorization_secrets(header: str) -> list[str]:
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    found = [header.strip(), credentials]
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return found
        _user, _, password = decoded.partition(":")
        found.append(password)
    return found


def request_secrets(request: SandboxRequest) -> list[str]:
    """Every secret value a request carries: credentials in headers, query and form body."""
    found: list[str] = []
    for name, value in request.headers.items():
        if name == "authorization":
            found.extend(_authorization_secrets(value))
        elif is_secret_name(name) or name == "cookie":
            found.append(value)
    pairs = list(request.query)
    if request.media_type == "application/x-www-form-urlencoded" and request.body:
        with contextlib.suppress(UnicodeDecodeError):
            pairs.extend(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
    found.extend(value for key, value in pairs if is_secret_name(key))
    # Longest first, so a secret that contains another is replaced whole.
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


def scrub_secrets(text: str, request: SandboxRequest | None = None) -> str:
    """``text`` with the request's secrets, and anything shaped like a token, redacted."""
    if request is not None:
        for secret in request_secrets(request):
            text = text.replace(secret, REDACTED)
    return _CREDENTIAL_RE.sub(REDACTED, text)


class RequestLog:
    """The most recent requests (5,000 by default), oldest first, each with a rising id."""

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
