"""The device flow (CC-V3-FACTS §1.2 item 4; RFC 8628 polling errors)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from ccbridge.sandbox import Sandbox
from ccbridge.sandbox.seed import create_app
from ccbridge.sandbox.state import AccountData, App
from ccbridge.testing.oauth_flow import (
    BANNER,
    DEVICE_AUTHORIZE,
    DEVICE_PAGE,
    TOKEN,
    follow,
    form_of,
    sign_in,
    submit,
)

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _start(client: httpx.Client, app: App, scope: str = "contact_data offline_access") -> Any:
    response = client.post(DEVICE_AUTHORIZE, data={"client_id": app.client_id, "scope": scope})
    assert response.status_code == 200, response.text
    return response.json()


def _poll(client: httpx.Client, app: App, device_code: str) -> httpx.Response:
    # CC's example sends everything in the query string (CC-V3-FACTS §1.2).
    return client.post(
        TOKEN,
        params={"client_id": app.client_id, "device_code": device_code, "grant_type": DEVICE_GRANT},
    )


def _error(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    error: str = response.json()["error"]
    return error


def _approve(client: httpx.Client, user_code: str, account: AccountData, allow: bool) -> None:
    response = client.post(
        "/_sandbox/device/approve",
        json={"user_code": user_code, "account_id": account.account.account_id, "allow": allow},
    )
    assert response.status_code == 200, response.text


def test_device_authorize_returns_the_documented_fields(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App
) -> None:
    grant = _start(cc_raw, cc_app)
    assert set(grant) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", grant["user_code"])
    assert grant["verification_uri"] == cc_sandbox.base_url + DEVICE_PAGE
    assert grant["verification_uri_complete"] == (
        f"{grant['verification_uri']}?user_code={grant['user_code']}"
    )
    assert grant["expires_in"] == cc_sandbox.state.settings.device_code_lifetime
    assert grant["interval"] == cc_sandbox.state.settings.device_poll_interval


def test_device_authorize_accepts_query_parameters(cc_raw: httpx.Client, cc_app: App) -> None:
    response = cc_raw.post(
        DEVICE_AUTHORIZE, params={"client_id": cc_app.client_id, "scope": "contact_data"}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"


def test_device_authorize_needs_an_enabled_known_client_and_known_scopes(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App
) -> None:
    disabled = create_app(
        cc_sandbox.state,
        cc_sandbox.clock.now(),
        name="No device",
        redirect_uris=[],
        device_flow=False,
    )
    response = cc_raw.post(
        DEVICE_AUTHORIZE, data={"client_id": disabled.client_id, "scope": "contact_data"}
    )
    assert _error(response) == "unauthorized_client"
    missing = cc_raw.post(DEVICE_AUTHORIZE, data={"scope": "contact_data"})
    assert missing.status_code == 401 and "client_id" in missing.json()["error_description"]
    unknown = cc_raw.post(DEVICE_AUTHORIZE, data={"client_id": "nope", "scope": "contact_data"})
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    bad_scope = cc_raw.post(
        DEVICE_AUTHORIZE, data={"client_id": cc_app.client_id, "scope": "contact_data everything"}
    )
    assert _error(bad_scope) == "invalid_scope"


def test_polling_pending_then_slow_down_with_a_longer_interval(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App
) -> None:
    grant = _start(cc_raw, cc_app)
    assert _error(_poll(cc_raw, cc_app, grant["device_code"])) == "authorization_pending"
    too_soon = _poll(cc_raw, cc_app, grant["device_code"])
    assert _error(too_soon) == "slow_down"
    assert "10 seconds" in too_soon.json()["error_description"]
    cc_sandbox.advance_clock(grant["interval"] + 1)  # the old interval is no longer enough
    assert _error(_poll(cc_raw, cc_app, grant["device_code"])) == "slow_down"
    cc_sandbox.advance_clock(grant["interval"] + 5 + 5)  # 15 s after that poll
    assert _error(_poll(cc_raw, cc_app, grant["device_code"])) == "authorization_pending"


def test_approval_on_the_page_yields_tokens_once(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    grant = _start(cc_raw, cc_app)
    page = cc_raw.get(grant["verification_uri_complete"].removeprefix(cc_sandbox.base_url))
    assert page.status_code == 200 and BANNER in page.text
    page = sign_in(cc_raw, page)
    assert "contact_data" in page.text and cc_app.name in page.text
    done = submit(cc_raw, page, "consent", decision="allow")
    assert done.status_code == 200 and "connected" in done.text
    cc_sandbox.advance_clock(grant["interval"])
    response = _poll(cc_raw, cc_app, grant["device_code"])
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 86_400
    assert tokens["refresh_token"] and tokens["scope"] == "contact_data offline_access"
    cc_sandbox.advance_clock(grant["interval"])
    assert _error(_poll(cc_raw, cc_app, grant["device_code"])) == "invalid_grant"
    # Device clients have no secret: their refresh token works with the client_id alone.
    refreshed = cc_raw.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": cc_app.client_id,
        },
    )
    assert refreshed.status_code == 200, refreshed.text


def test_typing_the_code_by_hand_on_the_page(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    grant = _start(cc_raw, cc_app)
    entry = cc_raw.get(DEVICE_PAGE)
    assert form_of(entry, "code")
    typed = grant["user_code"].replace("-", "").lower()  # people type it any way
    login = submit(cc_raw, entry, "code", user_code=typed)
    assert form_of(login, "login").fields["user_code"] == grant["user_code"]
    consent_page = sign_in(cc_raw, login)
    assert submit(cc_raw, consent_page, "consent", decision="deny").status_code == 200
    cc_sandbox.advance_clock(grant["interval"])
    assert _error(_poll(cc_raw, cc_app, grant["device_code"])) == "access_denied"


def test_a_wrong_code_on_the_page_is_explained(cc_raw: httpx.Client, cc_app: App) -> None:
    response = cc_raw.get(DEVICE_PAGE, params={"user_code": "ZZZZ-ZZZZ"})
    assert response.status_code == 400
    assert "not valid" in response.text
    assert form_of(response, "code").fields["user_code"] == "ZZZZ-ZZZZ"


def test_signed_in_browser_goes_straight_to_consent(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    first = _start(cc_raw, cc_app)
    page = sign_in(cc_raw, cc_raw.get(DEVICE_PAGE, params={"user_code": first["user_code"]}))
    submit(cc_raw, page, "consent", decision="allow")
    second = _start(cc_raw, cc_app)
    page = cc_raw.get(DEVICE_PAGE, params={"user_code": second["user_code"]})
    assert form_of(page, "consent")


@pytest.mark.parametrize(("allow", "expected"), [(True, 200), (False, "access_denied")])
def test_control_plane_approval(
    cc_sandbox: Sandbox,
    cc_raw: httpx.Client,
    cc_app: App,
    cc_account: AccountData,
    allow: bool,
    expected: object,
) -> None:
    grant = _start(cc_raw, cc_app)
    _approve(cc_raw, grant["user_code"], cc_account, allow)
    response = _poll(cc_raw, cc_app, grant["device_code"])
    if expected == 200:
        assert response.status_code == 200 and response.json()["access_token"]
    else:
        assert _error(response) == expected


def test_device_code_expires(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    grant = _start(cc_raw, cc_app)
    cc_sandbox.advance_clock(grant["expires_in"] + 1)
    assert _error(_poll(cc_raw, cc_app, grant["device_code"])) == "expired_token"
    page = cc_raw.get(DEVICE_PAGE, params={"user_code": grant["user_code"]})
    assert page.status_code == 400  # too late to approve


def test_device_code_of_another_client_or_unknown_is_invalid_grant(
    cc_sandbox: Sandbox, cc_raw: httpx.Client, cc_app: App
) -> None:
    grant = _start(cc_raw, cc_app)
    other = create_app(cc_sandbox.state, cc_sandbox.clock.now(), name="Other", redirect_uris=[])
    assert _error(_poll(cc_raw, other, grant["device_code"])) == "invalid_grant"
    assert _error(_poll(cc_raw, cc_app, "made-up")) == "invalid_grant"
    missing = cc_raw.post(TOKEN, data={"grant_type": DEVICE_GRANT, "client_id": cc_app.client_id})
    assert _error(missing) == "invalid_request"
    assert "device_code" in missing.json()["error_description"]


def test_after_page_login_the_device_page_redirects_back_to_the_code(
    cc_raw: httpx.Client, cc_app: App, cc_account: AccountData
) -> None:
    grant = _start(cc_raw, cc_app)
    login = cc_raw.get(DEVICE_PAGE, params={"user_code": grant["user_code"]})
    posted = submit(cc_raw, login, "login", email="owner@example.com", password="sandbox-password")
    assert posted.status_code == 303
    assert grant["user_code"] in posted.headers["location"]
    assert form_of(follow(cc_raw, posted), "consent")
