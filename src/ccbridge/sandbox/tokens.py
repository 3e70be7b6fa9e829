"""Minting and checking the sandbox's OAuth tokens.

Access tokens are RS256 JWTs with the claims CC's own tokens carry (``cid``,
``platform_user_id``, ``aud``, ``sub``, ``iss``, ``exp``, ``iat``, ``scp``), signed with a key
published as a JWKS. Refresh tokens are opaque random strings tracked in the state, so
that rotation, revocation and the 180-day idle expiry can be enforced exactly.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from ccbridge.sandbox.clock import SandboxClock
from ccbridge.sandbox.state import (
    AccessTokenRecord,
    App,
    RefreshTokenRecord,
    SandboxState,
    new_id,
)

AUDIENCE = "https://api.cc.email/v3"
OFFLINE_ACCESS = "offline_access"

_key_lock = threading.Lock()
_process_key_pem: bytes | None = None


def _generate_key_pem() -> bytes:
    """One RSA key per process: generating 2048-bit keys for every test would be slow."""
    global _process_key_pem
    with _key_lock:
        if _process_key_pem is None:
            key = RSAKey.generate_key(2048, private=True)
            _process_key_pem = key.as_pem(private=True)
        return _process_key_pem


class TokenIssuer:
    """Signs and verifies the sandbox's JWTs and keeps the token records in the state."""

    def __init__(self, issuer: str, key_pem: bytes | None = None) -> None:
        self.issuer = issuer
        self.key_pem = key_pem or _generate_key_pem()
        self._key = RSAKey.import_key(self.key_pem)
        self.kid = self._key.thumbprint()
        self._verified: dict[str, dict[str, Any]] = {}

    # -- JWKS ------------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        public = self._key.as_dict(private=False)
        public.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [public]}

    # -- signing ----------------------------------------------------------------
    def _sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        return jwt.encode(header, claims, self._key)

    def mint_access_token(
        self,
        state: SandboxState,
        clock: SandboxClock,
        app: App,
        account_id: str,
        scope: str,
        *,
        lifetime: int,
        family_id: str | None = None,
    ) -> str:
        now = int(clock.time())
        jti = "AT." + secrets.token_urlsafe(24)
        claims = {
            "ver": 1,
            "jti": jti,
            "iss": self.issuer,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + lifetime,
            "cid": app.client_id,
            "uid": account_id,
            "scp": [s for s in scope.split() if s],
            "auth_time": now,
            "sub": account_id,
            "platform_user_id": account_id,
        }
        state.access_tokens[jti] = AccessTokenRecord(
            jti=jti,
            client_id=app.client_id,
            account_id=account_id,
            scope=scope,
            expires_at=now + lifetime,
            family_id=family_id,
        )
        return self._sign(claims)

    def mint_id_token(self, clock: SandboxClock, app: App, account_id: str, email: str) -> str:
        now = int(clock.time())
        return self._sign(
            {
                "sub": account_id,
                "ver": 1,
                "iss": self.issuer,
                "aud": app.client_id,
                "iat": now,
                "exp": now + 3600,
                "jti": "ID." + secrets.token_urlsafe(16),
                "amr": ["pwd"],
                "idp": "sandbox",
                "auth_time": now,
                "email": email,
            }
        )

    # -- verification ------------------------------------------------------------
    def verify_access_token(
        self, state: SandboxState, clock: SandboxClock, token: str
    ) -> AccessTokenRecord | None:
        """The live record behind a bearer token, or None if it is bad, expired or revoked."""
        claims = self._verified.get(token)
        if claims is None:
            try:
                decoded = jwt.decode(token, self._key, algorithms=["RS256"])
            except (JoseError, ValueError):
                return None
            claims = decoded.claims
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[token] = claims
        record = state.access_tokens.get(str(claims.get("jti", "")))
        if record is None or record.revoked or record.expires_at <= clock.time():
            return None
        return record

    # -- whole token responses -----------------------------------------------------
    def issue(
        self,
        state: SandboxState,
        clock: SandboxClock,
        app: App,
        account_id: str,
        scope: str,
        *,
        family_id: str | None = None,
        refresh_token: str | None = None,
        include_id_token: bool = True,
    ) -> dict[str, Any]:
        """CC's token response for a fresh consent (or a refresh, when ``refresh_token`` is set).

        A refresh token is issued only when ``offline_access`` is among the scopes, as CC does.
        """
        family = family_id or new_id()
        lifetime = state.settings.access_token_lifetime
        response: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "access_token": self.mint_access_token(
                state, clock, app, account_id, scope, lifetime=lifetime, family_id=family
            ),
            "scope": scope,
        }
        if OFFLINE_ACCESS in scope.split():
            if refresh_token is None:
                refresh_token = "RT." + secrets.token_urlsafe(32)
                now = clock.time()
                state.refresh_tokens[refresh_token] = RefreshTokenRecord(
                    token=refresh_token,
                    client_id=app.client_id,
                    account_id=account_id,
                    scope=scope,
                    family_id=family,
                    issued_at=now,
                    last_used_at=now,
                )
            response["refresh_token"] = refresh_token
        if include_id_token:
            account = state.accounts.get(account_id)
            email = account.account.login_email if account else ""
            response["id_token"] = self.mint_id_token(clock, app, account_id, email)
        return response

    def mint_refresh_token(
        self,
        state: SandboxState,
        clock: SandboxClock,
        app: App,
        account_id: str,
        scope: str,
        *,
        family_id: str,
        public_client: bool = False,
    ) -> str:
        """A new refresh token in an existing family (used when a rotating app refreshes)."""
        token = "RT." + secrets.token_urlsafe(32)
        now = clock.time()
        state.refresh_tokens[token] = RefreshTokenRecord(
            token=token,
            client_id=app.client_id,
            account_id=account_id,
            scope=scope,
            family_id=family_id,
            issued_at=now,
            last_used_at=now,
            public_client=public_client,
        )
        return token

    def revoke_family(self, state: SandboxState, family_id: str) -> None:
        """Revoke every refresh and access token descended from one consent."""
        for record in state.refresh_tokens.values():
            if record.family_id == family_id:
                record.revoked = True
        for access in state.access_tokens.values():
            if access.family_id == family_id:
                access.revoked = True
