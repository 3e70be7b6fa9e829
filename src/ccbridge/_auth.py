"""Where the client gets its bearer token, and how it gets a new one after a 401.

The client never holds a token itself: it asks a ``TokenSource``. On a 401 it calls
``refresh(rejected)`` once with the token CC refused and retries once with whatever comes
back. Passing the refused token lets a source that is shared by many callers refresh only
once: whoever comes second sees that the current token is already a different one.

``StaticToken`` wraps a token string (and cannot refresh). ``RefreshingTokenSource`` keeps
an access token fresh with a refresh token at CC's token endpoint; the linked-accounts vault
will provide a source backed by its database through the same protocol.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import anyio.to_thread
import httpx

from ccbridge._errors import APIConnectionError, InvalidArgumentError, OAuthError

DEFAULT_TOKEN_URL = "https://authz.constantcontact.com/oauth2/default/v1/token"

REFRESH_MARGIN = 300.0
"""Refresh this many seconds before expiry, not after a 401 at the worst moment."""

TOKEN_ENDPOINT_ATTEMPTS = 3
TOKEN_ENDPOINT_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""CC's token endpoint allows one request per second per client_id (CC-V3-FACTS §1.5):
a 429 there means "wait a second", not "this refresh token is dead"."""


@runtime_checkable
class TokenSource(Protocol):
    """Supplies bearer tokens; sync and async callers each have their pair of methods."""

    def get_token(self) -> str: ...

    def refresh(self, rejected: str | None = None) -> str:
        """A token to use after ``rejected`` was refused (the same one if none is better)."""
        ...

    async def aget_token(self) -> str: ...

    async def arefresh(self, rejected: str | None = None) -> str: ...


class StaticToken:
    """A fixed access token. It cannot be refreshed, so a 401 is final."""

    def __init__(self, access_token: str) -> None:
        if not isinstance(access_token, str) or not access_token.strip():
            raise InvalidArgumentError("token must be a non-empty access token string")
        self._token = access_token.strip()

    def get_token(self) -> str:
        return self._token

    def refresh(self, rejected: str | None = None) -> str:
        return self._token

    async def aget_token(self) -> str:
        return self._token

    async def arefresh(self, rejected: str | None = None) -> str:
        return self._token

    def __repr__(self) -> str:
        return "StaticToken(access_token='***')"


@dataclass(frozen=True)
class TokenSet:
    """The tokens from one token-endpoint answer. ``expires_at`` is epoch seconds."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    scope: str | None = None
    token_type: str = "Bearer"
    id_token: str | None = None

    @classmethod
    def from_response(cls, data: Any, now: float, previous_refresh: str | None) -> TokenSet:
        """Parse CC's token response; ``expires_in`` is a duration (CC-V3-FACTS §1.4)."""
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise OAuthError("invalid_response", "the token response has no access_token")
        expires_in = data.get("expires_in")
        expires_at = None
        if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool):
            expires_at = now + float(expires_in)
        refresh = data.get("refresh_token")
        return cls(
            access_token=data["access_token"],
            # Long-lived refresh tokens may be omitted or repeated; keep the one we had.
            refresh_token=refresh if isinstance(refresh, str) and refresh else previous_refresh,
            expires_at=expires_at,
            scope=data.get("scope") if isinstance(data.get("scope"), str) else None,
            token_type=str(data.get("token_type") or "Bearer"),
            id_token=data.get("id_token") if isinstance(data.get("id_token"), str) else None,
        )

    def __repr__(self) -> str:
        return f"TokenSet(access_token='***', refresh_token='***', expires_at={self.expires_at!r})"


TokenCallback = Callable[[TokenSet], None]


