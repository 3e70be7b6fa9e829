"""OAuth2 protocol functions (pure) and JWT verification against the sandbox's JWKS."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from ccbridge.oauth import AuthorizationDeniedError, Endpoints, InvalidStateError, OAuthClientConfig
from ccbridge.oauth.errors import TokenVerificationError
from ccbridge.oauth.protocol import (
    authorization_code_request,
    build_authorize_url,
    device_token_request,
    new_code_verifier,
    parse_callback,
    refresh_request,
    revoke_request,
    s256_challenge,
)
from ccbridge.oauth.verification import JWKSCache, verify_access_token
from ccbridge.sandbox import Sandbox, SandboxTransport
from ccbridge.sandbox.state import AccountData
from tests.oauth.support import query_of

CC = Endpoints.constant_contact()


def test_cc_endpoints_follow_the_facts() -> None:
    assert CC.authorize_url == "https://authz.constantcontact.com/oauth2/default/v1/authorize"
    assert CC.token_url == "https://authz.constantcontact.com/oauth2/default/v1/token"
    assert CC.revoke_url == "https://authz.constantcontact.com/oauth2/default/v1/revoke"
    assert CC.issuer == "https://identity.constantcontact.com/oauth2/aus1lm3ry9mF7x2Ja0h8"
    assert CC.jwks_url == CC.issuer + "/v1/keys"
    assert CC.audience == "https://api.cc.email/v3"
    assert CC.api_v3_url == "https://api.cc.email/v3"


def test_pkce_s256_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mJ92K9k5xKlVpzHkTyBr1B3AsTqNMN"[:43]
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert s256_challenge(verifier) == expected.decode()
    assert s256_challenge("dBjftJeZ4CVP-mJ92K9k5xKlVpzHkTyBr1B3AsTqNMN"[:43])
    assert 43 <= len(new_code_verifier()) <= 128
    with pytest.raises(ValueError, match="43-128"):
        s256_challenge("short")


def test_authorize_url_joins_scopes_with_plus() -> None:
    url = build_authorize_url(
        CC,
        client_id="cid",
        redirect_uri="https://app.example/cb",
        scopes=["contact_data", "offline_access"],
        state="st",
        code_challenge="c" * 43,
    )
    assert url.startswith(CC.authorize_url + "?")
    assert "scope=contact_data+offline_access" in url
    assert query_of(url) == {
        "client_id": "cid",
        "redirect_uri": "https://app.example/cb",
        "response_type": "code",
        "scope": "contact_data offline_access",
        "state": "st",
        "code_challenge": "c" * 43,
        "code_challenge_method": "S256",
    }


def test_callback_parsing() -> None:
    assert parse_callback("https://app.example/cb?code=abc&state=xyz").code == "abc"
    assert parse_callback({"code": "abc", "state": "xyz"}).state == "xyz"
    with pytest.raises(AuthorizationDeniedError, match="access_denied"):
        parse_callback("https://app.example/cb?error=access_denied&state=xyz")
    with pytest.raises(InvalidStateError):
        parse_callback("code=abc")


def test_token_requests_use_basic_auth_or_the_client_id() -> None:
    confidential = OAuthClientConfig("cid", CC, client_secret="s3cret")
    public = OAuthClientConfig("cid", CC)
    req = refresh_request(confidential, "RT")
    assert req.form == {"grant_type": "refresh_token", "refresh_token": "RT"}
    assert req.headers["Authorization"] == "Basic " + base64.b64encode(b"cid:s3cret").decode()
    req = refresh_request(public, "RT")
    assert req.form["client_id"] == "cid" and "Authorization" not in req.headers
    req = authorization_code_request(
        public, code="C", redirect_uri="https://a/cb", code_verifier="v" * 43
    )
    assert req.form == {
        "grant_type": "authorization_code",
        "code": "C",
        "redirect_uri": "https://a/cb",
        "code_verifier": "v" * 43,
        "client_id": "cid",
    }
    assert device_token_request(confidential, "DC").form["grant_type"] == (
        "urn:ietf:params:oauth:grant-type:device_code"
    )
    revoke = revoke_request(confidential, "RT")
    assert revoke.url == CC.revoke_url and revoke.form["token_type_hint"] == "refresh_token"
    assert "s3cret" not in repr(req) and "RT" not in repr(revoke)


# -- JWT verification -----------------------------------------------------------------------
@pytest.fixture
def sandbox_endpoints(cc_sandbox: Sandbox) -> Endpoints:
    return Endpoints.okta_layout(cc_sandbox.base_url, cc_sandbox.base_url)


@pytest.fixture
def jwks(cc_sandbox: Sandbox, sandbox_endpoints: Endpoints) -> JWKSCache:
    http = httpx.Client(transport=SandboxTransport(cc_sandbox))
    return JWKSCache(sandbox_endpoints.jwks_url, http)


def _claims(
    cc_sandbox: Sandbox, client_id: str, account: AccountData, **changes: Any
) -> dict[str, Any]:
    now = int(cc_sandbox.clock.time())
    claims = {
        "iss": cc_sandbox.issuer.issuer,
        "aud": "https://api.cc.email/v3",
        "iat": now,
        "exp": now + 86_400,
        "cid": client_id,
        "sub": account.account.account_id,
        "platform_user_id": account.account.account_id,
        "scp": ["contact_data"],
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(cc_sandbox: Sandbox, claims: dict[str, Any], key: RSAKey | None = None) -> str:
    signer = key or RSAKey.import_key(cc_sandbox.issuer.key_pem)
    return jwt.encode({"alg": "RS256", "kid": cc_sandbox.issuer.kid}, claims, signer)


def test_a_real_sandbox_token_verifies(
    cc_sandbox: Sandbox,
    cc_token: dict[str, Any],
    cc_app: Any,
    sandbox_endpoints: Endpoints,
    jwks: JWKSCache,
    cc_account: AccountData,
) -> None:
    claims = verify_access_token(
        cc_token["access_token"],
        endpoints=sandbox_endpoints,
        client_id=cc_app.client_id,
        jwks=jwks,
        now=cc_sandbox.clock.time(),
    )
    assert claims.subject == cc_account.account.account_id
    assert claims.platform_user_id == cc_account.account.account_id


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"iss": "https://evil.example/oauth2/default"}, "issuer"),
        ({"aud": "https://other.example/api"}, "audience"),
        ({"cid": "someone-else"}, "client_id"),
        ({"exp": 1_000_000}, "expired"),
        ({"platform_user_id": None}, "claims"),
        ({"sub": None}, "claims"),
    ],
)
def test_bad_claims_are_refused(
    cc_sandbox: Sandbox,
    cc_app: Any,
    cc_account: AccountData,
    sandbox_endpoints: Endpoints,
    jwks: JWKSCache,
    change: dict[str, Any],
    reason: str,
) -> None:
    token = _sign(cc_sandbox, _claims(cc_sandbox, cc_app.client_id, cc_account, **change))
    with pytest.raises(TokenVerificationError) as info:
        verify_access_token(
            token,
            endpoints=sandbox_endpoints,
            client_id=cc_app.client_id,
            jwks=jwks,
            now=cc_sandbox.clock.time(),
        )
    assert info.value.reason == reason


def test_a_bad_signature_is_refused(
    cc_sandbox: Sandbox,
    cc_app: Any,
    cc_account: AccountData,
    sandbox_endpoints: Endpoints,
    jwks: JWKSCache,
) -> None:
    forger = RSAKey.generate_key(2048, private=True)
    token = _sign(cc_sandbox, _claims(cc_sandbox, cc_app.client_id, cc_account), forger)
    with pytest.raises(TokenVerificationError) as info:
        verify_access_token(
            token,
            endpoints=sandbox_endpoints,
            client_id=cc_app.client_id,
            jwks=jwks,
            now=cc_sandbox.clock.time(),
        )
    assert info.value.reason == "signature"
    with pytest.raises(TokenVerificationError) as info:
        verify_access_token(
            "not.a.jwt",
            endpoints=sandbox_endpoints,
            client_id=cc_app.client_id,
            jwks=jwks,
            now=time.time(),
        )
    assert info.value.reason == "malformed"
    unsigned = jwt.encode(
        {"alg": "HS256"},
        _claims(cc_sandbox, cc_app.client_id, cc_account),
        OctKey.import_key("k" * 32),
    )
    with pytest.raises(TokenVerificationError) as info:
        verify_access_token(
            unsigned,
            endpoints=sandbox_endpoints,
            client_id=cc_app.client_id,
            jwks=jwks,
            now=time.time(),
        )
    assert info.value.reason == "signature"
