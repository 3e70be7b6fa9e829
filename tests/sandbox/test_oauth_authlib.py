"""A standard OAuth client library (Authlib, not ccbridge code) against the sandbox.

If a widely used client completes authorization code + PKCE, refresh and revocation using
only the discovery document, the sandbox speaks ordinary OAuth and not just what
ccbridge's own client happens to send.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client

from ccbridge.sandbox import Sandbox, SandboxTransport
from ccbridge.sandbox.state import AccountData, App
from ccbridge.testing.oauth_flow import form_of, sign_in
from ccbridge.testing.plugin import REDIRECT_URI


def _discover(cc_raw: httpx.Client) -> dict[str, Any]:
    meta: dict[str, Any] = cc_raw.get("/.well-known/openid-configuration").json()
    return meta


def _authlib_client(sandbox: Sandbox, app: App, auth_method: str) -> OAuth2Client:
    return OAuth2Client(
        client_id=app.client_id,
        client_secret=app.client_secret if auth_method != "none" else None,
        token_endpoint_auth_method=auth_method,
        revocation_endpoint_auth_method=auth_method,
        scope="account_read contact_data offline_access",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        transport=SandboxTransport(sandbox),
    )


def _browser_consent(browser: httpx.Client, sandbox: Sandbox, url: str) -> str:
    """What a person does in the browser; returns the URL the app's callback receives."""
    page = sign_in(browser, browser.get(url.removeprefix(sandbox.base_url)))
    form = form_of(page, "consent")
    response = browser.post(form.action, data={**form.fields, "decision": "allow"})
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    return location


@pytest.mark.parametrize("auth_method", ["none", "client_secret_basic", "client_secret_post"])
def test_authlib_completes_code_pkce_refresh_and_revoke(
    cc_sandbox: Sandbox,
    cc_raw: httpx.Client,
    cc_app: App,
    cc_account: AccountData,
    auth_method: str,
) -> None:
    meta = _discover(cc_raw)
    client = _authlib_client(cc_sandbox, cc_app, auth_method)
    verifier = generate_token(64)
    url, state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier
    )
    assert "code_challenge_method=S256" in url
    callback_url = _browser_consent(cc_raw, cc_sandbox, url)

    token = client.fetch_token(
        meta["token_endpoint"],
        authorization_response=callback_url,
        state=state,
        code_verifier=verifier,
    )
    assert token["token_type"] == "Bearer" and token["expires_in"] == 86_400
    assert token["refresh_token"] and token["id_token"]
    api = client.get(cc_sandbox.base_url + "/v3/account/summary")
    assert api.status_code not in (401, 403)

    first_refresh_token = token["refresh_token"]
    refreshed = client.refresh_token(meta["token_endpoint"])
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != first_refresh_token  # the app rotates
    assert client.token["refresh_token"] == refreshed["refresh_token"]

    revoked = client.revoke_token(
        meta["revocation_endpoint"],
        token=refreshed["refresh_token"],
        token_type_hint="refresh_token",
    )
    assert revoked.status_code == 200
    assert client.get(cc_sandbox.base_url + "/v3/account/summary").status_code == 401
    client.close()