class RefreshingTokenSource:
    """Keeps an access token fresh with a refresh token (the OAuth2 refresh grant).

    - Refreshes ``margin`` seconds before expiry, or after a 401.
    - One refresh at a time: a lock serialises refreshes, and a caller whose rejected token
      is no longer current takes the new token instead of refreshing again (CC's token
      endpoint allows one request per second, and rotating refresh tokens are single-use).
    - ``on_token`` is called with every new ``TokenSet`` *before* the new access token is
      used. With rotating refresh tokens the old one is dead the moment CC answers, so the
      new one must be stored first. If ``on_token`` raises, the new tokens are kept aside
      and persisting is tried again before they are handed out.
    - ``client_secret`` may be None for PKCE apps; the client_id then goes in the form body.
    - A 429 or 5xx from the token endpoint, or a connection that never opened, is retried
      after a second (``sleep``), up to three attempts; an OAuth error such as
      ``invalid_grant`` is raised at once as ``OAuthError``.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str | None,
        refresh_token: str,
        access_token: str | None = None,
        expires_at: float | None = None,
        token_url: str = DEFAULT_TOKEN_URL,
        on_token: TokenCallback | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        for name, value in (("client_id", client_id), ("refresh_token", refresh_token)):
            if not isinstance(value, str) or not value:
                raise InvalidArgumentError(f"{name} must be a non-empty string")
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_url = token_url
        self._on_token = on_token
        self._transport = transport
        self._timeout = timeout
        self._margin = margin
        self._clock = clock
        self._sleep = sleep
        self._current = TokenSet(access_token, refresh_token, expires_at) if access_token else None
        self._refresh_token = refresh_token
        self._unpersisted: TokenSet | None = None
        self._lock = threading.Lock()

    # -- the TokenSource protocol ----------------------------------------------------------
    def get_token(self) -> str:
        with self._lock:
            self._persist_pending()
            current = self._current
            if current is not None and not self._due(current):
                return current.access_token
            return self._refresh_locked()

    def refresh(self, rejected: str | None = None) -> str:
        with self._lock:
            self._persist_pending()
            current = self._current
            if current is not None and rejected is not None and current.access_token != rejected:
                return current.access_token  # someone else refreshed meanwhile
            return self._refresh_locked()

    async def aget_token(self) -> str:
        # The sync path runs in a worker thread: one lock then covers threads and tasks.
        return await anyio.to_thread.run_sync(self.get_token)

    async def arefresh(self, rejected: str | None = None) -> str:
        return await anyio.to_thread.run_sync(self.refresh, rejected)

    # -- internals --------------------------------------------------------------------
    @property
    def tokens(self) -> TokenSet | None:
        """The tokens in use (None before the first refresh when none were given)."""
        return self._current

    def _due(self, tokens: TokenSet) -> bool:
        return tokens.expires_at is not None and tokens.expires_at - self._margin <= self._clock()

    def _persist_pending(self) -> None:
        pending = self._unpersisted
        if pending is None:
            return
        if self._on_token is not None:
            self._on_token(pending)
        self._current = pending
        self._unpersisted = None

    def _refresh_locked(self) -> str:
        tokens = self._request_tokens()
        if tokens.refresh_token:
            self._refresh_token = tokens.refresh_token
        self._unpersisted = tokens
        self._persist_pending()
        return tokens.access_token

    def _request_tokens(self) -> TokenSet:
        form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        headers = {"Accept": "application/json"}
        if self._client_secret is not None:
            pair = f"{self.client_id}:{self._client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            form["client_id"] = self.client_id
        with httpx.Client(transport=self._transport, timeout=self._timeout) as http:
            for attempt in range(1, TOKEN_ENDPOINT_ATTEMPTS + 1):
                last = attempt == TOKEN_ENDPOINT_ATTEMPTS
                try:
                    response = http.post(self.token_url, data=form, headers=headers)
                except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    if last:
                        raise APIConnectionError(
                            f"the token endpoint could not be reached: {type(exc).__name__}"
                        ) from None
                except httpx.TimeoutException as exc:
                    # It may have rotated the refresh token already: do not send it again.
                    raise APIConnectionError(
                        f"the token endpoint timed out: {type(exc).__name__}"
                    ) from None
                except httpx.TransportError as exc:
                    raise APIConnectionError(
                        f"the token endpoint connection failed: {type(exc).__name__}"
                    ) from None
                else:
                    if last or response.status_code not in TOKEN_ENDPOINT_RETRY_STATUSES:
                        return parse_token_response(response, self._clock(), self._refresh_token)
                self._sleep(1.0)
        raise AssertionError("unreachable")  # pragma: no cover

    def __repr__(self) -> str:
        return f"RefreshingTokenSource(client_id={self.client_id!r}, token_url={self.token_url!r})"


def parse_token_response(
    response: httpx.Response, now: float, previous_refresh: str | None
) -> TokenSet:
    """A ``TokenSet`` from a token-endpoint response, or ``OAuthError`` for an error answer."""
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        data = None
    if response.status_code >= 400 or data is None:
        error, description = "invalid_response", f"HTTP {response.status_code}"
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            error = data["error"]
            description = str(data.get("error_description") or "")
        raise OAuthError(error, description or None, status=response.status_code)
    return TokenSet.from_response(data, now, previous_refresh)


def client_id_from_jwt(token: str) -> str | None:
    """The ``cid`` claim of a CC access token, read without verifying the signature.

    Only used to key the rate limiter when no client_id was given; nothing is trusted.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, UnicodeDecodeError):
        return None
    cid = claims.get("cid") if isinstance(claims, dict) else None
    return cid if isinstance(cid, str) and cid else None


def as_token_source(token: str | TokenSource) -> TokenSource:
    if isinstance(token, str):
        return StaticToken(token)
    if isinstance(token, TokenSource):
        return token
    raise InvalidArgumentError(
        f"token must be an access token string or a TokenSource (got {type(token).__name__})"
    )
