"""Authorization code (with and without PKCE) and implicit flows, per CC-V3-FACTS §1.2–1.7."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.seed import create_app
from ccbridge.sandbox.state import AccountData, App
from ccbridge.testing.oauth_flow import (
    AUTHORIZE,
    TOKEN,
    authorize_params,
    basic,
    callback,
    consent,
    exchange,
    form_of,
    get_code,
    pkce_pair,
    sign_in,
    tokens_via_code_flow,
)
from ccbridge.testing.plugin import REDIRECT_URI

AUDIENCE = "https://api.cc.email/v3"


def _error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def _claims(client: httpx.Client, access_token: str) -> dict[str, Any]:
    """Verify the JWT's RS256 signature against the published JWKS, as CC's guide advises."""
    keyset = KeySet.import_key_set(client.get("/oauth2/default/v1/keys").json())
    token = jwt.decode(access_token, keyset, algorithms=["RS256"])
    assert token.header["alg"] == "RS256" and token.header["kid"]
    return dict(token.claims)


def _bearer(client: httpx.Client, access_token: str, path: str) -> httpx.Response:
    return client.get(path, headers={"Authorization": f"Bearer {access_token}"})


# -- the server flow with a client secret -------------------------------------------------
def test_code_flow_with_basic_auth_returns_ccs_token_response(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    code = get_code(cc_raw, cc_app, scope="contact_data account_read offline_access")
    response = exchange(cc_raw, cc_app, code)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86_400
    assert body["scope"].split() == ["contact_data", "account_read", "offline_access"]
    assert body["refresh_token"] and body["id_token"]
    assert body["access_token"].count(".") == 2


def test_client_credentials_in_the_body_also_authenticate(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    code = get_code(cc_raw, cc_app)
    response = cc_raw.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": cc_app.client_id,
            "client_secret": cc_app.client_secret,
        },
    )
    assert response.status_code == 200, response.text


def test_token_parameters_in_the_query_string_like_ccs_own_example(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    code = get_code(cc_raw, cc_app)
    response = cc_raw.post(
        TOKEN,
        params={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=basic(cc_app),
    )
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"]


def test_state_round_trips_unchanged_and_is_omitted_when_not_sent(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    odd_state = "a b&c=d/é+%"
    values = callback(consent(cc_raw, authorize_params(cc_app, state=odd_state)))
    assert values["state"] == odd_state
    values = callback(consent(cc_raw, authorize_params(cc_app, state=None)))
    assert "state" not in values and values["code"]


def test_access_token_claims_verify_against_published_jwks(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    tokens = tokens_via_code_flow(cc_raw, cc_app, scope="contact_data offline_access")
    claims = _claims(cc_raw, tokens["access_token"])
    account_id = cc_account.account.account_id
    assert claims["cid"] == cc_app.client_id
    assert claims["platform_user_id"] == account_id
    assert claims["sub"] == account_id
    assert claims["aud"] == AUDIENCE
    assert claims["iss"] == cc_sandbox.issuer.issuer
    assert claims["exp"] == claims["iat"] + 86_400
    assert abs(claims["iat"] - cc_sandbox.clock.time()) < 60
    assert claims["scp"] == ["contact_data", "offline_access"]
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": cc_sandbox.issuer.issuer},
        aud={"essential": True, "value": AUDIENCE},
        cid={"essential": True, "value": cc_app.client_id},
        platform_user_id={"essential": True},
    )
    registry.validate(claims)


def test_token_from_the_flow_is_accepted_by_the_api(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    tokens = tokens_via_code_flow(cc_raw, cc_app, scope="account_read")
    response = _bearer(cc_raw, tokens["access_token"], "/v3/account/summary")
    assert response.status_code not in (401, 403), response.text
    assert _bearer(cc_raw, "not-a-token", "/v3/account/summary").status_code == 401


def test_scopes_are_enforced_before_the_handler_runs(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    tokens = tokens_via_code_flow(cc_raw, cc_app, scope="account_read")
    response = _bearer(cc_raw, tokens["access_token"], "/v3/contact_lists")
    assert response.status_code == 403
    assert response.json()[0]["error_key"] == "forbidden"
    with_scope = tokens_via_code_flow(cc_raw, cc_app, scope="contact_data")
    assert _bearer(cc_raw, with_scope["access_token"], "/v3/contact_lists").status_code != 403


def test_without_offline_access_there_is_no_refresh_token(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    tokens = tokens_via_code_flow(cc_raw, cc_app, scope="contact_data campaign_data")
    assert "refresh_token" not in tokens
    assert tokens["access_token"] and tokens["scope"] == "contact_data campaign_data"


def test_plus_separated_scopes_are_tolerated(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    # CC writes scope=contact_data+offline_access; a client that percent-encodes the plus
    # sends a literal '+' that must still separate the scopes.
    params = authorize_params(cc_app, scope=None)
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    page = cc_raw.get(f"{AUTHORIZE}?{query}&scope=contact_data%2Boffline_access")
    page = sign_in(cc_raw, page)
    assert "contact_data" in page.text and "offline_access" in page.text
    form = form_of(page, "consent")
    response = cc_raw.post(AUTHORIZE, data={**form.fields, "decision": "allow"})
    code = callback(response)["code"]
    tokens = exchange(cc_raw, cc_app, code).json()
    assert tokens["scope"] == "contact_data offline_access"
    assert tokens["refresh_token"]


# -- errors on the redirect URI ------------------------------------------------------------
def test_deny_redirects_with_access_denied_and_state(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    params = authorize_params(cc_app)
    values = callback(consent(cc_raw, params, decision="deny"))
    assert values["error"] == "access_denied"
    assert values["error_description"]
    assert values["state"] == params["state"]
    assert "code" not in values


def test_unknown_scope_redirects_with_invalid_scope(cc_raw: httpx.Client, cc_app: App) -> None:
    params = authorize_params(cc_app, scope="contact_data all_the_things")
    response = cc_raw.get(AUTHORIZE, params=params)
    assert response.status_code == 302
    values = callback(response)
    assert values["error"] == "invalid_scope"
    assert "all_the_things" in values["error_description"]
    assert values["state"] == params["state"]


def test_missing_scope_and_bad_response_type_redirect_with_errors(
    cc_raw: httpx.Client, cc_app: App
) -> None:
    values = callback(cc_raw.get(AUTHORIZE, params=authorize_params(cc_app, scope=None)))
    assert values["error"] == "invalid_scope"
    values = callback(
        cc_raw.get(AUTHORIZE, params=authorize_params(cc_app, response_type="id_token"))
    )
    assert values["error"] == "unsupported_response_type"
    values = callback(cc_raw.get(AUTHORIZE, params=authorize_params(cc_app, response_type=None)))
    assert values["error"] == "invalid_request"
    assert "response_type" in values["error_description"]


# -- PKCE ---------------------------------------------------------------------------------------
def _pkce_code(client: httpx.Client, app: App, challenge: str) -> str:
    return get_code(client, app, code_challenge=challenge, code_challenge_method="S256")


def _public_exchange(client: httpx.Client, app: App, code: str, verifier: str) -> httpx.Response:
    return client.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": app.client_id,
            "code_verifier": verifier,
        },
    )


def test_pkce_s256_public_client_needs_no_secret(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    verifier, challenge = pkce_pair()
    code = _pkce_code(cc_raw, cc_app, challenge)
    response = _public_exchange(cc_raw, cc_app, code, verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id_token"] and body["access_token"] and body["refresh_token"]


def test_pkce_wrong_or_missing_verifier_is_refused(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    _, challenge = pkce_pair()
    code = _pkce_code(cc_raw, cc_app, challenge)
    other_verifier, _ = pkce_pair()
    assert _error(_public_exchange(cc_raw, cc_app, code, other_verifier))[:2] == (
        400,
        "invalid_grant",
    )
    status, error, description = _error(exchange(cc_raw, cc_app, code))  # secret, no verifier
    assert (status, error) == (400, "invalid_request") and "code_verifier" in description
    status, error, description = _error(_public_exchange(cc_raw, cc_app, code, "short"))
    assert (status, error) == (400, "invalid_request") and "43-128" in description


def test_pkce_plain_or_missing_method_is_rejected(cc_raw: httpx.Client, cc_app: App) -> None:
    _, challenge = pkce_pair()
    for method in ("plain", None):
        params = authorize_params(cc_app, code_challenge=challenge, code_challenge_method=method)
        values = callback(cc_raw.get(AUTHORIZE, params=params))
        assert values["error"] == "invalid_request", method
        assert "S256" in values["error_description"]
        assert values["state"] == params["state"]


def test_verifier_for_a_code_without_challenge_is_refused(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    verifier, _ = pkce_pair()
    code = get_code(cc_raw, cc_app)
    status, error, _ = _error(exchange(cc_raw, cc_app, code, code_verifier=verifier))
    assert (status, error) == (400, "invalid_request")


def test_code_without_pkce_requires_the_client_secret(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    code = get_code(cc_raw, cc_app)
    response = cc_raw.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": cc_app.client_id,
        },
    )
    assert _error(response)[:2] == (401, "invalid_client")
    assert exchange(cc_raw, cc_app, code).status_code == 200  # still unused


# -- code lifetime and single use -----------------------------------------------------------
def test_code_reuse_fails_and_revokes_the_tokens_it_produced(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    code = get_code(cc_raw, cc_app, scope="account_read offline_access")
    first = exchange(cc_raw, cc_app, code).json()
    assert _bearer(cc_raw, first["access_token"], "/v3/account/summary").status_code != 401
    status, error, _ = _error(exchange(cc_raw, cc_app, code))
    assert (status, error) == (400, "invalid_grant")
    assert _bearer(cc_raw, first["access_token"], "/v3/account/summary").status_code == 401
    refreshed = cc_raw.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        auth=basic(cc_app),
    )
    assert _error(refreshed)[:2] == (400, "invalid_grant")


def test_code_expires_after_five_minutes_on_the_sandbox_clock(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    fresh = get_code(cc_raw, cc_app)
    stale = get_code(cc_raw, cc_app)
    cc_sandbox.advance_clock(290)
    assert exchange(cc_raw, cc_app, fresh).status_code == 200
    cc_sandbox.advance_clock(11)  # 301 s after issue
    status, error, description = _error(exchange(cc_raw, cc_app, stale))
    assert (status, error) == (400, "invalid_grant") and "expired" in description


def test_code_exchange_checks_redirect_uri_and_client(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    code = get_code(cc_raw, cc_app)
    wrong_uri = cc_raw.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI + "/other",
        },
        auth=basic(cc_app),
    )
    assert _error(wrong_uri)[:2] == (400, "invalid_grant")
    other = create_app(
        cc_sandbox.state, cc_sandbox.clock.now(), name="Other", redirect_uris=[REDIRECT_URI]
    )
    assert _error(exchange(cc_raw, other, code))[:2] == (400, "invalid_grant")
    missing = cc_raw.post(
        TOKEN, data={"grant_type": "authorization_code", "code": code}, auth=basic(cc_app)
    )
    status, error, description = _error(missing)
    assert (status, error) == (400, "invalid_request") and "redirect_uri" in description
    assert exchange(cc_raw, cc_app, code).status_code == 200


# -- implicit ("client flow") ----------------------------------------------------------------
def test_implicit_flow_returns_an_eight_hour_token_in_the_fragment(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    params = authorize_params(cc_app, response_type="token", scope="account_read offline_access")
    response = consent(cc_raw, params)
    location = response.headers["location"]
    assert "#" in location and "?" not in location  # nothing in the query, logged by servers
    values = callback(response)
    assert values["token_type"] == "Bearer"
    assert values["expires_in"] == "28800"
    assert values["state"] == params["state"]
    assert values["scope"] == "account_read"  # no refresh token, so no offline_access
    assert "refresh_token" not in values and "code" not in values
    claims = _claims(cc_raw, values["access_token"])
    assert claims["exp"] - claims["iat"] == 28_800
    assert _bearer(cc_raw, values["access_token"], "/v3/account/summary").status_code != 401


def test_implicit_deny_puts_the_error_in_the_fragment(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    response = consent(cc_raw, authorize_params(cc_app, response_type="token"), decision="deny")
    assert "#error=access_denied" in response.headers["location"]


# -- token endpoint errors ----------------------------------------------------------------------
def test_token_endpoint_errors_are_rfc6749_shaped(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    status, error, description = _error(cc_raw.post(TOKEN, data={}, auth=basic(cc_app)))
    assert (status, error) == (400, "invalid_request") and "grant_type" in description
    response = cc_raw.post(TOKEN, data={"grant_type": "password"}, auth=basic(cc_app))
    assert _error(response)[:2] == (400, "unsupported_grant_type")
    assert response.headers["cache-control"] == "no-store"
    response = cc_raw.post(TOKEN, data={"grant_type": "authorization_code"}, auth=basic(cc_app))
    status, error, description = _error(response)
    assert (status, error) == (400, "invalid_request") and "'code'" in description


def test_bad_client_authentication_is_401_invalid_client(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    code = get_code(cc_raw, cc_app)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    for auth in ((cc_app.client_id, "wrong-secret"), ("unknown-client", "x")):
        response = cc_raw.post(TOKEN, data=data, auth=auth)
        assert _error(response)[:2] == (401, "invalid_client")
        assert response.headers["www-authenticate"].startswith("Basic")
        assert cc_app.client_secret not in response.text
    garbled = cc_raw.post(TOKEN, data=data, headers={"Authorization": "Basic %%%"})
    assert _error(garbled)[:2] == (401, "invalid_client")
    nobody = cc_raw.post(TOKEN, data=data)
    status, error, description = _error(nobody)
    assert (status, error) == (401, "invalid_client") and "client_id" in description
    assert exchange(cc_raw, cc_app, code).status_code == 200  # failed attempts used nothing


def test_token_endpoint_refuses_json_and_conflicting_parameters(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    code = get_code(cc_raw, cc_app)
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    as_json = cc_raw.post(
        TOKEN,
        content=json.dumps(body),
        headers={"Content-Type": "application/json"},
        auth=basic(cc_app),
    )
    status, error, description = _error(as_json)
    assert (status, error) == (400, "invalid_request")
    assert "application/x-www-form-urlencoded" in description
    conflicting = cc_raw.post(
        TOKEN, params={"grant_type": "refresh_token"}, data=body, auth=basic(cc_app)
    )
    status, error, description = _error(conflicting)
    assert (status, error) == (400, "invalid_request") and "grant_type" in description


def test_basic_auth_halves_are_form_decoded(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_account: AccountData
) -> None:
    app = create_app(
        cc_sandbox.state,
        cc_sandbox.clock.now(),
        name="Odd secret",
        redirect_uris=[REDIRECT_URI],
        client_secret="a:b+c/d",
    )
    code = get_code(cc_raw, app)
    encoded = base64.b64encode(f"{app.client_id}:{quote(app.client_secret, safe='')}".encode())
    response = cc_raw.post(
        TOKEN,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        headers={"Authorization": f"Basic {encoded.decode()}"},
    )
    assert response.status_code == 200, response.text


def test_request_log_keeps_no_codes_secrets_or_tokens(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(cc_raw, cc_app, code_challenge=challenge, code_challenge_method="S256")
    response = cc_raw.post(
        TOKEN,
        params={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": cc_app.client_id,
            "client_secret": cc_app.client_secret,
        },
    )
    tokens = response.json()
    log = cc_raw.get("/_sandbox/requests").text
    for secret in (
        code,
        verifier,
        cc_app.client_secret,
        "sandbox-password",
        tokens["access_token"],
        tokens["refresh_token"],
    ):
        assert secret not in log
