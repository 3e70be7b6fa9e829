"""Refresh tokens, revocation and the token endpoint's rate limit (CC-V3-FACTS §1.5, §1.7)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.seed import create_app
from ccbridge.sandbox.state import AccountData, App
from ccbridge.testing.oauth_flow import (
    REVOKE,
    TOKEN,
    basic,
    exchange,
    get_code,
    pkce_pair,
    tokens_via_code_flow,
)
from ccbridge.testing.plugin import REDIRECT_URI

DEAD = {"error": "invalid_grant", "error_description": "The refresh token is invalid or expired."}
DAY = 86_400


def _refresh(client: httpx.Client, app: App, refresh_token: str, **extra: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    return client.post(TOKEN, data=data, auth=basic(app))


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _assert_dead(response: httpx.Response) -> None:
    assert response.status_code == 400
    assert response.json() == DEAD


def _api_status(client: httpx.Client, access_token: str) -> int:
    response = client.get(
        "/v3/account/summary", headers={"Authorization": f"Bearer {access_token}"}
    )
    return response.status_code


@pytest.fixture
def long_lived_app(cc_sandbox: Sandbox) -> App:
    return create_app(
        cc_sandbox.state,
        cc_sandbox.clock.now(),
        name="Long-lived app",
        redirect_uris=[REDIRECT_URI],
        refresh_token_mode="long_lived",
    )


# -- rotating (CC's recommended mode, and the sandbox default) ----------------------------------
def test_rotating_refresh_issues_a_new_token_and_kills_the_old_one(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    assert cc_app.refresh_token_mode == "rotating"
    first = tokens_via_code_flow(cc_raw, cc_app)
    second = _ok(_refresh(cc_raw, cc_app, first["refresh_token"]))
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["token_type"] == "Bearer" and second["expires_in"] == 86_400
    assert second["scope"] == first["scope"]
    _assert_dead(_refresh(cc_raw, cc_app, first["refresh_token"]))
    third = _ok(_refresh(cc_raw, cc_app, second["refresh_token"]))
    # Every earlier token of the consent is dead, not only the one just used.
    _assert_dead(_refresh(cc_raw, cc_app, first["refresh_token"]))
    _assert_dead(_refresh(cc_raw, cc_app, second["refresh_token"]))
    assert _ok(_refresh(cc_raw, cc_app, third["refresh_token"]))["refresh_token"]


def test_refresh_response_is_not_cacheable(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    tokens = tokens_via_code_flow(cc_raw, cc_app)
    response = _refresh(cc_raw, cc_app, tokens["refresh_token"])
    assert response.headers["cache-control"] == "no-store"
    failed = _refresh(cc_raw, cc_app, tokens["refresh_token"])
    assert failed.headers["cache-control"] == "no-store"


def test_refreshing_one_consent_leaves_another_alone(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    one = tokens_via_code_flow(cc_raw, cc_app)
    two = tokens_via_code_flow(cc_raw, cc_app)
    _ok(_refresh(cc_raw, cc_app, one["refresh_token"]))
    assert _ok(_refresh(cc_raw, cc_app, two["refresh_token"]))["refresh_token"]


# -- long-lived ---------------------------------------------------------------------------------
def test_long_lived_refresh_returns_the_same_refresh_token(
    cc_raw: httpx.Client, long_lived_app: App, cc_account: AccountData
) -> None:
    first = tokens_via_code_flow(cc_raw, long_lived_app)
    second = _ok(_refresh(cc_raw, long_lived_app, first["refresh_token"]))
    third = _ok(_refresh(cc_raw, long_lived_app, first["refresh_token"]))
    assert first["refresh_token"] == second["refresh_token"] == third["refresh_token"]
    assert len({first["access_token"], second["access_token"], third["access_token"]}) == 3


# -- the 180-day idle expiry ----------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["rotating", "long_lived"])
def test_refresh_token_dies_after_180_idle_days(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_account: AccountData, mode: str
) -> None:
    app = create_app(
        cc_sandbox.state,
        cc_sandbox.clock.now(),
        name=mode,
        redirect_uris=[REDIRECT_URI],
        refresh_token_mode=mode,
    )
    tokens = tokens_via_code_flow(cc_raw, app)
    cc_sandbox.advance_clock(181 * DAY)
    _assert_dead(_refresh(cc_raw, app, tokens["refresh_token"]))


@pytest.mark.parametrize("mode", ["rotating", "long_lived"])
def test_using_a_refresh_token_resets_its_idleness(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_account: AccountData, mode: str
) -> None:
    app = create_app(
        cc_sandbox.state,
        cc_sandbox.clock.now(),
        name=mode,
        redirect_uris=[REDIRECT_URI],
        refresh_token_mode=mode,
    )
    token = tokens_via_code_flow(cc_raw, app)["refresh_token"]
    cc_sandbox.advance_clock(179 * DAY)
    token = _ok(_refresh(cc_raw, app, token))["refresh_token"]
    cc_sandbox.advance_clock(179 * DAY)  # 358 days after the consent, 179 after the last use
    token = _ok(_refresh(cc_raw, app, token))["refresh_token"]
    cc_sandbox.advance_clock(181 * DAY)
    _assert_dead(_refresh(cc_raw, app, token))


# -- who may refresh, and with which scope ----------------------------------------------------
def test_refresh_is_refused_for_unknown_or_foreign_tokens(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    tokens = tokens_via_code_flow(cc_raw, cc_app)
    _assert_dead(_refresh(cc_raw, cc_app, "RT.made-up"))
    other = create_app(
        cc_sandbox.state, cc_sandbox.clock.now(), name="Other", redirect_uris=[REDIRECT_URI]
    )
    _assert_dead(_refresh(cc_raw, other, tokens["refresh_token"]))
    assert _ok(_refresh(cc_raw, cc_app, tokens["refresh_token"]))  # unharmed by the attempts


def test_confidential_refresh_token_needs_the_client_secret(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    tokens = tokens_via_code_flow(cc_raw, cc_app)
    data = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": cc_app.client_id,
    }
    response = cc_raw.post(TOKEN, data=data)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    wrong = cc_raw.post(TOKEN, data=data, auth=(cc_app.client_id, "nope"))
    assert wrong.status_code == 401


def test_pkce_refresh_token_is_refreshed_with_client_id_only(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(cc_raw, cc_app, code_challenge=challenge, code_challenge_method="S256")
    tokens = _ok(
        cc_raw.post(
            TOKEN,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "client_id": cc_app.client_id,
                "code_verifier": verifier,
            },
        )
    )
    refreshed = _ok(
        cc_raw.post(
            TOKEN,
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": cc_app.client_id,
            },
        )
    )
    assert refreshed["refresh_token"] != tokens["refresh_token"]


def test_refresh_may_narrow_the_scope_but_never_widen_it(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    tokens = tokens_via_code_flow(cc_raw, cc_app, scope="contact_data account_read offline_access")
    narrowed = _ok(_refresh(cc_raw, cc_app, tokens["refresh_token"], scope="account_read"))
    assert narrowed["scope"] == "account_read"
    keyset = KeySet.import_key_set(cc_raw.get("/oauth2/default/v1/keys").json())
    claims = jwt.decode(narrowed["access_token"], keyset, algorithms=["RS256"]).claims
    assert claims["scp"] == ["account_read"]
    # The refresh token keeps the whole grant: a later refresh can have it all back.
    full = _ok(_refresh(cc_raw, cc_app, narrowed["refresh_token"]))
    assert full["scope"] == "contact_data account_read offline_access"
    widened = _refresh(cc_raw, cc_app, full["refresh_token"], scope="contact_data campaign_data")
    assert widened.status_code == 400
    assert widened.json()["error"] == "invalid_scope"
    assert "campaign_data" in widened.json()["error_description"]


def test_missing_refresh_token_parameter_is_named(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    response = cc_raw.post(TOKEN, data={"grant_type": "refresh_token"}, auth=basic(cc_app))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "refresh_token" in response.json()["error_description"]


# -- revocation (RFC 7009) -------------------------------------------------------------------
def _revoke(client: httpx.Client, app: App, token: str, **extra: str) -> httpx.Response:
    return client.post(REVOKE, data={"token": token, **extra}, auth=basic(app))


def test_revoking_a_refresh_token_revokes_its_whole_family(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    first = tokens_via_code_flow(cc_raw, cc_app, scope="account_read offline_access")
    second = _ok(_refresh(cc_raw, cc_app, first["refresh_token"]))
    response = _revoke(cc_raw, cc_app, second["refresh_token"], token_type_hint="refresh_token")
    assert response.status_code == 200 and response.content == b""
    _assert_dead(_refresh(cc_raw, cc_app, second["refresh_token"]))
    assert _api_status(cc_raw, first["access_token"]) == 401
    assert _api_status(cc_raw, second["access_token"]) == 401


def test_revoking_an_access_token_revokes_only_that_token(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    tokens = tokens_via_code_flow(cc_raw, cc_app, scope="account_read offline_access")
    assert _api_status(cc_raw, tokens["access_token"]) != 401
    assert _revoke(cc_raw, cc_app, tokens["access_token"]).status_code == 200
    assert _api_status(cc_raw, tokens["access_token"]) == 401
    refreshed = _ok(_refresh(cc_raw, cc_app, tokens["refresh_token"]))
    assert _api_status(cc_raw, refreshed["access_token"]) != 401


def test_revoke_answers_200_for_unknown_tokens_and_401_for_bad_clients(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    assert _revoke(cc_raw, cc_app, "no-such-token").status_code == 200
    tokens = tokens_via_code_flow(cc_raw, cc_app)
    bad = cc_raw.post(
        REVOKE, data={"token": tokens["refresh_token"]}, auth=(cc_app.client_id, "wrong")
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    other = create_app(
        cc_sandbox.state, cc_sandbox.clock.now(), name="Other", redirect_uris=[REDIRECT_URI]
    )
    assert _revoke(cc_raw, other, tokens["refresh_token"]).status_code == 200
    assert _ok(_refresh(cc_raw, cc_app, tokens["refresh_token"]))  # another app cannot revoke
    missing = cc_raw.post(REVOKE, data={}, auth=basic(cc_app))
    assert missing.status_code == 400 and "token" in missing.json()["error_description"]


# -- the token endpoint's 1 request/second limit ------------------------------------------------
def test_token_endpoint_allows_one_request_per_second_per_client(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    tokens = tokens_via_code_flow(cc_raw, cc_app)  # with limits off
    other = create_app(
        cc_sandbox.state, cc_sandbox.clock.now(), name="Other", redirect_uris=[REDIRECT_URI]
    )
    other_code = get_code(cc_raw, other)
    cc_sandbox.state.settings.rate_limits = True
    cc_sandbox.advance_clock(2)  # a fresh one-second window
    refreshed = _ok(_refresh(cc_raw, cc_app, tokens["refresh_token"]))
    throttled = _refresh(cc_raw, cc_app, refreshed["refresh_token"])
    assert throttled.status_code == 429
    assert throttled.json()["error"] == "rate_limited"
    assert throttled.json()["error_description"]
    assert exchange(cc_raw, other, other_code).status_code == 200  # counted per client_id
    cc_sandbox.advance_clock(1.01)
    # The throttled request consumed nothing: the refresh token is still good.
    assert _ok(_refresh(cc_raw, cc_app, refreshed["refresh_token"]))


def test_token_endpoint_limit_is_off_when_rate_limits_are_off(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    token = tokens_via_code_flow(cc_raw, cc_app)["refresh_token"]
    for _ in range(5):
        token = _ok(_refresh(cc_raw, cc_app, token))["refresh_token"]
