"""OAuth2 as pure functions: URLs, PKCE, callbacks and token requests for CC's server.

Nothing here does I/O except ``send_token_request`` (and ``discover_endpoints``), the one
thin adapter over httpx. Keeping the protocol pure means the web route, the CLI's loopback
listener and the device flow all build the same requests, and tests check them without a
server. Facts followed (CC-V3-FACTS §1):

- endpoints under ``/oauth2/default/v1/`` on ``authz.constantcontact.com``; tokens are
  RS256 JWTs whose issuer and key set live on ``identity.constantcontact.com``;
- PKCE with S256 only; a 43–128 character verifier from the unreserved alphabet;
- scopes separated by spaces (sent as ``+``), ``offline_access`` needed for a refresh token;
- the token endpoint takes HTTP Basic client authentication, or just the client_id for a
  public (PKCE or device) client; form-encoded bodies.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from ccbridge._errors import APIConnectionError
from ccbridge.oauth.errors import AuthorizationDeniedError, InvalidStateError

CC_AUTH_BASE = "https://authz.constantcontact.com"
CC_ISSUER = "https://identity.constantcontact.com/oauth2/aus1lm3ry9mF7x2Ja0h8"
CC_JWKS_URL = CC_ISSUER + "/v1/keys"
CC_API_BASE = "https://api.cc.email"
CC_AUDIENCE = "https://api.cc.email/v3"
OKTA_PREFIX = "/oauth2/default"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
FORM_TYPE = "application/x-www-form-urlencoded"
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


@dataclass(frozen=True)
class Endpoints:
    """Where an authorization server (CC's, or a sandbox) and its API live."""

    authorize_url: str
    token_url: str
    device_authorize_url: str
    revoke_url: str
    jwks_url: str
    issuer: str
    api_base_url: str
    audience: str = CC_AUDIENCE

    @classmethod
    def constant_contact(cls) -> Endpoints:
        """The real CC (authz for the flows, identity for the issuer and keys)."""
        return cls.okta_layout(CC_AUTH_BASE, CC_API_BASE, issuer=CC_ISSUER, jwks_url=CC_JWKS_URL)

    @classmethod
    def okta_layout(
        cls,
        auth_base: str,
        api_base: str,
        *,
        issuer: str | None = None,
        jwks_url: str | None = None,
    ) -> Endpoints:
        """Endpoints of a server laid out like CC's (``/oauth2/default/v1/...``)."""
        base = auth_base.rstrip("/") + OKTA_PREFIX
        return cls(
            authorize_url=f"{base}/v1/authorize",
            token_url=f"{base}/v1/token",
            device_authorize_url=f"{base}/v1/device/authorize",
            revoke_url=f"{base}/v1/revoke",
            jwks_url=jwks_url or f"{base}/v1/keys",
            issuer=issuer or base,
            api_base_url=api_base.rstrip("/"),
        )

    @property
    def api_v3_url(self) -> str:
        return self.api_base_url + "/v3"


def discover_endpoints(
    auth_base: str, api_base: str | None = None, *, http: httpx.Client
) -> Endpoints:
    """Endpoints read from a server's RFC 8414 metadata, with the CC layout as fallback.

    Used for sandboxes and other CC look-alikes, whose issuer depends on the URL they were
    started with; the real CC's values are fixed (``Endpoints.constant_contact``).
    """
    fallback = Endpoints.okta_layout(auth_base, api_base or auth_base)
    url = auth_base.rstrip("/") + OKTA_PREFIX + "/.well-known/oauth-authorization-server"
    try:
        response = http.get(url)
    except httpx.TransportError as exc:
        raise APIConnectionError(
            f"the authorization server at {auth_base} could not be reached ({type(exc).__name__})"
        ) from None
    if response.status_code != 200:
        return fallback
    try:
        meta = response.json()
    except ValueError:
        return fallback
    if not isinstance(meta, dict):
        return fallback

    def pick(name: str, default: str) -> str:
        value = meta.get(name)
        return value if isinstance(value, str) and value else default

    return Endpoints(
        authorize_url=pick("authorization_endpoint", fallback.authorize_url),
        token_url=pick("token_endpoint", fallback.token_url),
        device_authorize_url=pick("device_authorization_endpoint", fallback.device_authorize_url),
        revoke_url=pick("revocation_endpoint", fallback.revoke_url),
        jwks_url=pick("jwks_uri", fallback.jwks_url),
        issuer=pick("issuer", fallback.issuer),
        api_base_url=fallback.api_base_url,
    )


@dataclass(frozen=True)
class OAuthClientConfig:
    """An OAuth client registered at CC, and the server it talks to.

    ``client_secret`` None makes it a public client (PKCE and the device flow only).
    """

    client_id: str
    endpoints: Endpoints
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str | None = None

    @property
    def is_public(self) -> bool:
        return self.client_secret is None


# -- PKCE and state ----------------------------------------------------------------------
def new_code_verifier() -> str:
    """A PKCE verifier: 64 characters from the unreserved alphabet (RFC 7636 §4.1)."""
    return secrets.token_urlsafe(48)


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(verifier))`` without padding; only S256 is ever used."""
    if not 43 <= len(verifier) <= 128 or not set(verifier) <= _UNRESERVED:
        raise ValueError("a PKCE code_verifier is 43-128 characters of A-Z a-z 0-9 - . _ ~")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_state() -> str:
    """An unguessable ``state`` value (256 bits)."""
    return secrets.token_urlsafe(32)


def state_digest(value: str) -> str:
    """What is stored for a state or session id: its SHA-256, so the database cannot replay it."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# -- the authorize redirect and its callback ------------------------------------------------
