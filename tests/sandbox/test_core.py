"""The sandbox's shared machinery: auth, errors, routing, 501s, rate limits, faults, log."""

from __future__ import annotations

import httpx

from ccbridge.sandbox import Sandbox


def test_missing_token_is_401_single_object(cc_sandbox: Sandbox, cc_raw: httpx.Client) -> None:
    response = cc_raw.get("/v3/contacts")
    assert response.status_code == 401
    assert response.json() == {"error_key": "unauthorized", "error_message": "Unauthorized"}


def test_unknown_v3_path_is_404(cc_http: httpx.Client) -> None:
    response = cc_http.get("/no_such_thing")
    assert response.status_code == 404
    assert isinstance(response.json(), list)


def test_known_but_unemulated_operation_is_501_naming_it(cc_http: httpx.Client) -> None:
    response = cc_http.get("/partner/accounts")
    assert response.status_code == 501
    assert "getPartnerSiteOwners" in response.json()[0]["error_message"]


def test_jwks_published(cc_raw: httpx.Client) -> None:
    keys = cc_raw.get("/oauth2/default/v1/keys").json()["keys"]
    assert keys and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256"
