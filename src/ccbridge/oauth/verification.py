"""Checking that an access token really is CC's and was issued to this client.

CC's guidance is to validate a new token's claims and expiry whenever one arrives
(CC-V3-FACTS §1.6). ccbridge does so at link time, before anything is stored: RS256
signature with the key the header's ``kid`` names in the issuer's JWKS, then ``iss``,
``aud`` (``https://api.cc.email/v3``), ``exp`` (60 s leeway, as CC's PHP SDK uses), ``cid``
(must be our client_id), and a ``sub`` and ``platform_user_id`` to identify the account.

The JWKS is cached; an unknown ``kid`` refetches it once (the server may have rotated its
signing key), but not more often than once a minute, so a flood of forged tokens cannot
turn into a flood of JWKS requests.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from ccbridge.oauth.errors import TokenVerificationError
from ccbridge.oauth.protocol import Endpoints

LEEWAY = 60.0
JWKS_TTL = 3600.0
REFETCH_MIN_INTERVAL = 60.0


@dataclass(frozen=True)
class AccessTokenClaims:
    """The verified claims ccbridge uses to identify a linked account."""

    subject: str
    platform_user_id: str | None
    client_id: str
    expires_at: float
    scopes: tuple[str, ...]
    raw: dict[str, Any]


class JWKSCache:
    """The issuer's key set, fetched lazily and refreshed when a new ``kid`` shows up."""

    def __init__(
        self,
        jwks_url: str,
        http: httpx.Client,
        *,
        ttl: float = JWKS_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jwks_url = jwks_url
        self._http = http
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._kids: frozenset[str] = frozenset()
        self._fetched_at = -1e18

    def key_set(self, kid: str | None) -> KeySet:
        with self._lock:
            now = self._clock()
            stale = self._keys is None or now - self._fetched_at > self._ttl
            unknown = kid is not None and kid not in self._kids
            if stale or (unknown and now - self._fetched_at >= REFETCH_MIN_INTERVAL):
                self._fetch(now)
            assert self._keys is not None
            return self._keys

    def _fetch(self, now: float) -> None:
        try:
            response = self._http.get(self.jwks_url, headers={"Accept": "application/json"})
            data = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            if self._keys is not None:
                return  # keep verifying with the keys we have
            raise TokenVerificationError(
                "jwks", f"the JWKS at {self.jwks_url} could not be fetched ({type(exc).__name__})"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            if self._keys is not None:
                return
            raise TokenVerificationError("jwks", f"the JWKS at {self.jwks_url} is not a key set")
        keys = [k for k in data["keys"] if isinstance(k, dict) and k.get("kty") == "RSA"]
        self._keys = KeySet.import_key_set({"keys": keys})
        self._kids = frozenset(str(k.get("kid")) for k in keys if k.get("kid"))
        self._fetched_at = now


def _header_kid(token: str) -> str | None:
    # Read without verifying, only to pick the key; the signature is checked next.
    parts = token.split(".")
    try:
        if len(parts) != 3:
            raise ValueError("not three segments")
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
        if not isinstance(header, dict):
            raise ValueError("header is not an object")
    except (ValueError, UnicodeDecodeError):
        raise TokenVerificationError("malformed", "the access token is not a JWT") from None
    if header.get("alg") != "RS256":
        raise TokenVerificationError(
            "signature", f"the access token is signed with {header.get('alg')!r}, not RS256"
        )
    kid = header.get("kid")
    return str(kid) if kid else None


def verify_access_token(
    token: str,
    *,
    endpoints: Endpoints,
    client_id: str,
    jwks: JWKSCache,
    now: float,
    leeway: float = LEEWAY,
) -> AccessTokenClaims:
    """The token's claims if it is valid for ``client_id``; ``TokenVerificationError`` if not."""
    kid = _header_kid(token)
    try:
        decoded = jwt.decode(token, jwks.key_set(kid), algorithms=["RS256"])
    except (BadSignatureError, InvalidKeyIdError):
        raise TokenVerificationError(
            "signature", "the access token's signature does not verify with the issuer's keys"
        ) from None
    except (JoseError, ValueError):
        raise TokenVerificationError("malformed", "the access token cannot be decoded") from None
    claims = dict(decoded.claims)
    if claims.get("iss") != endpoints.issuer:
        raise TokenVerificationError(
            "issuer",
            f"the access token's issuer is {claims.get('iss')!r}, not {endpoints.issuer!r}",
        )
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if endpoints.audience not in audiences:
        raise TokenVerificationError(
            "audience", f"the access token's audience is {audience!r}, not {endpoints.audience!r}"
        )
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise TokenVerificationError("claims", "the access token has no expiry (exp)")
    if exp + leeway <= now:
        raise TokenVerificationError("expired", "the access token has already expired")
    if claims.get("cid") != client_id:
        raise TokenVerificationError(
            "client_id", "the access token was issued to another client (cid does not match)"
        )
    subject = claims.get("sub")
    platform_user_id = claims.get("platform_user_id")
    if not isinstance(subject, str) or not subject:
        raise TokenVerificationError("claims", "the access token has no subject (sub)")
    if not isinstance(platform_user_id, str) or not platform_user_id:
        raise TokenVerificationError("claims", "the access token has no platform_user_id")
    scopes = claims.get("scp")
    return AccessTokenClaims(
        subject=subject,
        platform_user_id=platform_user_id,
        client_id=client_id,
        expires_at=float(exp),
        scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
        raw=claims,
    )