def join_scopes(scopes: tuple[str, ...] | list[str]) -> str:
    return " ".join(dict.fromkeys(s for s in scopes if s))


def build_authorize_url(
    endpoints: Endpoints,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: tuple[str, ...] | list[str],
    state: str,
    code_challenge: str | None,
) -> str:
    """The URL to send the account owner's browser to (response_type=code).

    ``urlencode`` writes spaces as ``+``, the separator CC's own examples use between
    scopes (CC-V3-FACTS §1.3).
    """
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": join_scopes(scopes),
        "state": state,
    }
    if code_challenge is not None:
        params["code_challenge"] = code_challenge
        params["code_challenge_method"] = "S256"
    return f"{endpoints.authorize_url}?{urlencode(params)}"


@dataclass(frozen=True)
class CallbackParams:
    """What came back on the redirect URI: a code and the state it belongs to."""

    code: str
    state: str


def parse_callback(source: str | Mapping[str, str]) -> CallbackParams:
    """Read a callback (a full URL, a query string or a mapping of its parameters).

    An ``error`` from the server raises ``AuthorizationDeniedError``; a missing state
    ``InvalidStateError``; a missing code ``AuthorizationDeniedError`` (invalid_request).
    """
    if isinstance(source, str):
        query = urlsplit(source).query if "?" in source or "://" in source else source
        params = dict(parse_qsl(query, keep_blank_values=True))
    else:
        params = {str(k): str(v) for k, v in source.items()}
    error = params.get("error")
    if error:
        raise AuthorizationDeniedError(error, params.get("error_description") or None)
    state = params.get("state")
    if not state:
        raise InvalidStateError("the callback carries no state parameter")
    code = params.get("code")
    if not code:
        raise AuthorizationDeniedError(
            "invalid_request", "the callback carries neither a code nor an error"
        )
    return CallbackParams(code=code, state=state)


# -- token-endpoint requests -----------------------------------------------------------------
@dataclass(frozen=True)
class TokenRequest:
    """A form POST to an OAuth endpoint; ``headers`` may hold the Basic credentials."""

    url: str
    form: dict[str, str] = field(repr=False)
    headers: dict[str, str] = field(repr=False)


def _client_auth(client: OAuthClientConfig, form: dict[str, str]) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if client.client_secret is not None:
        pair = f"{client.client_id}:{client.client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    else:
        form["client_id"] = client.client_id
    return headers


def authorization_code_request(
    client: OAuthClientConfig, *, code: str, redirect_uri: str, code_verifier: str | None
) -> TokenRequest:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if code_verifier is not None:
        form["code_verifier"] = code_verifier
    headers = _client_auth(client, form)
    return TokenRequest(client.endpoints.token_url, form, headers)


def refresh_request(client: OAuthClientConfig, refresh_token: str) -> TokenRequest:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    headers = _client_auth(client, form)
    return TokenRequest(client.endpoints.token_url, form, headers)


def device_authorization_request(
    client: OAuthClientConfig, scopes: tuple[str, ...] | list[str]
) -> TokenRequest:
    # The device flow uses no secret (CC-V3-FACTS §1.2 item 4): only the client_id.
    form = {"client_id": client.client_id, "scope": join_scopes(scopes)}
    return TokenRequest(client.endpoints.device_authorize_url, form, {"Accept": "application/json"})


def device_token_request(client: OAuthClientConfig, device_code: str) -> TokenRequest:
    form = {"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": client.client_id}
    return TokenRequest(client.endpoints.token_url, form, {"Accept": "application/json"})


def revoke_request(
    client: OAuthClientConfig, token: str, *, hint: str = "refresh_token"
) -> TokenRequest:
    form = {"token": token, "token_type_hint": hint}
    headers = _client_auth(client, form)
    return TokenRequest(client.endpoints.revoke_url, form, headers)


def send_token_request(http: httpx.Client, request: TokenRequest) -> httpx.Response:
    """POST the form; transport failures become ``APIConnectionError`` (no URL query, no body)."""
    try:
        return http.post(request.url, data=request.form, headers=request.headers)
    except httpx.TimeoutException as exc:
        raise APIConnectionError(
            f"the OAuth endpoint timed out ({type(exc).__name__})", method="POST"
        ) from None
    except httpx.TransportError as exc:
        raise APIConnectionError(
            f"the OAuth endpoint could not be reached ({type(exc).__name__})", method="POST"
        ) from None


def response_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None
